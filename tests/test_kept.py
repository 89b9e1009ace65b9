"""What the assistant keeps about the shopper: "what do you know about me?" lists it (likes and dislikes
numbered, then how many cart lines, orders, activity records and past purchases), and "forget that I
liked the first one" deletes that one opinion; through the actions with real trackers, the shop's
catalog and a real shopper store, checked with SQL."""

from __future__ import annotations

import pytest

from actions import services
from recommender.store import ShopStore
from tests.test_actions import shop  # noqa: F401  (fixture)
from tests.test_dialogue_actions import Conversation
from tests.test_order_conversations import responses, sql


@pytest.fixture
def store(shop, tmp_path):  # noqa: F811 (the fixture of the same name)
    opened = ShopStore.open(tmp_path / "shop.db")
    services.use(shop, opened)
    yield opened
    services.use(None)
    opened.close()


def test_a_new_shopper_is_told_nothing_is_kept(store):
    assert responses(Conversation("new").say("my_data", "what do you know about me?")) == ["utter_my_data_empty"]


def test_what_is_kept_is_listed_and_one_opinion_can_be_forgotten(store):
    chat = Conversation("ann")
    chat.say("like_product", "I like this one", product_id="o1")
    chat.say("dislike_product", "not that one", product_id="m3")
    chat.say("add_to_cart", "/add_to_cart", product_id=["m1"])
    chat.say("checkout", "checkout")
    chat.say("add_to_cart", "/add_to_cart", product_id=["m2"])

    kept = chat.say("my_data", "what do you know about me?")
    assert responses(kept) == ["utter_my_data"]
    events = sql(store, "SELECT count(*) FROM events WHERE shopper_id = 'ann'")[0][0]
    assert kept[0]["kept"].splitlines() == [
        "1. Nail Lacquer, Big Apple Red (you like it)",
        "2. SuperStay Matte Ink Lipstick (you don't like it)",
        "Your cart: 1 product.",
        '1 order ("where is my order?" shows it).',
        f"{events} records of what you were shown, opened, added and ordered (for the shop's statistics)."]
    assert chat.shown == ["o1", "m3"]  # "the first one" is the first listed here
    assert responses(chat.say("show_more", "show more")) == ["utter_no_more_results"]  # the list was whole

    forgot = chat.say("forget_item", "forget that I liked the first one", ordinal="first")
    assert forgot[0]["response"] == "utter_opinion_forgotten"
    assert forgot[0]["forgotten"] == "that you like Nail Lacquer, Big Apple Red"
    assert sql(store, "SELECT product_id, opinion FROM feedback WHERE shopper_id = 'ann'") == [("m3", "dislike")]
    assert sql(store, "SELECT count(*) FROM cart WHERE shopper_id = 'ann'") == [(1,)]  # nothing else goes

    again = chat.say("forget_item", "forget that too", product_id="o1")
    assert responses(again) == ["utter_no_opinion"] and again[0]["titles"] == "Nail Lacquer, Big Apple Red"


def test_a_known_shoppers_past_purchases_are_counted_and_said_in_chinese(store):
    chat = Conversation("u1")  # in the catalog's histories: three purchases
    chat.slots["language"] = "zh"
    chat.say("like_product", "喜欢", product_id="m2")
    kept = chat.say("my_data", "你知道我哪些信息")[0]["kept"].splitlines()
    assert kept[0] == "1. Lash Sensational Waterproof Mascara（您喜欢）"
    assert kept[-1] == "店铺历史中有您3次购买记录（用于个性化推荐）。"
    forgot = chat.say("forget_item", "把第一个忘掉", ordinal="1")[0]
    assert forgot["forgotten"] == "您喜欢Lash Sensational Waterproof Mascara这条记录"
