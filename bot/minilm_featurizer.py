"""A Rasa NLU featurizer giving the meaning of a message: all-MiniLM-L6-v2 sentence and token vectors.

Rasa's own ``LanguageModelFeaturizer`` cannot run in this venv (transformers 5 has no TensorFlow
models), so this component calls the project's packaged sentence encoder (``recommender.encoder``)
instead. It adds, for the message text:

- a sentence feature: the model's unit sentence embedding, shape (1, 384), which the intent
  classifier (``SklearnIntentClassifier`` in config.yml) works from;
- sequence features: per Rasa token, the mean of the vectors of the word pieces it overlaps,
  shape (tokens, 384) (zeros for a token past the model's 256-piece limit), which DIET's entity
  recognition uses beside the sparse features.

Used in ``config.yml`` after the tokenizer, as ``bot.minilm_featurizer.MiniLMFeaturizer``. It has
nothing to train; the model is loaded once per process, on the first message.
"""

from __future__ import annotations

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

from recommender.encoder import EMBEDDING_DIM, Pieces, TextEncoder

TOKENS = "text_tokens"  # where Rasa's tokenizers put the tokens of the text


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class MiniLMFeaturizer(DenseFeaturizer, GraphComponent):
    """Dense sentence and token features from the packaged all-MiniLM-L6-v2."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "batch_size": 64}

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self.encoder = TextEncoder()

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> MiniLMFeaturizer:
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Nothing to validate beyond the batch size, which must be positive."""
        if int(config.get("batch_size", 1)) < 1:
            raise ValueError("MiniLMFeaturizer: batch_size must be at least 1")

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Add the features to every message that has tokenized text."""
        todo = [m for m in messages if m.get(TEXT) and m.get(TOKENS)]
        encoded = self.encoder.encode_pieces([m.get(TEXT) for m in todo], batch_size=self._config["batch_size"])
        for message, pieces in zip(todo, encoded):
            self.add_features_to_message(sequence=token_vectors(message.get(TOKENS), pieces),
                                         sentence=pieces.sentence[None, :], attribute=TEXT, message=message)
        return messages


def token_vectors(tokens: list[Token], pieces: Pieces) -> np.ndarray:
    """Per token, the mean vector of the word pieces whose character span overlaps it: (tokens, dim)."""
    out = np.zeros((len(tokens), EMBEDDING_DIM), dtype=np.float32)
    starts, ends = pieces.spans[:, 0], pieces.spans[:, 1]
    for i, token in enumerate(tokens):
        overlap = (starts < token.end) & (ends > token.start)
        if overlap.any():
            out[i] = pieces.vectors[overlap].mean(axis=0)
    return out
