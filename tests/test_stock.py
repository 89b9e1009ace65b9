"""Stock: what is out of stock is left out of listings (and counted), shown marked on request, never added
to a cart, refused at checkout and left out of "buy that again"; and checkout orders only at prices the
shopper was shown. A grocery shop written here (counts, "in stock" / "sold out" cells, an untracked
product) and the electronics fixture (a stock column with 16 products at 0), through the catalog, the
ranker and the actions with real trackers and stores."""

from __future__ import annotations

import sqlite3

import pytest

from actions import services
from bot.chinese_entities import chinese_entities
from recommender import Filters
from recommender.store import ShopStore
from tests.test_actions import electronics, electronics_shop, open_shop  # noqa: F401  (fixtures)
from tests.test_dialogue_actions import Conversation
from tests.test_order_conversations import responses, sql

GROCERIES = [
    {"id": "g1", "title": "Arabica Coffee Beans 1kg", "brand": "Lavazza", "category": "Groceries > Coffee",
     "price": 14.99, "stock": 12},
    {"id": "g2", "title": "Espresso Coffee Beans 500g", "brand": "Lavazza", "category": "Groceries > Coffee",
     "price": 8.49, "stock": 0},
    {"id": "g3", "title": "Decaf Ground Coffee 250g", "brand": "Taylors", "category": "Groceries > Coffee",
     "price": 4.99, "stock": "in stock"},
    {"id": "g4", "title": "Earl Grey Tea 80 bags", "brand": "Twinings", "category": "Groceries > Tea",
     "price": 3.49, "stock": "sold out"},
    {"id": "g5", "title": "Green Tea 40 bags", "brand": "Twinings", "category": "Groceries > Tea",
     "price": 2.99, "stock": 0},
    {"id": "g6", "title": "Cane Sugar 1kg", "brand": "Tate", "category": "Groceries > Baking", "price": 1.99},
]
HISTORIES = {"s1": ["g1", "g6"], "s2": ["g3", "g6"]}


@pytest.fixture(scope="module")
def grocer(tmp_path_factory):
    """The grocery shop, and the same shop after the Arabica beans sold out and the decaf went up to $5.49."""
    now = open_shop(tmp_path_factory.mktemp("grocer"), GROCERIES, HISTORIES)
    changes = {"g1": {"stock": 0}, "g3": {"price": 5.49}}
    later = open_shop(tmp_path_factory.mktemp("grocer_later"), [{**p, **changes.get(p["id"], {})} for p in GROCERIES],
                      HISTORIES)
    yield now, later
    now.catalog.close()
    later.catalog.close()


@pytest.fixture
def store(grocer, tmp_path):
    opened = ShopStore.open(tmp_path / "shop.db")
    services.use(grocer[0], opened)
    yield opened
    services.use(None)
    opened.close()


def cards(messages: list[dict]) -> dict[str, dict]:
    return {card["id"]: card for m in messages for card in (m.get("custom") or {}).get("products", [])}


def test_the_catalog_reads_stock_and_filters_by_it(grocer):
    catalog = grocer[0].catalog
    assert [p.in_stock for p in catalog.get_products(["g1", "g2", "g3", "g4", "g6"])] == [True, False, True, False, True]
    assert catalog.sells_out()
    assert catalog.filter_ids(category="Coffee", in_stock=True) == ["g1", "g3"]
    assert catalog.filter_ids(category="Coffee") == ["g1", "g2", "g3"]


def test_in_stock_is_a_filter_that_can_be_lifted():
    stocked = Filters(category="Tea", in_stock=True)
    assert stocked.is_set("in_stock") and not Filters().is_set("in_stock") and Filters().is_empty()
    assert stocked.without("in_stock") == Filters(category="Tea")
    assert stocked.describe() == ["in Tea"]  # the default is not said; what it left out is


def test_search_counts_what_it_left_out_and_names_stock_when_all_is_sold_out(grocer):
    search = grocer[0]
    outcome = search.search("coffee", Filters(category="Coffee", in_stock=True))
    assert [r.product.id for r in outcome.results] and {r.product.id for r in outcome.results} <= {"g1", "g3"}
    assert outcome.out_of_stock == 1
    every = search.search("coffee", Filters(category="Coffee"))
    assert "g2" in [r.product.id for r in every.results] and every.out_of_stock == 0
    sold_out = search.search("tea", Filters(category="Tea", in_stock=True))
    assert (sold_out.results, sold_out.relax) == ([], "in_stock")


def test_a_listing_leaves_out_what_is_out_of_stock_until_asked(store):
    chat = Conversation("ann")
    found = chat.say("search_products", "coffee", category="coffee")
    assert responses(found) == ["utter_search_results", "utter_out_of_stock_left_out"]
    assert found[1]["count"] == "1 product" and set(chat.shown) == {"g1", "g3"}
    assert chat.slots["in_stock"] is None

    everything = chat.say("refine_search", "including out of stock", drop_filter="stock")
    assert responses(everything) == ["utter_search_results"] and set(chat.shown) == {"g1", "g2", "g3"}
    shown = cards(everything)
    assert shown["g2"]["price_text"] == "$8.49, out of stock" and shown["g2"]["in_stock"] is False
    assert [b["title"] for b in shown["g2"]["buttons"]] == ["Similar", "Details"]
    assert [b["title"] for b in shown["g1"]["buttons"]] == ["Add to cart", "Similar", "Details"]
    assert chat.slots["in_stock"] is False
    assert "Espresso Coffee Beans 500g - Lavazza, $8.49, out of stock" in everything[0]["products"]

    cheaper = chat.say("refine_search", "under $10", price_max="$10")  # a refinement keeps "including"
    assert "g2" in chat.shown and responses(cheaper) == ["utter_search_results"]

    chat.say("search_products", "coffee", category="coffee")  # a new search is in stock again
    assert "g2" not in chat.shown and chat.slots["in_stock"] is None


def test_everything_sold_out_is_said_and_can_be_shown(store):
    chat = Conversation("bo")
    tea = chat.say("search_products", "tea", category="tea")
    assert responses(tea) == ["utter_relax_in_stock"] and tea[0]["summary"] == " in Tea"
    shown = chat.say("refine_search", "show sold out ones too", drop_filter="stock")
    assert set(chat.shown) == {"g4", "g5"} and all(not c["in_stock"] for c in cards(shown).values())


def test_nothing_out_of_stock_goes_into_the_cart(store):
    chat = Conversation("cy")
    chat.say("search_products", "tea", category="tea")
    chat.say("refine_search", "including out of stock", drop_filter="stock")
    refused = chat.say("add_to_cart", "add the first one", ordinal="1")
    assert responses(refused) == ["utter_out_of_stock"] and refused[0]["titles"] in ("Earl Grey Tea 80 bags",
                                                                                      "Green Tea 40 bags")
    assert sql(store, "SELECT count(*) FROM cart") == [(0,)]
    assert chat.slots["focus_product_id"] == chat.shown[0]

    clicked = chat.say("add_to_cart", "/add_to_cart", product_id=["g2", "g6"])  # one of two sold out
    assert responses(clicked) == ["utter_out_of_stock", "utter_added_to_cart"]
    assert sql(store, "SELECT product_id FROM cart") == [("g6",)]


def test_checkout_rereads_stock_and_names_what_sold_out(store, grocer):
    chat = Conversation("di")
    chat.say("add_to_cart", "/add_to_cart", product_id=["g1", "g3"])
    services.use(grocer[1], store)  # the beans sold out since
    refused = chat.say("checkout", "checkout")
    assert responses(refused) == ["utter_checkout_refused"]
    assert refused[0]["problem"] == "Arabica Coffee Beans 1kg is out of stock. Remove it from your cart first."
    assert sql(store, "SELECT count(*) FROM cart WHERE shopper_id = 'di'") == [(2,)]
    assert sql(store, "SELECT count(*) FROM orders") == [(0,)]

    chat.slots["language"] = "zh"
    said = chat.say("checkout", "结账")[0]["problem"]
    assert said == "Arabica Coffee Beans 1kg缺货。请先把它从购物车里移除。"


def test_checkout_says_which_prices_changed_and_orders_at_them_when_asked_again(store, grocer):
    chat = Conversation("flo")
    chat.say("add_to_cart", "/add_to_cart", product_id=["g3", "g6"])
    services.use(grocer[1], store)  # the decaf costs more now
    changed = chat.say("checkout", "checkout")
    assert responses(changed) == ["utter_checkout_refused"]
    assert changed[0]["problem"] == ('prices changed since you added them: Decaf Ground Coffee 250g now $5.49 '
                                     '(was $4.99). Say "checkout" again to order at today\'s prices.')
    assert sql(store, "SELECT count(*) FROM orders") == [(0,)]
    placed = chat.say("checkout", "checkout")[0]
    assert placed["response"] == "utter_order_placed"
    assert sql(store, "SELECT product_id, unit_price_cents FROM order_items ORDER BY position") == [
        ("g3", 549), ("g6", 199)]


def test_buy_again_leaves_out_what_is_out_of_stock(store, grocer):
    chat = Conversation("ed")
    chat.say("add_to_cart", "/add_to_cart", product_id=["g1", "g3"])
    assert responses(chat.say("checkout", "checkout")) == ["utter_order_placed"]
    services.use(grocer[1], store)
    again = chat.say("reorder", "buy that again")[0]
    assert again["response"] == "utter_reordered" and again["titles"] == "Decaf Ground Coffee 250g"
    assert again["changes"] == (" Out of stock, not added: Arabica Coffee Beans 1kg. Prices since that order: "
                                "Decaf Ground Coffee 250g now $5.49 (was $4.99).")
    assert sql(store, "SELECT product_id FROM cart WHERE shopper_id = 'ed'") == [("g3",)]
    assert responses(chat.say("checkout", "checkout")) == ["utter_order_placed"]  # at the price just said


def test_chinese_shoppers_get_the_same(store):
    assert [e["value"] for e in chinese_entities("包括缺货的") if e["entity"] == "drop_filter"] == ["stock"]
    chat = Conversation("fei")
    chat.slots["language"] = "zh"
    found = chat.say("search_products", "coffee", category="coffee")  # the test encoder reads no Chinese
    assert found[1]["response"] == "utter_out_of_stock_left_out" and found[1]["count"] == "1件商品"
    marked = cards(chat.say("refine_search", "包括缺货的", drop_filter="stock"))["g2"]  # the entity read above
    assert marked["price_text"].endswith("，缺货")


def test_the_electronics_fixture_lists_only_what_is_in_stock(electronics):  # noqa: F811 (the fixture)
    chat = Conversation("gus")
    found = chat.say("search_products", "televisions", category="televisions")
    with sqlite3.connect(electronics.catalog.path) as conn:
        sold_out = {pid for (pid,) in conn.execute("SELECT id FROM products WHERE stock = 0")}
    assert chat.shown and not sold_out & set(chat.shown)
    every = electronics.search("televisions", Filters(category="Televisions"))
    hidden = sum(r.product.id in sold_out for r in every.results)
    assert hidden > 0 and responses(found)[1:] == ["utter_out_of_stock_left_out"]
    assert found[1]["count"] == f"{hidden} product{'s' if hidden != 1 else ''}"
