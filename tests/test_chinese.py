"""Chinese prices, references and "cheaper" read as the usual entities (issue 23)."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from actions.prices import parse_price
from actions.references import positions
from bot.chinese_entities import ChineseEntityExtractor, chinese_entities
from recommender.i18n.chinese import ordinals, relative_price
from recommender.ranking.prices import currency_in, zh_number, zh_prices
from recommender.ranking.query import parse_query


@pytest.mark.parametrize("text, expected", [
    ("100元以下", [("price_max", 100, "CNY")]),
    ("不超过50块", [("price_max", 50, "CNY")]),
    ("50到100元之间", [("price_min", 50, "CNY"), ("price_max", 100, "CNY")]),
    ("五十元左右", [("price_max", 50, "CNY")]),
    ("10美元以下的口红", [("price_max", 10, "USD")]),
    ("300块以上的包", [("price_min", 300, "CNY")]),
    ("预算两百", [("price_max", 200, None)]),
    ("一千五以内的手机", [("price_max", 1500, None)]),
    ("200-500的耳机", [("price_min", 200, None), ("price_max", 500, None)]),
    ("¥99以内", [("price_max", 99, "CNY")]),
])
def test_chinese_price_phrases_give_the_side_amount_and_currency(text, expected):
    assert [(p.entity, p.amount, p.currency) for p in zh_prices(text)] == expected


@pytest.mark.parametrize("text", ["第二个加入购物车", "买2个", "iPhone 15 手机壳", "一块肥皂", "SPF50以上的防晒", "前两个都要"])
def test_numbers_that_are_not_prices_set_none(text):
    assert zh_prices(text) == []


@pytest.mark.parametrize("numeral, value", [("五十", 50), ("两百", 200), ("一千五", 1500), ("三百五", 350),
                                            ("一百零五", 105), ("十五", 15), ("两万", 20000), ("1.5万", 15000)])
def test_chinese_numerals(numeral, value):
    assert zh_number(numeral) == value


def test_the_currency_a_chinese_text_writes():
    assert [currency_in(t) for t in ("100元以下", "10美元以下", "二十欧元左右", "一块肥皂", "便宜的刀", "不超过50")] == [
        "CNY", "USD", "EUR", None, None, None]
    assert [currency_in(t) for t in ("预算300 RMB", "300rmb以内", "Farmbrook soap")] == ["CNY", "CNY", None]


@pytest.mark.parametrize("text, listed, expected", [
    ("第二个", 5, [2]), ("第2款加入购物车", 5, [2]), ("前两个都要", 5, [1, 2]), ("最后一个", 5, [5]),
    ("最后两件", 5, [4, 5]), ("倒数第二个", 5, [4]), ("这俩比一比", 5, [1, 2]), ("3号", 5, [3]),
    ("第一个和第三个", 5, [1, 3]),
])
def test_chinese_references_name_the_positions_the_actions_resolve(text, listed, expected):
    assert positions([m.value for m in ordinals(text)], listed) == expected


def test_no_reference_in_a_text_without_one():
    assert ordinals("最后，帮我结账") == [] and ordinals("有没有100元以下的耳机") == []


@pytest.mark.parametrize("text, direction", [("便宜一点", "lower"), ("再实惠点的", "lower"), ("太贵了", "lower"),
                                             ("贵一点的", "higher"), ("来点高端的", "higher"), ("第二个", None)])
def test_cheaper_and_pricier(text, direction):
    assert (relative_price(text).value if relative_price(text) else None) == direction


def test_the_nlu_step_adds_the_entities_a_chinese_message_names_and_keeps_what_the_model_tagged():
    messages = [Message(data={TEXT: "第二个有没有100元以下的"}), Message(data={TEXT: "under $10"}),
                Message(data={TEXT: "只要$20以内的", ENTITIES: [{"entity": "price_max", "value": "$20", "start": 2,
                                                                "end": 5, "extractor": "DIETClassifier"}]})]
    first, english, tagged = ChineseEntityExtractor().process(messages)

    assert [(e["entity"], e["value"], first.get(TEXT)[e["start"]:e["end"]], e["extractor"])
            for e in first.get(ENTITIES)] == [("price_max", "100", "100元以下", "ChineseEntityExtractor"),
                                               ("ordinal", "2", "第二个", "ChineseEntityExtractor")]
    assert english.get(ENTITIES, []) == []                       # English text: DIET's job
    assert [e["extractor"] for e in tagged.get(ENTITIES)] == ["DIETClassifier"]
    assert [parse_price(e["value"]) for e in chinese_entities("五十到一百块")] == [50.0, 100.0]


@pytest.mark.parametrize("text, words", [
    ("我想买mascara，10美元以下", ("mascara",)), ("有没有100元以下的洗发水", ("洗发水",)),
    ("50到100元之间的耳机", ("耳机",)), ("OPI指甲油", ("opi", "指甲油")), ("不超过50块的T恤", ("t恤",)),
])
def test_a_chinese_query_searches_without_its_price_phrase_and_fillers(text, words):
    assert parse_query(text, max_chars=200).terms == words
