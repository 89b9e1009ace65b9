"""The shop's policies (issue 21, item 2): the Markdown file split by heading, the section that answers a
question found with the real encoders, "I don't know" below the floor, the vectors cached per file
content, and the action that answers from them. The file is the demo shop's data/shop/policies.md (and
its Chinese translation)."""

from __future__ import annotations


import numpy as np
import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ActionClarify
from actions.policies import ActionAnswerPolicy
from actions.shop import ActionOutOfScope
from recommender import config
from recommender.policies import Policies, PolicyFileError, Reader, split_passages, translation
from recommender.text.encoder import TextEncoder
from tests.test_actions import DOMAIN, EMPTY_SLOTS, injected, shop  # noqa: F401  (a fixture)

DEMO = config.SHIPPED_POLICIES


class Counting:
    """The real MiniLM, counting the texts it encodes."""

    def __init__(self) -> None:
        self.encoder, self.texts = TextEncoder(), 0
        self.model_id = self.encoder.model_id

    def encode(self, texts, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.texts += len(texts)
        return self.encoder.encode(texts)

    @property
    def reading(self) -> list[Reader]:
        """The one reader of a file: this encoder, ranking and judging."""
        return [Reader(self, self, judges=True)]


def test_the_file_is_split_by_its_level_two_headings_into_plain_sentences():
    passages = split_passages("""# Our shop
An introduction, not a policy.

## Shipping *and* delivery
We ship to **Canada**. See [the carriers](https://example.com)!
- Free over $50.
### Express
Next day.

## Empty

## 退货
签收后30天内可以退货。请保留包装。

## Contact
Write to _customer_care@shop.example_ or see __shop.example/help_center__.
""")
    assert [(p.section, p.sentences) for p in passages] == [
        ("Shipping and delivery",
         ("We ship to Canada.", "See the carriers!", "Free over $50.", "Express", "Next day.")),
        ("退货", ("签收后30天内可以退货。", "请保留包装。")),
        ("Contact", ("Write to customer_care@shop.example or see shop.example/help_center.",))]
    assert passages[1].text == "签收后30天内可以退货。请保留包装。"


@pytest.fixture(scope="module")
def english(tmp_path_factory) -> Policies:
    return Policies.for_language(DEMO, "en", tmp_path_factory.mktemp("policies"))


@pytest.mark.parametrize("question,section,quoted", [
    ("do you ship to canada?", "Shipping", "Canada"),
    ("how long do I have to return something?", "Returns", "30 days"),
    ("can I pay with paypal", "Payment methods", "PayPal"),
])
def test_a_question_the_policies_answer_gets_its_section_and_a_short_quote(english, question, section, quoted):
    answer = english.answer(question)
    assert answer is not None and answer.section == section and quoted in answer.quote
    [passage] = [p for p in english.passages if p.section == section]
    assert answer.quote == " ".join(s for s in passage.sentences if s in answer.quote)  # its own sentences,
    assert len(passage.sentences) > 2 and answer.quote.count(". ") <= 1                 # two at most


@pytest.mark.parametrize("question", ["are your products vegan?", "do you have a store in Paris?", "tell me a joke"])
def test_a_question_they_do_not_answer_gets_none(english, question):
    assert english.answer(question) is None


def test_a_chinese_question_is_answered_from_the_chinese_file(tmp_path):
    chinese = Policies.for_language(DEMO, "zh", tmp_path)
    assert translation(DEMO, "zh").name == "policies.zh.md" and translation(DEMO, "fr") == DEMO
    answer = chinese.answer("退货期限是多久")
    assert answer is not None and answer.section == "退货" and "30" in answer.quote
    assert chinese.answer("你们有实体店吗") is None


def test_the_vectors_are_encoded_once_per_file_content(tmp_path):
    policy = tmp_path / "policies.md"
    policy.write_text("## Returns\nReturn anything within 30 days.\n", encoding="utf-8")
    counting = Counting()
    Policies.load_or_build(policy, counting.reading, tmp_path / "cache")
    assert counting.texts == 3                                          # the passage, its sentence, its heading
    Policies.load_or_build(policy, counting.reading, tmp_path / "cache")
    assert counting.texts == 3                                          # the cache
    policy.write_text("## Returns\nReturn anything within 60 days.\n", encoding="utf-8")
    changed = Policies.load_or_build(policy, counting.reading, tmp_path / "cache", floor=-1.0)
    assert counting.texts == 6                                          # a new content: encoded again
    assert changed.answer("return window?").quote == "Return anything within 60 days."


def test_a_file_without_sections_or_missing_is_a_clear_error(tmp_path):
    flat = tmp_path / "policies.md"
    flat.write_text("We ship everywhere. Returns within 30 days.\n", encoding="utf-8")
    with pytest.raises(PolicyFileError, match="has no '## ' section"):
        Policies.load_or_build(flat, Counting().reading, tmp_path)
    with pytest.raises(PolicyFileError, match="cannot read the policy file"):
        Policies.load_or_build(tmp_path / "missing.md", Counting().reading, tmp_path)


def test_the_demo_policies_are_the_demo_catalogs_and_a_shop_names_its_own(monkeypatch, tmp_path):
    monkeypatch.delenv("SHOPBOT_POLICIES", raising=False)
    assert config.policies_path(str(config.SHIPPED_PRODUCTS)) == DEMO
    assert config.policies_path(str(tmp_path / "shop.csv")) is None      # a shop's own catalog: none of the demo's
    monkeypatch.setenv("SHOPBOT_POLICIES", str(tmp_path / "ours.md"))
    assert config.policies_path(str(config.SHIPPED_PRODUCTS)) == tmp_path / "ours.md"
    monkeypatch.setenv("SHOPBOT_POLICIES", "none")
    assert config.policies_path(str(config.SHIPPED_PRODUCTS)) is None


def ask(text: str, language: str = "en", action: Action = ActionAnswerPolicy(), intent: str = "ask_policy") -> dict:
    """The one message ``action`` answers ``text`` with, the NLU having read it as ``intent``."""
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": [],
              "intent_ranking": [{"name": intent, "confidence": 0.9}]}
    dispatcher = CollectingDispatcher()
    action.run(dispatcher, Tracker("s", {**EMPTY_SLOTS, "language": language}, latest, [], False, None, {},
                                   "action_listen"), DOMAIN)
    [message] = dispatcher.messages
    return message


def test_the_action_quotes_the_section_or_offers_a_person(monkeypatch, shop, tmp_path):
    monkeypatch.setenv("SHOPBOT_POLICIES", str(DEMO))
    for _ in injected(shop, tmp_path):
        answer = ask("do you ship to canada?")
        assert (answer["response"], answer["section"]) == ("utter_policy_answer", "Shipping")
        assert "Canada" in answer["quote"]
        assert ask("退货期限是多久", "zh")["section"] == "退货"
        assert ask("are your products vegan?")["response"] == "utter_policy_unknown"
    monkeypatch.setenv("SHOPBOT_POLICIES", "none")                       # a shop without a policy file
    for _ in injected(shop, tmp_path):
        assert ask("do you ship to canada?")["response"] == "utter_policy_unknown"


@pytest.mark.parametrize("action,intent,otherwise", [(ActionOutOfScope(), "out_of_scope", "text"),
                                                      (ActionClarify(), "nlu_fallback", "utter_clarify")])
def test_a_message_the_nlu_could_not_place_is_answered_from_the_policies_when_they_answer_it(
        monkeypatch, shop, tmp_path, action, intent, otherwise):
    """Out of scope or not understood ("what time do you close": the NLU's examples are any shop's, the opening
    hours this shop's): the section quoted; else the action's own reply."""
    monkeypatch.setenv("SHOPBOT_POLICIES", str(DEMO))
    for _ in injected(shop, tmp_path):
        answer = ask("what time do you close", action=action, intent=intent)
        assert (answer["response"], answer["section"]) == ("utter_policy_answer", "Contact and opening hours")
        assert ask("包裹里东西少了", "zh", action, intent)["section"] == "商品损坏或发错"
        unplaced = ask("can you book me a flight to Paris?", action=action, intent=intent)
        assert unplaced.get("response") != "utter_policy_answer" and (unplaced.get("response") or "text") == otherwise
    monkeypatch.setenv("SHOPBOT_POLICIES", "none")                       # a shop without a policy file
    for _ in injected(shop, tmp_path):
        assert (ask("what time do you close", action=action, intent=intent).get("response") or "text") == otherwise


def test_an_unreadable_cache_file_is_encoded_again(tmp_path):
    policy = tmp_path / "policies.md"
    policy.write_text("## Payment\nWe take cards and PayPal.\n", encoding="utf-8")
    counting = Counting()
    Policies.load_or_build(policy, counting.reading, tmp_path)
    [cached] = (tmp_path / "policies").glob("*.npy")
    cached.write_bytes(b"not numpy")                                     # a broken or foreign file
    assert Policies.load_or_build(policy, counting.reading, tmp_path, floor=-1.0).answer("paypal?").section == "Payment"
    assert counting.texts == 3 + 3 + 1 and len(list((tmp_path / "policies").iterdir())) == 1
