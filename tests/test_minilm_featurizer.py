"""The NLU featurizer that gives DIET the MiniLM sentence and token vectors (issue 4)."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.minilm_featurizer import MiniLMFeaturizer, token_vectors
from recommender.encoder import EMBEDDING_DIM, Pieces, TextEncoder


def test_a_token_gets_the_mean_of_the_pieces_it_overlaps():
    # "hi maybeline": pieces "hi" | "may" "##bel" "##ine"
    vectors = np.arange(4 * EMBEDDING_DIM, dtype=np.float32).reshape(4, EMBEDDING_DIM)
    pieces = Pieces(np.zeros(EMBEDDING_DIM, np.float32), vectors, np.array([[0, 2], [3, 6], [6, 9], [9, 12]]))
    tokens = [Token("hi", 0), Token("maybeline", 3), Token("beyond", 13)]
    out = token_vectors(tokens, pieces)
    np.testing.assert_array_equal(out[0], vectors[0])
    np.testing.assert_array_equal(out[1], vectors[1:].mean(axis=0))
    assert not out[2].any()  # past the model's limit: zeros


@pytest.mark.slow
def test_messages_get_a_sentence_vector_and_one_vector_per_token():
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    featurizer = MiniLMFeaturizer({**MiniLMFeaturizer.get_default_config(), "alias": "minilm"}, "minilm")
    texts = ["maybelline mascara under $10", "what's good for dry skin?"]
    messages = tokenizer.process([Message(data={TEXT: t}) for t in texts])
    featurizer.process(messages)
    expected = TextEncoder().encode(texts)
    for message, sentence in zip(messages, expected):
        seq, sent = message.get_dense_features(TEXT)
        assert seq.features.shape == (len(message.get("text_tokens")), EMBEDDING_DIM)
        assert (np.abs(seq.features).sum(axis=1) > 0).all()
        np.testing.assert_allclose(sent.features[0], sentence, atol=1e-5)
