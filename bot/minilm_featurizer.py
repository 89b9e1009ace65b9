"""A Rasa NLU featurizer giving the meaning of a message: all-MiniLM-L6-v2 sentence and token vectors.

Rasa's own ``LanguageModelFeaturizer`` cannot run in this venv (transformers 5 has no TensorFlow
models), so this component calls the project's packaged sentence encoder (``recommender.text.encoder``)
instead. It adds, for the message text:

- a sentence feature: the model's unit sentence embedding, shape (1, 384), which the intent
  classifier (``SklearnIntentClassifier`` in config.yml) works from. Names from the lookup tables
  listed in ``stand_ins`` are first replaced by one stand-in word ("only L'Oreal Paris" is encoded as
  "only Brand"), so the intent does not depend on which of the catalog's brands a shopper names;
- sequence features: per Rasa token, the mean of the vectors of the word pieces it overlaps, from
  the text as typed, shape (tokens, 384) (zeros for a token past the model's 256-piece limit),
  which DIET's entity recognition uses beside the sparse features.

Used in ``config.yml`` after the tokenizer, as ``bot.minilm_featurizer.MiniLMFeaturizer``. Training
only keeps the names of the lookup tables it replaces; the model is loaded once per process, on the
first message.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.lookup_names import keep_names, kept_names, names_pattern
from recommender.text.encoder import EMBEDDING_DIM, Pieces, TextEncoder

TOKENS = "text_tokens"  # where Rasa's tokenizers put the tokens of the text


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class MiniLMFeaturizer(DenseFeaturizer, GraphComponent):
    """Dense sentence and token features from the packaged all-MiniLM-L6-v2."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # stand_ins: lookup table name -> the word its names become in the sentence vector
        return {**DenseFeaturizer.get_default_config(), "batch_size": 64, "stand_ins": {}}

    def __init__(self, config: dict[str, Any], name: str, model_storage: ModelStorage | None = None,
                 resource: Resource | None = None, names: dict[str, list[str]] | None = None) -> None:
        super().__init__(name, config)
        self.encoder = TextEncoder()
        self._model_storage = model_storage
        self._resource = resource
        self.names = names or {}
        self._patterns = [(names_pattern(self.names[table]), word)
                          for table, word in self._config["stand_ins"].items() if self.names.get(table)]

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> MiniLMFeaturizer:
        return cls(config, execution_context.node_name, model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> MiniLMFeaturizer:
        """The featurizer with the names its training kept."""
        return cls(config, execution_context.node_name, model_storage, resource, kept_names(model_storage, resource))

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """The batch size must be positive and every stand-in one word."""
        if int(config.get("batch_size", 1)) < 1:
            raise ValueError("MiniLMFeaturizer: batch_size must be at least 1")
        for table, word in (config.get("stand_ins") or {}).items():
            if not isinstance(word, str) or not re.fullmatch(r"\w+", word):
                raise ValueError(f"MiniLMFeaturizer: the stand-in for {table!r} must be one word, not {word!r}")

    def train(self, training_data: TrainingData) -> Resource:
        """Keep the names of the lookup tables named in ``stand_ins``, for use at inference."""
        keep_names(training_data, self._config["stand_ins"], self._model_storage, self._resource)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Add the features to every message that has tokenized text."""
        todo = [m for m in messages if m.get(TEXT) and m.get(TOKENS)]
        texts = [m.get(TEXT) for m in todo]
        meant = [self.with_stand_ins(t) for t in texts]
        changed = [i for i, (text, other) in enumerate(zip(texts, meant)) if other != text]
        encoded = self.encoder.encode_pieces(texts + [meant[i] for i in changed],
                                             batch_size=self._config["batch_size"])
        replaced = {i: pieces.sentence for i, pieces in zip(changed, encoded[len(texts):])}
        for i, (message, pieces) in enumerate(zip(todo, encoded)):
            sentence = replaced.get(i, pieces.sentence)
            self.add_features_to_message(sequence=token_vectors(message.get(TOKENS), pieces),
                                         sentence=sentence[None, :], attribute=TEXT, message=message)
        return messages

    def with_stand_ins(self, text: str) -> str:
        """The text with every name of a replaced lookup table turned into its stand-in word."""
        for pattern, word in self._patterns:
            text = pattern.sub(word, text)
        return text


def token_vectors(tokens: list[Token], pieces: Pieces) -> np.ndarray:
    """Per token, the mean vector of the word pieces whose character span overlaps it: (tokens, dim)."""
    out = np.zeros((len(tokens), EMBEDDING_DIM), dtype=np.float32)
    starts, ends = pieces.spans[:, 0], pieces.spans[:, 1]
    for i, token in enumerate(tokens):
        overlap = (starts < token.end) & (ends > token.start)
        if overlap.any():
            out[i] = pieces.vectors[overlap].mean(axis=0)
    return out
