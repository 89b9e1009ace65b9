"""A Rasa NLU featurizer giving the meaning of a message: all-MiniLM-L6-v2 sentence and token vectors.

Rasa's own ``LanguageModelFeaturizer`` cannot run in this venv (transformers 5 has no TensorFlow
models), so this component calls the project's packaged sentence encoder (``recommender.text.encoder``)
instead. It adds, for the message text:

- a sentence feature: the model's unit sentence embedding, shape (1, 384), which the intent
  classifier (``bot.intent_classifier`` in config.yml) works from, beside the multilingual ones
  (``multilingual_featurizer``). Names from the lookup tables listed in ``stand_ins`` are first
  replaced by one stand-in word (``bot.stand_ins``: "only L'Oreal Paris" is encoded as "only Brand");
- sequence features: per Rasa token, the mean of the vectors of the word pieces it overlaps, from
  the text as typed, shape (tokens, 384) (zeros for a token past the model's 256-piece limit),
  which DIET's entity recognition uses beside the sparse features.

Used in ``config.yml`` after the tokenizer, as ``bot.minilm_featurizer.MiniLMFeaturizer``. The model is
loaded once per process, on the first message.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.stand_ins import StandInFeaturizer
from recommender.text.encoder import EMBEDDING_DIM, Pieces, TextEncoder

TOKENS = "text_tokens"  # where Rasa's tokenizers put the tokens of the text


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class MiniLMFeaturizer(StandInFeaturizer):
    """Dense sentence and token features from the packaged all-MiniLM-L6-v2."""

    def __init__(self, config: dict[str, Any], name: str, model_storage: ModelStorage | None = None,
                 resource: Resource | None = None, names: dict[str, list[str]] | None = None) -> None:
        super().__init__(config, name, model_storage, resource, names)
        self.encoder = TextEncoder()

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


def token_vectors(tokens: list[Token], pieces: Pieces) -> np.ndarray:
    """Per token, the mean vector of the word pieces whose character span overlaps it: (tokens, dim)."""
    out = np.zeros((len(tokens), EMBEDDING_DIM), dtype=np.float32)
    starts, ends = pieces.spans[:, 0], pieces.spans[:, 1]
    for i, token in enumerate(tokens):
        overlap = (starts < token.end) & (ends > token.start)
        if overlap.any():
            out[i] = pieces.vectors[overlap].mean(axis=0)
    return out
