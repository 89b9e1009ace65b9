"""After checkout, through the actions with real trackers, a real shopper store and the shop's catalog:
where an order is, what was bought, cancel (asked first, only before it ships), return (asked first,
only a delivered order within the return window), buy again, and a shopper who names another's order.
What each conversation changed is checked in the store file with SQL."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from actions import services
from recommender.store import ShopStore
from tests.test_actions import DOMAIN, shop  # noqa: F401  (fixture)
from tests.test_dialogue_actions import Conversation
from tests.test_order_status import Clock

START = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock():
    at = Clock()
    at.now = START
    return at


@pytest.fixture
def store(shop, tmp_path, clock):  # noqa: F811 (the fixture of the same name)
    opened = ShopStore.open(tmp_path / "shop.db", clock=clock)
    services.use(shop, opened)
    yield opened
    services.use(None)
    opened.close()


def sql(store: ShopStore, query: str, *params) -> list[tuple]:
    with sqlite3.connect(store.path) as conn:
        return conn.execute(query, params).fetchall()


def ordered(chat: Conversation, *ordinals: str) -> str:
    """Search, add the products at these positions, check out; returns the order number shown ("#1")."""
    chat.say("search_products", "mascara", category="mascara")
    for position in ordinals:
        chat.say("add_to_cart", f"add number {position}", ordinal=position)
    placed = chat.say("checkout", "checkout")[0]
    assert placed["response"] == "utter_order_placed"
    return placed["order_id"]


def responses(messages: list[dict]) -> list[str]:
    return [m.get("response") for m in messages]


def test_no_orders_yet(store):
    chat = Conversation("new")
    for intent in ("order_status", "order_history", "cancel_order", "return_item", "reorder"):
        assert responses(chat.say(intent, "my order")) == ["utter_no_orders"]


def test_where_an_order_is_follows_the_shops_status_with_its_note(store, clock):
    chat = Conversation("ann")
    number = ordered(chat, "1", "2")
    status = chat.say("order_status", "where is my order?")[0]
    assert status["response"] == "utter_order_status" and status["order_id"] == number
    assert status["status"] == "placed" and status["summary"].startswith("2 items, $")
    assert status["history"] == "- 1 Dec 2026: placed"

    clock.now += timedelta(days=1)
    store.set_order_status(int(number[1:]), "shipped", note="tracking 1Z999")
    status = chat.say("order_status", "has it shipped?")[0]
    assert status["status"] == "shipped"
    assert status["history"].splitlines() == ["- 1 Dec 2026: placed", "- 2 Dec 2026: shipped (tracking 1Z999)"]

    chat.slots["language"] = "zh"
    status = chat.say("order_status", "我的订单到哪了")[0]
    assert status["status"] == "已发货" and "已下单" in status["history"]


def test_history_lists_the_last_orders_lines_and_the_earlier_orders(store):
    chat = Conversation("bo")
    first = ordered(chat, "1")
    second = ordered(chat, "2", "1")
    history = chat.say("order_history", "what did I buy last time?")[0]
    assert history["order_id"] == second and history["status"] == "placed"
    titles = [t for (t,) in sql(store, "SELECT title FROM order_items WHERE order_id = ? ORDER BY position",
                                int(second[1:]))]
    assert [row.split(": ")[0] for row in history["lines"].splitlines()] == [f"1. {titles[0]}", f"2. {titles[1]}"]
    assert history["earlier"] == f"\nEarlier orders: {first} (1 Dec 2026)."
    assert chat.slots["order_number"] == second[1:]  # "cancel it" is about this one


def test_cancel_is_asked_first_and_only_before_the_order_ships(store):
    chat = Conversation("cy")
    number = ordered(chat, "1")
    order_id = int(number[1:])
    ask = chat.say("cancel_order", "cancel my order")[0]
    assert ask["response"] == "utter_confirm_cancel" and ask["order_id"] == number
    assert [b["payload"] for b in DOMAIN["responses"]["utter_confirm_cancel"][0]["buttons"]] == ["/affirm", "/deny"]
    assert responses(chat.say("deny", "no", action="action_settle_order_change")) == ["utter_order_unchanged"]
    assert store.order("cy", order_id).status == "placed"

    chat.say("cancel_order", "cancel my order")
    assert responses(chat.say("affirm", "yes", action="action_settle_order_change")) == ["utter_order_cancelled"]
    assert sql(store, "SELECT status FROM order_status WHERE order_id = ? ORDER BY rowid", order_id) == \
        [("placed",), ("cancelled",)]

    shipped = ordered(chat, "2")
    store.set_order_status(int(shipped[1:]), "shipped")
    refused = chat.say("cancel_order", "cancel my order")[0]
    assert refused["response"] == "utter_cannot_cancel" and refused["status"] == "shipped"
    assert responses(chat.say("affirm", "yes", action="action_settle_order_change")) == ["utter_anything_else"]
    assert store.order("cy", int(shipped[1:])).status == "shipped"


def test_the_shop_ships_between_the_question_and_the_yes(store):
    chat = Conversation("di")
    number = ordered(chat, "1")
    chat.say("cancel_order", "cancel my order")
    store.set_order_status(int(number[1:]), "shipped")
    reply = chat.say("affirm", "yes", action="action_settle_order_change")[0]
    assert reply["response"] == "utter_cannot_cancel" and reply["status"] == "shipped"
    assert store.order("di", int(number[1:])).status == "shipped"


def test_returns_only_of_a_delivered_order_within_the_window(store, clock, monkeypatch):
    monkeypatch.setenv("SHOPBOT_RETURN_DAYS", "14")
    chat = Conversation("ed")
    number = ordered(chat, "1", "2")
    order_id = int(number[1:])
    early = chat.say("return_item", "I want to return the second one", ordinal="second")[0]
    assert early["response"] == "utter_cannot_return_yet" and early["status"] == "placed"

    store.set_order_status(order_id, "delivered")
    which = chat.say("return_item", "I want to return something")[0]
    assert which["response"] == "utter_which_return" and len(which["buttons"]) == 2
    assert which["buttons"][1]["payload"] == f'/return_item{{"order_number": "{order_id}", "ordinal": "2"}}'

    ask = chat.say("return_item", "I want to return the second one", ordinal="second")[0]
    assert ask["response"] == "utter_confirm_return" and ask["lines"].startswith("2. ")
    assert responses(chat.say("affirm", "yes", action="action_settle_order_change")) == ["utter_return_recorded"]
    assert sql(store, "SELECT order_id, position FROM order_returns") == [(order_id, 1)]
    again = chat.say("return_item", "return the second one", ordinal="second")[0]
    assert again["response"] == "utter_already_returned"

    clock.now += timedelta(days=15)
    late = chat.say("return_item", "return the first one", ordinal="first")[0]
    assert late["response"] == "utter_return_window_passed"
    assert late["date"] == "1 Dec 2026" and late["last_day"] == "15 Dec 2026"
    assert sql(store, "SELECT count(*) FROM order_returns") == [(1,)]


def test_a_return_names_the_line_by_its_title(store):
    chat = Conversation("fay")
    number = ordered(chat, "1", "2")
    store.set_order_status(int(number[1:]), "delivered")
    (title,) = sql(store, "SELECT title FROM order_items WHERE position = 1")[0]
    word = max(title.split(), key=len).strip(",").lower()
    ask = chat.say("return_item", f"I'd like to send back the {word}")[0]
    assert ask["response"] == "utter_confirm_return" and ask["lines"].startswith("2. ")


def test_buy_again_puts_the_order_back_at_todays_prices(store):
    chat = Conversation("gus")
    number = ordered(chat, "1", "1", "2")
    order_id = int(number[1:])
    with sqlite3.connect(store.path) as conn:  # the first line was bought for a cent less than today's price
        conn.execute("UPDATE order_items SET unit_price_cents = unit_price_cents - 1 WHERE order_id = ? AND "
                     "position = 0", [order_id])
    reply = chat.say("reorder", "buy that again")[0]
    assert reply["response"] == "utter_reordered" and reply["order_id"] == number
    assert sorted(sql(store, "SELECT product_id, quantity FROM cart WHERE shopper_id = 'gus'")) == \
        sorted(sql(store, "SELECT product_id, quantity FROM order_items WHERE order_id = ?", order_id))
    assert reply["changes"].startswith(" Prices since that order: ") and "(was $" in reply["changes"]
    assert reply["cart_summary"].startswith("3 items, $")


def test_another_shoppers_order_is_not_found_and_nothing_changes(store):
    owner = Conversation("owner")
    number = ordered(owner, "1")
    titles = [t for (t,) in sql(store, "SELECT title FROM order_items WHERE order_id = ?", int(number[1:]))]
    other = Conversation("other")
    ordered(other, "2")  # the other shopper has orders of their own
    before = sql(store, "SELECT * FROM order_status")
    for intent in ("order_status", "cancel_order", "return_item", "reorder"):
        messages = other.say(intent, f"order {number}", order_number=number[1:])
        assert responses(messages) == ["utter_order_not_found"], intent
        assert not any(title in str(messages) for title in titles)  # nothing of the order is said
    assert other.say("affirm", "yes", action="action_settle_order_change")[0]["response"] == "utter_anything_else"
    assert sql(store, "SELECT * FROM order_status") == before
    assert sql(store, "SELECT count(*) FROM cart WHERE shopper_id = 'other'") == [(0,)]
