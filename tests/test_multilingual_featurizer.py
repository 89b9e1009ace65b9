"""The NLU featurizer that gives the intent classifier multilingual sentence vectors (issues 16 and 23)."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.multilingual_featurizer import MultilingualFeaturizer
from recommender.text.multilingual import ENCODERS


@pytest.fixture(scope="module", params=sorted(ENCODERS))
def featurizer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> MultilingualFeaturizer:
    config = {**MultilingualFeaturizer.get_default_config(), "alias": "multilingual", "model": request.param,
              "stand_ins": {"brand": "Brand"}}
    storage, resource = LocalModelStorage(tmp_path_factory.mktemp("model")), Resource("multilingual")
    context = ExecutionContext(GraphSchema({}), "multilingual")
    lookups = [{"name": "brand", "elements": ["l'oreal", "l'oreal paris", "essie"]}]
    MultilingualFeaturizer.create(config, storage, resource, context).train(TrainingData(lookup_tables=lookups))
    return MultilingualFeaturizer.load(config, storage, resource, context)


def test_a_message_gets_the_sentence_vector_of_its_text_with_stand_ins_and_no_token_vectors(featurizer):
    texts = ["only L'Oreal Paris mascara", "我想买洗发水", ""]
    messages = featurizer.process([Message(data={TEXT: t}) for t in texts])
    encoder = ENCODERS[featurizer._config["model"]]()
    expected = encoder.encode(["only Brand mascara", "我想买洗发水"])
    for message, vector in zip(messages, expected):
        sequence, sentence = message.get_dense_features(TEXT)
        assert sequence is None and sentence.features.shape == (1, encoder.dim)
        np.testing.assert_allclose(sentence.features[0], vector, atol=1e-6)
    assert messages[2].get_dense_features(TEXT) == (None, None)  # nothing to encode


# e5's cosines lie in a narrow band (unrelated sentences ~0.75), USE's spread out.
@pytest.mark.parametrize("model, margin", [("use", 0.2), ("e5", 0.05)])
def test_a_request_and_its_translations_are_nearer_each_other_than_other_talk(model, margin):
    vectors = ENCODERS[model]().encode(["I want to buy shampoo", "我想买洗发水", "quiero comprar champú",
                                            "ich möchte Shampoo kaufen", "what's the weather like tomorrow"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    similarity = vectors @ vectors[0]
    assert min(similarity[1:4]) > similarity[4] + margin, similarity


def test_the_stand_ins_are_checked_like_the_minilm_featurizers():
    MultilingualFeaturizer.validate_config({"stand_ins": {"brand": "Brand"}})
    with pytest.raises(ValueError, match="MultilingualFeaturizer: the stand-in for 'brand' must be one word"):
        MultilingualFeaturizer.validate_config({"stand_ins": {"brand": "a brand"}})
    with pytest.raises(ValueError, match="MultilingualFeaturizer: model must be one of e5, use, not 'labse'"):
        MultilingualFeaturizer.validate_config({"model": "labse"})
