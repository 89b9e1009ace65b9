"""The NLU featurizer that gives DIET the MiniLM sentence and token vectors (issue 4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.minilm_featurizer import MiniLMFeaturizer, token_vectors
from recommender.text.encoder import EMBEDDING_DIM, Pieces, TextEncoder


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


def test_a_stand_in_must_be_one_word():
    MiniLMFeaturizer.validate_config({"stand_ins": {"brand": "Brand"}})
    with pytest.raises(ValueError, match="one word"):
        MiniLMFeaturizer.validate_config({"stand_ins": {"brand": "a brand"}})


@pytest.mark.slow
def test_brand_names_become_the_stand_in_in_the_sentence_vector_only(tmp_path: Path):
    config = {**MiniLMFeaturizer.get_default_config(), "alias": "minilm", "stand_ins": {"brand": "Brand"}}
    storage, resource = LocalModelStorage(tmp_path), Resource("minilm")
    context = ExecutionContext(GraphSchema({}), "minilm")
    lookups = [{"name": "brand", "elements": ["l'oreal", "l'oreal paris", "essie"]},
               {"name": "category", "elements": ["mascara"]}]
    MiniLMFeaturizer.create(config, storage, resource, context).train(TrainingData(lookup_tables=lookups))
    featurizer = MiniLMFeaturizer.load(config, storage, resource, context)
    assert featurizer.names == {"brand": ["essie", "l'oreal", "l'oreal paris"]}  # kept; categories not asked for

    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    texts = ["only L'Oreal Paris mascara", "essie or l'oreal?", "what's good for dry skin?"]
    messages = featurizer.process(tokenizer.process([Message(data={TEXT: t}) for t in texts]))
    encoder = TextEncoder()
    sentences = encoder.encode(["only Brand mascara", "Brand or Brand?", "what's good for dry skin?"])
    for message, sentence, pieces in zip(messages, sentences, encoder.encode_pieces(texts)):
        seq, sent = message.get_dense_features(TEXT)
        np.testing.assert_allclose(sent.features[0], sentence, atol=1e-5)
        np.testing.assert_allclose(seq.features, token_vectors(message.get("text_tokens"), pieces), atol=1e-5)
