"""A Rasa NLU featurizer giving a message's meaning in many languages: a multilingual sentence vector.

Adds one sentence feature, shape (1, dim), from the encoder of ``recommender.text.multilingual`` its
``model`` setting names ("use": Universal Sentence Encoder multilingual v3, 512 dimensions; "e5":
multilingual-e5-small, 384), the text's lookup names first replaced by their stand-in words
(``bot.stand_ins``). The intent classifier works from them beside the MiniLM sentence vector: a
request in Chinese, Spanish, French or German lands near its English meaning (the measurements are
in config.yml). No sequence features: DIET's entities use the other featurizers (its ``featurizers``
list in config.yml).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.stand_ins import StandInFeaturizer
from recommender.text.multilingual import ENCODERS


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class MultilingualFeaturizer(StandInFeaturizer):
    """A dense sentence feature from a packaged multilingual encoder."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**StandInFeaturizer.get_default_config(), "model": "use"}  # model: a key of ENCODERS

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """The stand-ins as for every stand-in featurizer, and a known model."""
        super().validate_config(config)
        if config.get("model", "use") not in ENCODERS:
            raise ValueError(f"{cls.__name__}: model must be one of {', '.join(sorted(ENCODERS))}, "
                             f"not {config.get('model')!r}")

    def process(self, messages: list[Message]) -> list[Message]:
        """Add the sentence feature to every message that has text."""
        todo = [m for m in messages if m.get(TEXT)]
        encoder = ENCODERS[self._config["model"]]()
        vectors = encoder.encode([self.with_stand_ins(m.get(TEXT)) for m in todo], batch_size=self._config["batch_size"])
        for message, vector in zip(todo, vectors):
            self.add_features_to_message(sequence=None, sentence=vector[None, :], attribute=TEXT, message=message)
        return messages
