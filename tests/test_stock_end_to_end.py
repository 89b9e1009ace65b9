"""End to end, stock and prices: the assistant serving tests/fixtures/catalogs/electronics_eur.csv (a stock
column, 16 products at 0) with the set-up's Rasa model, over real HTTP between real servers. A listing shows
only what is in stock and says how many it left out; "including out of stock" shows them, marked, in English
and in Chinese; "add the ... one" on a product out of stock adds nothing (checked in the store file); a price
the shop changes while a product is in the cart (`shopbot catalog update`, under the running servers) is
said at checkout, and the order is placed at it only at the next checkout; the catalog and store files are
read with SQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.servers import Assistant
from recommender import import_catalog
from recommender.catalog.update import update_catalog
from tests.test_any_shop_end_to_end import cards, text
from tests.test_catalog_facets import ELECTRONICS, ELECTRONICS_MAPPING

pytestmark = pytest.mark.slow
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


@pytest.fixture(scope="module")
def electronics_shop(tmp_path_factory: pytest.TempPathFactory, store_path: Path,
                     trained_model: Path) -> Iterator[tuple[Assistant, set[str], Path, Path]]:
    """The assistant serving the electronics catalog (the shop's Chinese name of its televisions: 电视), the ids it
    has out of stock, the store file and the catalog file."""
    folder = tmp_path_factory.mktemp("electronics-shop")
    (folder / "types.csv").write_text("alias,category\n电视,Televisions\n", encoding="utf-8")
    import_catalog(ELECTRONICS, folder / "catalog.db", mapping=ELECTRONICS_MAPPING, category_aliases=folder / "types.csv",
                   progress=False)
    with sqlite3.connect(folder / "catalog.db") as db:
        sold_out = {pid for (pid,) in db.execute("SELECT id FROM products WHERE stock = 0")}
    db.close()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SHOPBOT_CATALOG", str(folder / "catalog.db"))
        env.setenv("SHOPBOT_CACHE", str(folder / "cache"))
        with Assistant(trained_model, log_dir=folder / "servers") as bot:
            yield bot, sold_out, store_path, folder / "catalog.db"


def cart_of(store: Path, sender: str) -> list[str]:
    with sqlite3.connect(store) as db:
        return [pid for (pid,) in db.execute("SELECT product_id FROM cart WHERE shopper_id = ?", (sender,))]


def test_listings_leave_out_what_is_sold_out_until_asked_and_never_add_it(electronics_shop) -> None:
    bot, sold_out, store, _ = electronics_shop
    first = bot.send("stock-en", "show me televisions")
    shown = [c["id"] for c in cards(first)]
    assert shown and not sold_out & set(shown), first
    assert "Left out as out of stock:" in text(first), text(first)

    everything = cards(bot.send("stock-en", "including out of stock"))
    marked = [c for c in everything if c["id"] in sold_out]
    assert marked and all(c["in_stock"] is False and c["price_text"].endswith(", out of stock") for c in marked)
    assert all(b["title"] != "Add to cart" for c in marked for b in c["buttons"])

    position = next(c["position"] for c in everything if c["id"] in sold_out)
    refused = bot.send("stock-en", f"add the {ORDINALS[position]} one to my cart")
    assert "out of stock" in text(refused) and cart_of(store, "stock-en") == [], refused


def test_a_chinese_shopper_gets_the_same_in_chinese(electronics_shop) -> None:
    bot, sold_out, _, _ = electronics_shop
    pages = [bot.send("stock-zh", "我想买电视"), bot.send("stock-zh", "还有吗")]  # 19 televisions, 4 sold out
    shown = [c["id"] for page in pages for c in cards(page)]
    assert len(shown) == 10 and not sold_out & set(shown), pages
    assert "Left out" not in text(pages[0] + pages[1])  # what was left out, if anything, is said in Chinese
    pages = [bot.send("stock-zh", "缺货的也给我看看"), bot.send("stock-zh", "还有吗"), bot.send("stock-zh", "还有吗")]
    marked = [c for page in pages for c in cards(page) if c["id"] in sold_out]
    assert marked and all(c["price_text"].endswith("，缺货") and not c["in_stock"] for c in marked), pages


def test_a_price_changed_since_the_cart_is_said_at_checkout_and_ordered_only_when_asked_again(
        electronics_shop, tmp_path: Path) -> None:
    bot, _, store, catalog = electronics_shop
    found = bot.send("price-en", "show me kettles")
    kettle = next((c for c in cards(found) if c["id"] == "EL-1826"), None)
    assert kettle and kettle["price"] == 59.99, found
    bot.send("price-en", f"add the {ORDINALS[kettle['position']]} one to my cart")
    assert cart_of(store, "price-en") == ["EL-1826"]
    (tmp_path / "today.csv").write_text("sku,price\nEL-1826,\"64,99 €\"\n")
    update_catalog(catalog, tmp_path / "today.csv", mapping=ELECTRONICS_MAPPING)  # the servers keep running
    refused = text(bot.send("price-en", "checkout"))
    assert "prices changed since you added them: Bosch TWK7203 Styline Kettle 1.7 L now €64.99 (was €59.99)" \
        in refused, refused
    placed = bot.send("price-en", "checkout")
    order = next(r["custom"]["order"] for r in placed if (r.get("custom") or {}).get("order"))
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT product_id, unit_price_cents FROM order_items WHERE order_id = ?",
                          (order["id"],)).fetchall() == [("EL-1826", 6499)]
    db.close()
