"""Languages (issue 23): each message's language, the slot that keeps it, replies translated from catalogs."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ActionSetLanguage, ActionStartOver
from bot.language import LanguageDetector
from bot.nlg import TranslatingNLG
from recommender import Filters, Product, config, format_price
from recommender.i18n import messages
from recommender.i18n.catalogs import message_ids, update
from recommender.i18n.detect import detect, named_language
from recommender.i18n.text import Text, said
from recommender.ranking import reasons

ROOT = Path(__file__).resolve().parents[1]
DOMAIN_FILE = ROOT / "domain.yml"
PLACEHOLDER = re.compile(r"\{[^{}]+\}")


@pytest.mark.parametrize("text, language", [
    ("我想买洗发水", "zh"), ("只要欧莱雅的", "zh"), ("第二个加入购物车", "zh"), ("结账", "zh"),
    ("je cherche un parfum pour femme", "fr"), ("Ich suche eine Wimperntusche", "de"),
    ("champú por menos de 10 dólares", "es"), ("add the second one to my cart", "en"), ("cheaper please", "en"),
])
def test_a_message_is_read_in_its_language(text, language):
    assert detect(text) == language


@pytest.mark.parametrize("text", ["ok", "2", "hi", "OPI", "Neutrogena", "$10", "show me mascara", "OPI 指甲油",
                                  "iPhone 15 手机壳", "мне нужен шампунь", "สวัสดีครับ ผมอยากซื้อแชมพู", "", "?!"])
def test_short_mixed_unsure_or_unknown_messages_tell_no_language(text):
    assert detect(text) is None


@pytest.mark.parametrize("text, language", [("speak English", "en"), ("说中文", "zh"), ("用英文", "en"),
                                            ("can you reply in chinese?", "zh"), ("bitte auf Deutsch", "de"),
                                            ("i don't read english, use chinese", "zh"),
                                            ("hello there", None)])
def test_a_language_asked_for_by_name(text, language):
    assert named_language(text) == language


def _processed(text: str, intent: str = "search_products", entities: list | None = None) -> list[dict]:
    message = Message(data={TEXT: text, INTENT: {"name": intent, "confidence": 0.9}, ENTITIES: entities or []})
    LanguageDetector().process([message])
    return [e for e in message.get(ENTITIES) if e["entity"] == "language"]


def test_the_nlu_step_tags_the_language_written_or_asked_for_and_nothing_on_a_short_message():
    assert [e["value"] for e in _processed("我想买洗发水")] == ["zh"]
    assert [e["value"] for e in _processed("please speak chinese", intent="set_language")] == ["zh"]
    assert [e["value"] for e in _processed("reply in English please", intent="set_language")] == ["en"]
    assert _processed("ok") == [] and _processed("OPI 指甲油") == []
    already = [{"entity": "language", "value": "en", "start": 0, "end": 2}]
    assert [e["value"] for e in _processed("说中文", entities=already)] == ["en"]  # one language entity, not two


@pytest.fixture(scope="module")
def nlg() -> TranslatingNLG:
    return TranslatingNLG(domain=Domain.load(str(DOMAIN_FILE)))


def test_every_text_of_the_replies_has_a_chinese_text_with_the_same_placeholders():
    """domain.yml's responses and buttons, and every text the code marks for translation."""
    ids, chinese = message_ids(), messages.catalog("zh")
    assert len(ids) > 80 and {"Bye! Happy shopping.", '"only {brand}"', " It has {carried}."} <= set(ids)
    assert sorted(t for t in ids if t not in chinese) == []
    for text in ids:
        assert sorted(PLACEHOLDER.findall(chinese[text])) == sorted(PLACEHOLDER.findall(text)), text
        if re.search(r"[a-z]", PLACEHOLDER.sub("", text)):  # words, not only a placeholder
            assert re.search(r"[\u4e00-\u9fff]", chinese[text]), text


def test_updating_a_catalog_keeps_its_translations_adds_new_texts_and_drops_unused_ones(tmp_path: Path):
    (tmp_path / "actions").mkdir()
    (tmp_path / "actions" / "a.py").write_text('x = translate("Hello {name}", lang)\ny = N_("New text")\n')
    (tmp_path / "domain.yml").write_text(yaml.safe_dump({"responses": {"utter_bye": [
        {"text": "Bye!", "buttons": [{"title": "Yes", "payload": "/affirm"}]}]}}))
    (tmp_path / "locale").mkdir()
    (tmp_path / "locale" / "fr.po").write_bytes(
        'msgid "Bye!"\nmsgstr "Au revoir !"\n\nmsgid "Gone"\nmsgstr "Parti"\n'.encode())
    assert update("fr", tmp_path, tmp_path / "locale") == (4, 3)
    assert messages.read_translations(tmp_path / "locale" / "fr.po") == {"Bye!": "Au revoir !"}
    assert set(message_ids(tmp_path)) == {"Bye!", "Yes", "Hello {name}", "New text"}
    assert message_ids(tmp_path)["Hello {name}"] == ["actions/a.py:1"]


def test_replies_follow_the_language_slot_and_stay_english_without_a_catalog(nlg):
    english = nlg.generate_from_slots("utter_language_unavailable", {"language": "en"}, "rest", languages="English, 中文")
    chinese = nlg.generate_from_slots("utter_language_unavailable", {"language": "zh"}, "rest", languages="English, 中文")
    spanish = nlg.generate_from_slots("utter_language_unavailable", {"language": "es"}, "rest", languages="English, 中文")
    assert english["text"] == "Sorry, I can only reply in English, 中文."
    assert chinese["text"] == messages.catalog("zh")["Sorry, I can only reply in {languages}."].format(
        languages="English, 中文")
    assert spanish == english and nlg.generate_from_slots("utter_language_set", {}, "rest")["text"] == \
        "OK, I'll reply in English from now on."
    assert (english["language"], chinese["language"], spanish["language"]) == ("en", "zh", "en")  # the text's


def test_a_channel_variant_is_translated_too(nlg):
    response = nlg.generate_from_slots("utter_search_results", {"language": "zh"}, "telegram", summary="")
    assert response["text"] == messages.catalog("zh")["Here's what I found{summary}:"].format(summary="")


def _asked(code: str | None) -> list[dict]:
    entities = [{"entity": "language", "value": code}] if code else []
    latest = {"text": "…", "intent": {"name": "set_language", "confidence": 0.9}, "entities": entities}
    dispatcher = CollectingDispatcher()
    ActionSetLanguage().run(dispatcher, Tracker("s", {"language": code}, latest, [], False, None, {}, None), {})
    return dispatcher.messages


def test_asking_for_a_language_confirms_it_or_names_the_languages_the_replies_can_be_in():
    assert [m["response"] for m in _asked("zh")] == ["utter_language_set"]
    assert [m["response"] for m in _asked("en")] == ["utter_language_set"]
    for code in ("de", None):
        [message] = _asked(code)
        assert message["response"] == "utter_language_unavailable"
        assert message["languages"] == "English, 中文"


def test_the_shop_offers_english_and_chinese_unless_it_says_otherwise(monkeypatch, nlg):
    assert messages.offered() == ("en", "zh")
    monkeypatch.setenv("SHOPBOT_LANGUAGES", "en")                 # an English-only shop: Chinese is read,
    assert messages.offered() == ("en",)                          # answered in English
    chinese_slot = nlg.generate_from_slots("utter_cart_empty", {"language": "zh"}, "rest")
    assert chinese_slot == nlg.generate_from_slots("utter_cart_empty", {"language": "en"}, "rest")
    assert format_price(10, "USD", "zh") == "$10" and messages.join(["a", "b"], "zh") == "a and b"
    [message] = _asked("zh")
    assert (message["response"], message["languages"]) == ("utter_language_unavailable", "English")
    monkeypatch.setenv("SHOPBOT_LANGUAGES", " ZH, de ,xx")         # English always; codes without texts ignored
    assert messages.offered() == ("en", "zh")


def _said_after(language: str | None, before: str | None) -> list[str | None]:
    """The responses of an action answering a message in ``language``, the conversation's language
    having been ``before``."""
    events = [*([{"event": "slot", "name": "language", "value": before}] if before else []),
              {"event": "user", "text": "…"}, {"event": "slot", "name": "language", "value": language}]
    latest = {"text": "…", "intent": {"name": "start_over", "confidence": 0.9}, "entities": []}
    dispatcher = CollectingDispatcher()
    ActionStartOver().run(dispatcher, Tracker("s", {"language": language}, latest, events, False, None, {}, None), {})
    return [m["response"] for m in dispatcher.messages]


def test_a_switch_to_a_language_the_replies_cannot_be_in_is_answered_in_english_said_once():
    assert _said_after("es", None) == ["utter_language_unavailable", "utter_started_over"]
    assert _said_after("es", "zh") == ["utter_language_unavailable", "utter_started_over"]
    assert _said_after("es", "es") == ["utter_started_over"]      # said once: not again while it lasts
    assert _said_after("zh", "en") == _said_after("en", None) == ["utter_started_over"]


def test_the_translations_command_refuses_what_is_not_a_language_code():
    from click.testing import CliRunner

    from bot.cli import cli

    result = CliRunner().invoke(cli, ["translations", "xx-yy"])
    assert result.exit_code == 2 and "'xx-yy' is not a language code Babel knows" in result.output


def test_the_chinese_readme_gives_the_english_readmes_commands_and_links_to_files_that_exist():
    """README.zh-CN.md is kept in step with README.md: each line of its code blocks is a line of the
    English README (the two commands among them), and each file it links to exists."""
    english = (config.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    chinese = (config.REPO_ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    lines = {line.strip() for block in re.findall(r"```[a-z]*\n(.*?)```", chinese, re.S) for line in block.splitlines()}
    assert {line for line in lines if line.startswith(("make chat", "make test"))} and \
        [line for line in lines - {""} if line not in {row.strip() for row in english.splitlines()}] == []
    links = [target for target in re.findall(r"\]\(([^)#]+)", chinese) if "://" not in target]
    assert links and [target for target in links if not (config.REPO_ROOT / target).exists()] == []
    assert "[简体中文](README.zh-CN.md)" in english


def test_a_reason_is_its_english_text_and_is_said_in_the_shoppers_language():
    """The ranker's reasons stay English strings (logs, tests, English replies) and carry what another
    language needs: the template, the names as the shop wrote them, prices as that language writes them."""
    product = Product(id="p1", title="Moisturising Shampoo", brand="L'Oreal Paris", category="Shampoos",
                      category_path=("Hair Care", "Shampoos"), price=8.0, facets=(("colour", "black"),))
    why = (reasons.matches(["dry hair", "shampoo"]), reasons.bought_it(40, popular=True),
           *reasons.filter_reasons(product, Filters("Shampoos", "L'Oreal Paris", price_max=10,
                                                    facets={"colour": "black"}), "USD"))
    assert list(why) == ["matches 'dry hair' and 'shampoo'", "popular: 40 shoppers bought it", "L'Oreal Paris, as asked",
                         "in Shampoos, as asked", "black, as asked", "under your $10 budget"]
    assert [said(w, "zh") for w in why] == ["符合“dry hair”和“shampoo”", "热门：40位顾客买过", "L'Oreal Paris，按您的要求",
                                            "属于Shampoos，按您的要求", "black，按您的要求", "低于您US$10.00的预算"]
    assert [said(w, "es") for w in why] == list(why)                # no Spanish texts: English, prices too
    assert said("a plain string", "zh") == "a plain string"
    kept = pickle.loads(pickle.dumps(why[-1]))                      # as a slot or a process boundary keeps it
    assert isinstance(kept, Text) and kept.said("zh") == "低于您US$10.00的预算"


@pytest.mark.parametrize("value, currency, language, shown", [
    (1299, "CNY", "zh", "¥1,299.00"), (20, "USD", "zh", "US$20.00"), (1299, "USD", None, "$1,299"),
    (20.5, "USD", "en", "$20.50"), (1299, "EUR", "es", "€1,299"), (1050, "AED", None, "AED 1,050"),
])
def test_prices_are_written_as_the_language_of_the_reply_writes_them(value, currency, language, shown):
    assert format_price(value, currency, language) == shown


def test_the_forget_reply_says_what_was_deleted_in_the_shoppers_language():
    from actions import services
    from actions.account import describe_deleted

    forgotten = services.Forgotten({"cart": 2, "orders": 1, "order_items": 3, "feedback": 1, "events": 5}, 4)
    assert describe_deleted(forgotten) == ("your cart (2 products), 1 order (3 lines), 1 like or dislike, "
                                           "5 activity records, 4 past purchases and this conversation")
    assert describe_deleted(forgotten, "zh") == ("您的购物车（2 件商品）、1 个订单（3 行）、1 条喜欢或不喜欢、5 条活动记录、"
                                                 "4 条购买记录和这段对话")
    pending = services.Forgotten(forgotten.rows, None, ("catalog",))
    assert describe_deleted(pending, "zh").endswith("在商品目录可以写入之前它们暂时留在那里，之后也会被删除")
