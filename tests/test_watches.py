"""Watches: "tell me when it's back in stock" / "... when it drops under 40" kept per shopper, listed and
cancelled; `shopbot catalog update FILE` changing price and stock in place (variants too, bad rows named,
strict changing nothing, an open catalog seeing the change); each due watch fired once, given back when it
could not be sent. The outdoor-shop fixture through the importer, the actions with real trackers and a
real shopper store, and the CLI."""

from __future__ import annotations

import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from recommender import Catalog, ShopStore
from recommender.catalog.update import update_catalog
from recommender.errors import CatalogImportError
from recommender.watches import ON_RETURN_CHANNELS, WatchNotSent, fire_due
from tests.test_dialogue_actions import Conversation
from tests.test_order_conversations import responses
from tests.test_variants import MAPPING, outdoor, shopper  # noqa: F401  (fixtures)

UPDATE = "sku,price,stock\nSOCK-2,,6\nSTOVE,39.00,\nTEE-4,40.00,\nNOPE,1,1\nTEE,1,1\nBOOT-42,$3,\n"


@pytest.fixture
def shop_copy(outdoor, tmp_path) -> Path:
    """A copy of the outdoor catalog a test may change."""
    path = tmp_path / "catalog.db"
    shutil.copy(outdoor[1].catalog.path, path)
    return path


def test_an_update_changes_price_and_stock_in_place_and_names_its_bad_rows(shop_copy, tmp_path) -> None:
    (tmp_path / "today.csv").write_text(UPDATE)
    with Catalog.open(shop_copy) as catalog:  # open before the update, as a running server's
        assert catalog.filter_ids(in_stock=True).count("SOCK") == 0
        report = update_catalog(shop_copy, tmp_path / "today.csv", mapping=MAPPING)
        assert report.changed == {"SOCK-2": [("stock", 0, 6)], "STOVE": [("price", 45.0, 39.0)],
                                  "TEE-4": [("price", 42.0, 40.0)]}
        assert [(e.line, e.reason.split(":")[0]) for e in report.errors] == [
            (5, "unknown product 'NOPE'"), (6, "'TEE' is sold in several options"),
            (7, "price '$3' is in USD, but this catalog's prices are in EUR (set by --currency)")]
        assert "SOCK" in catalog.filter_ids(in_stock=True)  # the open catalog sees it
        socks, tee = catalog.get_products(["SOCK", "TEE"])
        assert (socks.stock, socks.in_stock, tee.price, tee.variants[3].price) == (6, True, 39.0, 40.0)
        assert catalog.fingerprint() == catalog.meta()["fingerprint"]  # nothing to rebuild


def test_a_strict_update_with_a_bad_row_changes_nothing(shop_copy, tmp_path) -> None:
    (tmp_path / "today.csv").write_text(UPDATE)
    before = sqlite3.connect(shop_copy).execute("SELECT id, price, stock FROM products ORDER BY id").fetchall()
    with pytest.raises(CatalogImportError, match="nothing updated"):
        update_catalog(shop_copy, tmp_path / "today.csv", mapping=MAPPING, strict=True)
    assert sqlite3.connect(shop_copy).execute("SELECT id, price, stock FROM products ORDER BY id").fetchall() == before


def test_the_cli_updates_and_says_what_it_changed(shop_copy, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SHOPBOT_STORE", str(tmp_path / "no-store.db"))  # no shopper yet: nothing to fire
    (tmp_path / "today.csv").write_text("sku,stock\nJKT-M,in stock\n")
    result = CliRunner().invoke(cli, ["catalog", "update", str(tmp_path / "today.csv"), "--column", "id=sku",
                                      "--db", str(shop_copy)])
    assert result.exit_code == 0, result.output
    assert "Updated 1 product" in result.output and "(price of 0, stock of 1)" in result.output
    assert not (tmp_path / "no-store.db").exists()


def test_due_watches_fire_once_and_one_not_sent_fires_later(shop_copy, tmp_path) -> None:
    sent: list[tuple[str, str]] = []
    with ShopStore.open(tmp_path / "shop.db") as store, Catalog.open(shop_copy) as catalog:
        store.watch("alice", "SOCK", "in_stock", "callback", days=30)
        store.watch("bob", "STOVE", "price", "telegram", days=30, target=Decimal("40"))
        store.watch("bob", "JKT", "price", "telegram", days=30, target=Decimal("100"))

        def send(watch, product) -> None:
            if watch.shopper_id == "alice" and not sent:
                sent.append(("refused", product.id))
                raise WatchNotSent("the assistant did not answer")
            sent.append((watch.shopper_id, product.id))

        assert fire_due(store, catalog, send).sent == []  # nothing came true yet
        (tmp_path / "today.csv").write_text(UPDATE)
        update_catalog(shop_copy, tmp_path / "today.csv", mapping=MAPPING)
        fired = fire_due(store, catalog, send)
        assert [w.shopper_id for w in fired.sent] == ["bob"] and [w.shopper_id for w, _ in fired.failed] == ["alice"]
        assert [w.product_id for w in fire_due(store, catalog, send).sent] == ["SOCK"]  # given back, sent now
        assert fire_due(store, catalog, send).sent == []  # once each
        assert sent == [("refused", "SOCK"), ("bob", "STOVE"), ("alice", "SOCK")]
        assert [w.product_id for w in store.watches("bob")] == ["JKT"]


def test_a_web_widget_watch_waits_for_its_shopper_to_come_back(shop_copy, tmp_path) -> None:
    sent: list[tuple[str, str]] = []
    with ShopStore.open(tmp_path / "shop.db") as store, Catalog.open(shop_copy) as catalog:
        store.watch("web:carol", "SOCK", "in_stock", "socketio", days=30)
        store.watch("web:dave", "SOCK", "in_stock", "socketio", days=30)
        store.watch("rest:erin", "SOCK", "in_stock", "rest", days=30)
        (tmp_path / "today.csv").write_text(UPDATE)
        update_catalog(shop_copy, tmp_path / "today.csv", mapping=MAPPING)
        send = lambda watch, product: sent.append((watch.shopper_id, product.id))  # noqa: E731
        assert fire_due(store, catalog, send).sent == []                        # pushed: none of these
        returning = fire_due(store, catalog, send, ON_RETURN_CHANNELS, "web:carol")
        assert [w.shopper_id for w in returning.sent] == ["web:carol"] and sent == [("web:carol", "SOCK")]
        assert fire_due(store, catalog, send, ON_RETURN_CHANNELS, "web:carol").sent == []  # once
        assert [w.shopper_id for w in store.pending_watches()] == ["web:dave", "rest:erin"]


def test_a_shopper_keeps_lists_and_cancels_watches(shopper) -> None:
    conversation, store = shopper
    said = conversation.say("watch_product", "tell me when the socks are back", product_id="SOCK")
    assert said[0]["watch"] == ("I'll message you here when Wool Hiking Socks is back in stock (for the next 30 days). "
                                "I can't message you on this channel later: ask me \"what am I watching?\" and I'll "
                                "say which came true.")  # a REST conversation
    said = conversation.say("watch_product", "tell me when the stove drops under 40", product_id="STOVE",
                            price_max="40")
    assert said[0]["watch"].startswith(
        "I'll message you here when Pocket Camping Stove costs €40 or less (it's €45")
    said = conversation.say("watch_product", "tell me when it gets cheaper", product_id="BOTTLE")
    assert "Insulated Steel Bottle costs €23.99 or less" in said[0]["watch"]
    assert responses(conversation.say("watch_product", "tell me when it's under 50", product_id="STOVE",
                                      price_max="50")) == ["utter_watch_already"]
    assert [(w.product_id, w.kind, w.target, w.channel) for w in store.watches(conversation.sender)] == [
        ("SOCK", "in_stock", None, "rest"), ("STOVE", "price", Decimal("40.00"), "rest"),
        ("BOTTLE", "price", Decimal("23.99"), "rest")]
    listed = conversation.say("list_watches", "what am I watching?")
    assert listed[0]["watches"].split("\n")[1] == "2. Pocket Camping Stove: when it costs €40 or less"
    assert "3 watches" in conversation.say("my_data", "what do you know about me?")[0]["kept"]
    cancelled = conversation.say("cancel_watch", "cancel the second one", ordinal="second")
    assert cancelled[0]["watches"] == "Pocket Camping Stove: when it costs €40 or less"
    assert responses(conversation.say("cancel_watch", "cancel my alert")) == ["utter_which_watch"]  # two left
    conversation.say("product_details", "tell me about the bottle", product_id="BOTTLE")
    assert responses(conversation.say("cancel_watch", "cancel my alert")) == ["utter_watch_cancelled"]  # in focus
    assert [w.product_id for w in store.watches(conversation.sender)] == ["SOCK"]
    store.watch(conversation.sender, "STOVE", "price", "rest", days=30, target=Decimal("50"))  # true already
    assert conversation.say("list_watches", "my alerts")[0]["watches"].split("\n") == [
        "1. Wool Hiking Socks: when it is back in stock",
        "2. Pocket Camping Stove: when it costs €50 or less (true now)"]
    conversation.say("forget_me", "forget me", action="action_forget_me")
    assert store.kept(conversation.sender)["watches"] == 0


def test_a_watch_that_came_true_tells_the_shopper_in_their_language(shopper) -> None:
    conversation, _ = shopper
    conversation.slots["language"] = "zh"
    news = conversation.say("watch_fired", "", product_id="SOCK", watch_kind="in_stock")
    assert news[0]["news"].startswith("好消息：Wool Hiking Socks到货了")
    assert news[0]["custom"]["products"][0]["id"] == "SOCK"
    assert conversation.slots["focus_product_id"] == "SOCK"
