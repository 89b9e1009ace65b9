"""The intent classifier: a logistic regression on the sentence vectors (issue 23)."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.intent_classifier import LogisticIntentClassifier
from recommender.text.multilingual import MultilingualEncoder

EXAMPLES = {
    "greet": ["hello", "hi there", "good morning", "hey", "你好", "早上好", "hallo", "bonjour"],
    "checkout": ["check out please", "i want to pay", "place my order", "proceed to payment", "结账", "我要付款",
                 "zur Kasse", "je veux payer"],
    "view_cart": ["what's in my cart", "show my basket", "how many items did i pick", "cart total", "看看购物车",
                  "购物车里有什么", "mein Warenkorb", "mon panier"],
}


def _featurized(texts: list[str], intents: list[str] | None = None) -> list[Message]:
    vectors = MultilingualEncoder().encode(texts)
    messages = []
    for i, (text, vector) in enumerate(zip(texts, vectors)):
        message = Message(data={TEXT: text, **({"intent": intents[i]} if intents else {})})
        message.add_features(Features(vector[None, :], "sentence", TEXT, "multilingual"))
        messages.append(message)
    return messages


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> LogisticIntentClassifier:
    config = LogisticIntentClassifier.get_default_config()
    storage, resource = LocalModelStorage(tmp_path_factory.mktemp("model")), Resource("intents")
    context = ExecutionContext(GraphSchema({}), "intents")
    intents = [intent for intent, texts in EXAMPLES.items() for _ in texts]
    examples = _featurized([t for texts in EXAMPLES.values() for t in texts], intents)
    LogisticIntentClassifier.create(config, storage, resource, context).train(TrainingData(examples))
    return LogisticIntentClassifier.load(config, storage, resource, context)


def test_new_messages_in_several_languages_get_their_intent_with_a_confident_ranking(classifier):
    texts = ["hiya", "您好呀", "let me pay now", "去结算", "what have i put in the cart", "我的购物车"]
    messages = classifier.process(_featurized(texts))
    assert [m.get("intent")["name"] for m in messages] == ["greet", "greet", "checkout", "checkout",
                                                           "view_cart", "view_cart"]
    for message in messages:
        ranking = message.get("intent_ranking")
        assert [r["name"] for r in ranking][0] == message.get("intent")["name"]
        assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0, abs=1e-6)
        assert ranking[0]["confidence"] > 0.5  # above the fallback's threshold in config.yml (0.4)


def test_c_is_picked_by_cross_validation_from_the_grid(classifier):
    assert classifier.clf.C in LogisticIntentClassifier.get_default_config()["C"]  # the grid's best, refit on all
