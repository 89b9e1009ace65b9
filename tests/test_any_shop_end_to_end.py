"""End to end on a shop that is not the demo: a fashion catalog in rupees, imported as a shop would.

The action server serves tests/fixtures/catalogs/fashion_inr.csv (no category column: product types
from the titles; facets gender and colour; no shopper histories, so no collaborative model) with
the set-up's Rasa model, over real HTTP. Every product shown is checked against the SQLite file
for every constraint the conversation set, facets included; prices must read in rupees. (That the
demo catalog's assistant lists nothing for running shoes is in test_end_to_end.py, whose servers
serve the shipped catalog.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.servers import Assistant
from recommender import import_catalog
from tests.test_catalog_facets import FASHION, FASHION_MAPPING

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fashion_shop(tmp_path_factory: pytest.TempPathFactory, store_path: Path,
                 trained_model: Path) -> Iterator[tuple[Assistant, sqlite3.Connection]]:
    """The assistant serving the fashion catalog (its own catalog file and cache), and that file read-only."""
    folder = tmp_path_factory.mktemp("fashion-shop")
    import_catalog(FASHION, folder / "catalog.db", mapping=FASHION_MAPPING, shop_name="Urban Threads", progress=False)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SHOPBOT_CATALOG", str(folder / "catalog.db"))
        env.setenv("SHOPBOT_CACHE", str(folder / "cache"))
        with Assistant(trained_model, log_dir=folder / "servers") as bot:
            db = sqlite3.connect(f"file:{folder / 'catalog.db'}?mode=ro", uri=True)
            yield bot, db
            db.close()


def cards(replies: list[dict]) -> list[dict]:
    return [p for reply in replies for p in (reply.get("custom") or {}).get("products", [])]


def text(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def facts(db: sqlite3.Connection, product_id: str) -> dict:
    """What the catalog file says of a product: title, brand, category (type), price, facets."""
    title, brand, category, price = db.execute(
        "SELECT title, brand, category, price FROM products WHERE id = ?", (product_id,)).fetchone()
    facets = dict(db.execute("SELECT name, value FROM product_facets WHERE product_id = ?", (product_id,)))
    return {"title": title, "brand": brand, "category": category, "price": price, **facets}


def test_black_jeans_for_women_under_1500_obey_every_constraint(fashion_shop) -> None:
    bot, db = fashion_shop
    replies = bot.send("fashion-jeans", "black jeans for women under 1500")
    shown = cards(replies)
    assert shown, replies
    for card in shown:
        product = facts(db, card["id"])
        assert product["colour"] == "black" and product["gender"] == "women", product
        assert product["price"] is not None and product["price"] <= 1500, product
        assert "jeans" in product["category"], product
        assert card["currency"] == "INR" and card["price_text"].startswith("₹"), card
    assert "₹" in text(replies) and "$" not in text(replies)


def test_a_brand_and_a_facet_stay_across_turns_until_lifted(fashion_shop) -> None:
    bot, db = fashion_shop
    first = cards(bot.send("fashion-shoes", "show me running shoes for men"))
    assert first and all("running shoes" in facts(db, c["id"])["category"] for c in first), first
    assert all(facts(db, c["id"])["gender"] == "men" for c in first)
    puma = cards(bot.send("fashion-shoes", "only Puma"))
    assert puma, "Puma makes men's running shoes in this catalog"
    for card in puma:
        product = facts(db, card["id"])
        assert (product["brand"], product["gender"]) == ("Puma", "men"), product
        assert "running shoes" in product["category"], product


def test_what_the_shop_does_not_carry_lists_nothing_and_names_what_it_has(fashion_shop) -> None:
    bot, db = fashion_shop
    replies = bot.send("fashion-sofa", "show me a three seater sofa")
    assert cards(replies) == [], replies
    reply = text(replies)
    assert "doesn't carry" in reply, reply
    # the largest general product type: the first level of the derived category paths ("jeans", "shoes")
    biggest = db.execute("SELECT substr(category_path, 1, instr(category_path || ' > ', ' > ') - 1) AS kind "
                         "FROM products WHERE category_path IS NOT NULL GROUP BY kind "
                         "ORDER BY count(*) DESC, kind LIMIT 1").fetchone()[0]
    assert biggest.lower() in reply.lower(), reply
