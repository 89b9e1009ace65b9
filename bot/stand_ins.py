"""Dense sentence featurizers that see the names of some lookup tables as one stand-in word.

"only L'Oreal Paris" is encoded as "only Brand": the intent classifier, which works from sentence
vectors, then does not depend on which of the catalog's brands a shopper names. Training keeps the
names of the tables named in ``stand_ins`` (lookup table -> its one-word stand-in); a subclass
encodes the messages (``process``), calling ``with_stand_ins`` on the text of its sentence vector.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.lookup_names import keep_names, kept_names, names_pattern


class StandInFeaturizer(DenseFeaturizer, GraphComponent):
    """A dense featurizer with stand-in words for lookup names; subclasses implement ``process``."""

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
        self._model_storage = model_storage
        self._resource = resource
        self.names = names or {}
        self._patterns = [(names_pattern(self.names[table]), word)
                          for table, word in self._config["stand_ins"].items() if self.names.get(table)]

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> StandInFeaturizer:
        return cls(config, execution_context.node_name, model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> StandInFeaturizer:
        """The featurizer with the names its training kept."""
        return cls(config, execution_context.node_name, model_storage, resource, kept_names(model_storage, resource))

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """The batch size must be positive and every stand-in one word."""
        if int(config.get("batch_size", 1)) < 1:
            raise ValueError(f"{cls.__name__}: batch_size must be at least 1")
        for table, word in (config.get("stand_ins") or {}).items():
            if not isinstance(word, str) or not re.fullmatch(r"\w+", word):
                raise ValueError(f"{cls.__name__}: the stand-in for {table!r} must be one word, not {word!r}")

    def train(self, training_data: TrainingData) -> Resource:
        """Keep the names of the lookup tables named in ``stand_ins``, for use at inference."""
        keep_names(training_data, self._config["stand_ins"], self._model_storage, self._resource)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    @abstractmethod
    def process(self, messages: list[Message]) -> list[Message]:
        """Add the features to every message that has tokenized text."""

    def with_stand_ins(self, text: str) -> str:
        """The text with every name of a replaced lookup table turned into its stand-in word."""
        for pattern, word in self._patterns:
            text = pattern.sub(word, text)
        return text
