"""End to end, variants: the assistant serving tests/fixtures/catalogs/variants_outdoor.csv (rows sharing a
parent id, options size and colour, some sold out) with the set-up's Rasa model, over real HTTP between
real servers. "Add it" on a product sold in several options asks which, with a button per option in
stock; a typed answer ("large", "the second one", "第二个"), whatever intent the NLU gives it, adds that
option; an option out of stock is refused with what is available; the store and order files are read with SQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.servers import Assistant
from recommender import import_catalog
from tests.test_any_shop_end_to_end import cards, text
from tests.test_stock_end_to_end import ORDINALS, cart_of
from tests.test_variants import MAPPING
from tests.test_actions import FIXTURES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def outdoor_shop(tmp_path_factory: pytest.TempPathFactory, store_path: Path,
                 trained_model: Path) -> Iterator[tuple[Assistant, Path]]:
    """The assistant serving the outdoor shop (its Chinese names of two product types), and the store file."""
    folder = tmp_path_factory.mktemp("outdoor-shop")
    (folder / "types.csv").write_text("alias,category\n登山靴,Hiking Boots\nT恤,T-Shirts\n", encoding="utf-8")
    import_catalog(FIXTURES / "variants_outdoor.csv", folder / "catalog.db", mapping=MAPPING, currency="EUR",
                   category_aliases=folder / "types.csv", progress=False)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SHOPBOT_CATALOG", str(folder / "catalog.db"))
        env.setenv("SHOPBOT_CACHE", str(folder / "cache"))
        with Assistant(trained_model, log_dir=folder / "servers") as bot:
            yield bot, store_path


def position_of(replies: list[dict], product_id: str) -> int:
    return next(c["position"] for c in cards(replies) if c["id"] == product_id)


def buttons(replies: list[dict]) -> list[str]:
    return [b["payload"] for reply in replies for b in reply.get("buttons") or []]


def test_add_asks_which_option_and_a_typed_answer_or_a_button_adds_it(outdoor_shop) -> None:
    bot, store = outdoor_shop
    found = bot.send("var-en", "show me merino t-shirts")
    asked = bot.send("var-en", f"add the {ORDINALS[position_of(found, 'TEE')]} one to my cart")
    assert "Which one of Merino Trail T-Shirt: S / Black (€39), L / Black (€39), XL / Black (€42) or " \
           "M / Olive (€39)? Out of stock: M / Black." in text(asked), asked
    assert buttons(asked) == [f'/add_to_cart{{"product_id": "{pid}"}}' for pid in ("TEE-1", "TEE-3", "TEE-4", "TEE-5")]
    assert cart_of(store, "var-en") == []
    added = bot.send("var-en", "large")
    assert "Merino Trail T-Shirt (L / Black)" in text(added) and cart_of(store, "var-en") == ["TEE-3"], added

    bot.send("var-en", "add it to my cart")  # the T-shirt is still in focus: asked again
    bot.send("var-en", buttons(asked)[3])  # the shopper presses "M / Olive"
    assert sorted(cart_of(store, "var-en")) == ["TEE-3", "TEE-5"]
    placed = bot.send("var-en", "checkout")
    order = next(r["custom"]["order"] for r in placed if (r.get("custom") or {}).get("order"))
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT product_id, title, unit_price_cents FROM order_items WHERE order_id = ? "
                          "ORDER BY position", (order["id"],)).fetchall()
    db.close()
    assert sorted(rows) == [("TEE-3", "Merino Trail T-Shirt (L / Black)", 3900),
                            ("TEE-5", "Merino Trail T-Shirt (M / Olive)", 3900)]


def test_an_option_out_of_stock_is_refused_with_what_is_available(outdoor_shop) -> None:
    bot, store = outdoor_shop
    found = bot.send("var-out", "rain jackets")
    asked = bot.send("var-out", f"add the {ORDINALS[position_of(found, 'JKT')]} one to my cart")
    assert "Which size of Stormline Rain Jacket: L? Out of stock: S and M." in text(asked), asked
    refused = bot.send("var-out", "medium please")
    assert "Sorry, out of stock: M." in text(refused) and "Which size of Stormline Rain Jacket: L?" in text(refused)
    assert cart_of(store, "var-out") == []
    bot.send("var-out", "the first one")  # the first (only) button
    assert cart_of(store, "var-out") == ["JKT-L"]


def test_a_chinese_shopper_chooses_by_position(outdoor_shop) -> None:
    bot, store = outdoor_shop
    found = bot.send("var-zh", "我想买登山靴")
    assert cards(found)[0]["id"] == "BOOT", found
    asked = bot.send("var-zh", "第一个加入购物车")
    assert "Ridge Mid Hiking Boots要哪个size：41" in text(asked) and "缺货：43。" in text(asked), asked
    bot.send("var-zh", "第二个")
    assert cart_of(store, "var-zh") == ["BOOT-42"]
