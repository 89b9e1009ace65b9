"""Languages through the trained model and the real servers (issue 23): the replies follow the language
the shopper writes in or asks for, and a message that tells no language keeps the conversation's."""

from __future__ import annotations

import sqlite3
import statistics

import pytest

from actions.shop import ShopWords
from bot.servers import Assistant
from recommender import Catalog, config
from recommender.i18n.messages import catalog

pytestmark = pytest.mark.slow


def text_of(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def test_the_replies_follow_the_language_written_or_asked_for(assistant: Assistant) -> None:
    chinese = catalog("zh")
    with Catalog.open(config.catalog_path()) as shop:
        greeting = {language: ShopWords.of(shop, language).greeting() for language in ("en", "zh")}
    assert text_of(assistant.send("lang-1", "说中文")) == chinese["OK, I'll reply in English from now on."]
    assert text_of(assistant.send("lang-1", "hi")) == greeting["zh"]          # one word: still Chinese
    assert text_of(assistant.send("lang-1", "hello there, good evening")) == greeting["en"]  # English now
    assert text_of(assistant.send("lang-1", "请用中文回答")) == chinese["OK, I'll reply in English from now on."]
    bye = {chinese["Bye! Happy shopping."], chinese["See you next time. Good luck with your shopping!"]}
    assert text_of(assistant.send("lang-1", "bye")) in bye
    assert text_of(assistant.send("lang-2", "bye")) in {"Bye! Happy shopping.",    # another conversation: English
                                                        "See you next time. Good luck with your shopping!"}


def test_a_language_without_replies_gets_english_and_the_list_of_languages(assistant: Assistant) -> None:
    assert text_of(assistant.send("lang-3", "bitte auf Deutsch")) == "Sorry, I can only reply in English, 中文."


def test_a_chinese_shopper_sets_a_price_and_a_brand_and_puts_the_second_product_in_the_cart(
        assistant: Assistant, catalog_db: sqlite3.Connection) -> None:
    """"10美元以下" is the price filter "under $10", "美宝莲" the shop's alias of Maybelline, "第二个" the
    second product listed (bot/chinese_entities.py, the brand aliases of the shipped catalog)."""
    def listed(replies: list[dict]) -> list[tuple[str, str, float]]:
        ids = [p["id"] for reply in replies for p in (reply.get("custom") or {}).get("products", [])]
        return [(i, *catalog_db.execute("SELECT brand, price FROM products WHERE id = ?", [i]).fetchone()) for i in ids]

    shown = listed(assistant.send("lang-4", "我想买mascara，10美元以下"))
    assert len(shown) >= 2 and all(price <= 10 for _, _, price in shown), shown
    shown = listed(assistant.send("lang-4", "只要美宝莲的"))
    assert len(shown) >= 2 and all(brand == "Maybelline" and price <= 10 for _, brand, price in shown), shown

    assistant.send("lang-4", "第二个加入购物车")
    replies = assistant.send("lang-4", "看看购物车")
    cart = next(r["custom"]["cart"] for r in replies if "cart" in (r.get("custom") or {}))
    assert [line["id"] for line in cart["lines"]] == [shown[1][0]]


@pytest.mark.parametrize("sender,messages", [
    ("lang-5", ["我想买洗发水", "只要欧莱雅的", "便宜一点", "第二个加入购物车", "结账"]),
    ("lang-6", ["I want to buy shampoo", "only L'Oreal", "cheaper please", "add the second one to my cart",
                "checkout"]),
])
def test_a_shopper_finds_shampoo_narrows_it_to_a_brand_and_a_lower_price_and_buys_the_second_one(
        assistant: Assistant, catalog_db: sqlite3.Connection, sender: str, messages: list[str]) -> None:
    """Issue 23's conversation and its English twin: "洗发水" is the shop's alias of the category Shampoos,
    "欧莱雅" of L'Oreal Paris; every product shown is checked against every constraint in force, in the
    catalog file, and the order holds the second product of the last list at its catalog price."""
    def shown(replies: list[dict]) -> list[tuple[str, str, str, float]]:
        ids = [p["id"] for reply in replies for p in (reply.get("custom") or {}).get("products", [])]
        return [(i, *catalog_db.execute("SELECT brand, category_path, price FROM products WHERE id = ?", [i]).fetchone())
                for i in ids]

    search, brand, cheaper, add, checkout = messages
    listed = shown(assistant.send(sender, search))
    assert len(listed) >= 2 and all("Shampoos" in path.split(" > ") for _, _, path, _ in listed), listed
    listed = shown(assistant.send(sender, brand))
    assert len(listed) >= 2 and all(b == "L'Oreal Paris" and "Shampoos" in path.split(" > ")
                                    for _, b, path, _ in listed), listed
    median = statistics.median(price for *_, price in listed)                 # "cheaper": under the median shown
    listed = shown(assistant.send(sender, cheaper))
    assert len(listed) >= 2 and all(b == "L'Oreal Paris" and "Shampoos" in path.split(" > ") and price < median
                                    for _, b, path, price in listed), (median, listed)

    assistant.send(sender, add)
    order = next(r["custom"]["order"] for r in assistant.send(sender, checkout) if "order" in (r.get("custom") or {}))
    assert [(line["id"], line["quantity"], line["unit_price"]) for line in order["lines"]] == [
        (listed[1][0], 1, pytest.approx(listed[1][3]))]
