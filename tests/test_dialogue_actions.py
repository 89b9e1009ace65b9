"""Multi-turn conversations through the actions, with real trackers: each turn's SlotSet events feed
the next turn's tracker, as Rasa does. The shop, its search and a fresh shopper store are real; the
products shown are checked against the SQLite catalog with independent SQL."""

from __future__ import annotations

import shutil
import sqlite3
import statistics
from decimal import Decimal

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

import actions
from actions import services
from actions.shop import words_of
from recommender import config
from recommender.catalog.products import Catalog
from recommender.cf.model import CFConfig
from recommender.cf.recommender import CFRecommender
from recommender.cf.train import TrainConfig
from recommender.ranking.ranker import ProductSearch
from recommender.store import ShopStore
from tests.test_actions import DOMAIN, EMPTY_SLOTS, WordHashEncoder, fashion_shop, shop  # noqa: F401  (fixtures)

# intent -> the action its rule runs (data/rules/*.yml: "intent X, then action Y")
ACTION_OF = {rule["steps"][0]["intent"]: rule["steps"][1]["action"]
             for path in (config.REPO_ROOT / "data" / "rules").glob("*.yml")
             for rule in yaml.safe_load(path.read_text())["rules"] if "intent" in rule["steps"][0]}
EXECUTOR = ActionExecutor()
EXECUTOR.register_package(actions)


class Conversation:
    """One shopper talking to the actions; slots carry over between turns like in Rasa."""

    def __init__(self, sender: str = "shopper") -> None:
        self.sender = sender
        self.slots = dict(EMPTY_SLOTS)
        self.events: list[dict] = []
        self.said: list[dict] = []  # the shopper's messages so far, as Rasa's "user" events

    def say(self, intent: str, text: str = "", *, action: str | None = None, **entities: str | list[str]) -> list[dict]:
        """Run the action the rules give this intent (or ``action``) on a message; returns the messages."""
        ents = [{"entity": name, "value": v} for name, values in entities.items()
                for v in (values if isinstance(values, list) else [values])]
        latest = {"text": text or f"/{intent}", "intent": {"name": intent, "confidence": 0.95}, "entities": ents,
                  "intent_ranking": [{"name": intent, "confidence": 0.95}], "message_id": f"m{len(self.said) + 1}"}
        self.said.append({"event": "user", **latest})
        tracker = Tracker(self.sender, dict(self.slots), latest, list(self.said), False, None, {}, "action_listen")
        dispatcher = CollectingDispatcher()
        run = EXECUTOR.actions[action or ACTION_OF[intent]]
        self.events = run(dispatcher, tracker, DOMAIN)
        for event in self.events:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
        return dispatcher.messages

    @property
    def shown(self) -> list[str]:
        return list(self.slots["shown_product_ids"] or [])


@pytest.fixture
def services_for(shop, tmp_path):
    store = ShopStore.open(tmp_path / "shop.db")
    services.use(shop, store)
    yield shop, store
    services.use(None)
    store.close()


@pytest.fixture
def db(shop):
    conn = sqlite3.connect(shop.catalog.path)
    yield conn
    conn.close()


@pytest.fixture
def fashion_for(fashion_shop, tmp_path):
    store = ShopStore.open(tmp_path / "shop.db")
    services.use(fashion_shop, store)
    conn = sqlite3.connect(fashion_shop.catalog.path)
    yield conn
    conn.close()
    services.use(None)
    store.close()


def facets_of(db, ids) -> dict[str, dict[str, str]]:
    """id -> {facet name: value}, straight from the catalog file."""
    found: dict[str, dict[str, str]] = {pid: {} for pid in ids}
    for pid, name, value in db.execute(f"SELECT product_id, name, value FROM product_facets WHERE product_id IN "
                                       f"({','.join('?' * len(ids))})", ids):
        found[pid][name] = value
    return found


def rows(db, ids):
    """id -> (brand, category, category_path, price) straight from the catalog file."""
    return {r[0]: r[1:] for r in db.execute(
        f"SELECT id, brand, category, category_path, price FROM products WHERE id IN ({','.join('?' * len(ids))})",
        ids)}


def test_constraints_persist_combine_lift_and_clear(services_for, db):
    chat = Conversation()
    chat.say("search_products", "mascara", category="mascara")
    assert chat.shown and all(r[1] == "Mascara" for r in rows(db, chat.shown).values())

    chat.say("refine_search", "under $10", price_max="$10")
    first = rows(db, chat.shown)
    assert set(chat.shown) == {"m1", "m2"} and all(r[1] == "Mascara" and r[3] <= 10 for r in first.values())

    chat.say("refine_search", "only maybelline", brand="maybelline")
    assert all(r[0] == "Maybelline" and r[1] == "Mascara" and r[3] <= 10 for r in rows(db, chat.shown).values())

    before = sorted(r[3] for r in rows(db, chat.shown).values())
    chat.say("refine_search", "cheaper", relative_price="lower")
    after = rows(db, chat.shown)                                      # under the median price shown
    assert after and max(r[3] for r in after.values()) < statistics.median(before) <= max(before)
    assert all(r[0] == "Maybelline" and r[1] == "Mascara" for r in after.values())
    assert chat.slots["brand"] == "Maybelline" and chat.slots["category"] == "Mascara"

    chat.say("refine_search", "no price limit", drop_filter="price")
    assert chat.slots["price_max"] is None and chat.slots["brand"] == "Maybelline"
    assert set(chat.shown) == {"m1", "m2"}                           # Maybelline mascaras at any price

    messages = chat.say("start_over", "start over")
    assert messages[0]["response"] == "utter_started_over"
    assert all(chat.slots[name] is None for name in ("category", "brand", "price_min", "price_max", "query"))

    chat.say("search_products", "shampoo", category="shampoo")   # a new search replaces everything
    assert {r[1] for r in rows(db, chat.shown).values()} == {"Shampoos"} and chat.slots["brand"] is None


def test_cheaper_and_pricier_move_the_price_range(services_for, db):
    chat = Conversation()
    chat.say("search_products", "mascara", category="mascara")
    shown = [r[3] for r in rows(db, chat.shown).values()]
    chat.say("refine_search", "something pricier", relative_price="higher")
    assert chat.slots["price_min"] == round(statistics.median(shown) + 0.01, 2) and chat.slots["price_max"] is None
    assert all(r[3] > statistics.median(shown) for r in rows(db, chat.shown).values())
    while chat.shown:                                                # cheaper, cheaper, ... until nothing is left
        chat.say("refine_search", "cheaper", relative_price="lower")
    reply = chat.say("refine_search", "cheaper", relative_price="lower")[0]
    assert reply["response"] == "utter_no_price_to_compare"
    assert reply["budget_hint"] == f' Try a budget instead, like "under {words_of(services.catalog()).price}".'
    assert words_of(services.catalog()).price.startswith("$")        # the shop's example price, in its currency


def test_references_pick_the_right_product_or_say_what_was_not_shown(services_for):
    chat = Conversation()
    chat.say("search_products", "mascara", category="mascara")
    second = chat.shown[1]
    details = chat.say("product_details", "tell me about the second one", ordinal="second")
    assert details[0]["response"] == "utter_product_details"
    assert details[0]["custom"]["product"]["id"] == second and chat.slots["focus_product_id"] == second

    last = chat.say("product_details", "and the last one?", ordinal="last")
    assert last[0]["custom"]["product"]["id"] == chat.shown[-1]

    missing = chat.say("product_details", "number 7", ordinal="number 7")
    assert missing[0]["response"] == "utter_position_not_shown"
    assert missing[0]["count"] == f"{len(chat.shown)} products" and missing[0]["positions"] == "7"

    added = chat.say("add_to_cart", "add it to my cart")            # "it": the product in focus
    assert added[0]["response"] == "utter_added_to_cart"
    assert [line["id"] for line in added[0]["custom"]["cart"]["lines"]] == [chat.shown[-1]]


def test_a_reference_before_anything_was_shown(services_for):
    messages = Conversation().say("product_details", "the second one", ordinal="second")
    assert messages[0]["response"] == "utter_nothing_listed"


def test_show_more_pages_without_repeating(services_for):
    chat = Conversation()
    chat.say("search_products", "something nice")
    pages = [chat.shown]
    while True:
        messages = chat.say("show_more", "more")
        if messages[0]["response"] == "utter_no_more_results":
            break
        assert messages[0]["products"].startswith(f"{sum(map(len, pages)) + 1}. ")  # numbering continues
        pages.append(chat.shown)
    seen = [pid for page in pages for pid in page]
    assert len(seen) == len(set(seen)) == 9                          # every product once, then "that's all"


def test_compare_and_explain_use_the_shown_facts_and_reasons(services_for):
    chat = Conversation()
    chat.say("search_products", "maybelline mascara", brand="Maybelline", category="Mascara")
    assert chat.shown == ["m1", "m2"]
    reply = chat.say("compare_products", "compare the first two", ordinal="first two")[0]
    assert reply["response"] == "utter_comparison"
    assert "$4.99" in reply["comparison"] and "$8.49" in reply["comparison"]
    assert reply["verdict"].startswith("Verdict: Great Lash Mascara, Blackest Black is the cheapest, $3.50 less")
    assert "all are Maybelline" in reply["verdict"]

    why = chat.say("explain", "why these?")[0]
    for pid, line in zip(chat.shown, why["explanations"].splitlines()):
        assert "; ".join(chat.slots["shown_reasons"][pid]) in line


def test_cart_totals_checkout_and_persistence(services_for, tmp_path):
    shop, store = services_for
    chat = Conversation("cart-shopper")
    chat.say("search_products", "mascara", category="mascara")
    prices = {"m1": Decimal("4.99"), "m2": Decimal("8.49"), "l1": Decimal("10.99")}
    for position in ("1", "2", "1"):
        chat.say("add_to_cart", f"add number {position}", ordinal=position)
    first, second = chat.shown[0], chat.shown[1]
    view = chat.say("view_cart", "my cart")[0]
    total = 2 * prices[first] + prices[second]
    assert view["total"] == f"${total}" and view["custom"]["cart"]["count"] == 3
    assert f"2 x ${prices[first]} = ${2 * prices[first]}" in view["lines"]

    removed = chat.say("remove_from_cart", "remove the second item", ordinal="second")[0]
    assert removed["response"] == "utter_removed_from_cart" and removed["cart_summary"] == f"2 items, ${2 * prices[first]}"

    reopened = ShopStore.open(store.conn.execute("PRAGMA database_list").fetchone()[2])  # a restart
    assert [(line.product_id, line.quantity) for line in reopened.cart_lines("cart-shopper")] == [(first, 2)]
    reopened.close()

    order = chat.say("checkout", "checkout")[0]
    assert order["response"] == "utter_order_placed" and order["total"] == f"${2 * prices[first]}"
    assert store.cart_lines("cart-shopper") == [] and len(store.orders("cart-shopper")) == 1
    assert chat.say("checkout", "checkout")[0]["response"] == "utter_cart_empty"


def test_likes_personalise_and_dislikes_leave_products_out(services_for, shop, tmp_path):
    rec = CFRecommender(CFConfig(n_embd=16, max_len=4, dropout=0.0, id_dropout=0.0, n_negatives=0),
                        TrainConfig(epochs=30, batch_size=16, lr=1e-2, seed=0, threads=1))
    rec.fit([(f"a{u}", ["o1", "s1"]) for u in range(30)] + [(f"b{u}", ["m3", "n1"]) for u in range(30)],
            item_ids=shop.embeddings.ids)
    ranker = ProductSearch(shop.catalog, shop.encoder, shop.embeddings, recommender=rec)
    _, store = services_for
    services.use(ranker, store)

    chat = Conversation("new-shopper")
    first = chat.say("recommend", "what do you recommend?")[0]
    assert first["response"] == "utter_popular_for_new"              # nothing known yet: popular, and said so

    chat.say("search_products", "nail polish", category="Nail Polish")
    chat.say("like_product", "I like this one", product_id="o1")     # the card's button
    assert store.feedback("new-shopper").liked == ["o1"]
    picks = chat.say("recommend", "what shampoo do you recommend?", category="shampoo")[0]
    assert picks["response"] == "utter_recommendations"
    assert chat.shown[0] == "s1"                                      # shoppers who bought o1 bought s1 next
    picks = chat.say("recommend", "and what else?")[0]                # within the current constraints
    assert "o1" not in chat.shown and set(chat.shown) <= {"s1", "n1"}
    chat.say("start_over", "start over")
    chat.say("recommend", "recommend me anything")
    first_page = chat.shown
    assert chat.say("show_more", "more")[0]["response"] == "utter_more_results"
    assert not set(first_page) & set(chat.shown) and "o1" not in first_page + chat.shown
    assert len(first_page + chat.shown) == len(shop.embeddings.ids) - 1  # everything but the liked one

    chat.say("search_products", "shampoo", category="shampoo")
    disliked = chat.shown[0]
    chat.say("dislike_product", "not that one", ordinal="first")
    chat.say("search_products", "shampoo", category="shampoo")
    assert disliked not in chat.shown


def test_a_recommendation_searches_for_what_the_shopper_names(services_for, shop):
    chat = Conversation("asking-shopper")
    chat.say("recommend", "what's the most popular mascara you'd recommend?")   # no entity: the words say it
    assert chat.slots["query"] == "the mascara you'd ?" and set(chat.shown[:3]) == {"m1", "m2", "l1"}
    chat.say("show_more", "more")                                         # the same words, the next page
    assert chat.slots["query"] == "the mascara you'd ?" and not {"m1", "m2", "l1"} & set(chat.shown)
    chat.say("recommend", "what do you think I would like?")            # nothing named: popular, any kind
    assert chat.shown == [found.product.id for found in shop.search("", n=5).results]


def test_forget_me_deletes_the_shopper_everywhere(shop, tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    shutil.copy(shop.catalog.path, folder / "catalog.db")
    catalog = Catalog.open(folder / "catalog.db")
    rec = CFRecommender(CFConfig(n_embd=8, max_len=4, dropout=0.0, id_dropout=0.0, n_negatives=0),
                        TrainConfig(epochs=1, batch_size=16, lr=1e-2, seed=0, threads=1))
    rec.fit([("u1", ["m1", "o1", "n1"]), ("u2", ["m1", "o1"])], item_ids=shop.embeddings.ids)
    copy = ProductSearch(catalog, shop.encoder, shop.embeddings, recommender=rec)
    assert copy.knows("u1")
    store = ShopStore.open(tmp_path / "shop.db")
    services.use(copy, store)
    try:
        chat = Conversation("u1")                                     # a shipped shopper with a history
        chat.say("search_products", "mascara", category="mascara")
        chat.say("add_to_cart", "add the first", ordinal="first")
        chat.say("like_product", "I like the second", ordinal="second")
        reply = chat.say("affirm", "yes", action="action_forget_me")[0]  # the confirmation's rule
        assert reply["response"] == "utter_forgotten"
        assert reply["custom"] == {"forgotten": True}                  # a client may drop what it keeps too
        assert "your cart (1 product)" in reply["deleted"] and "3 past purchases" in reply["deleted"]
        assert any(e.get("event") == "restart" for e in chat.events)
        with_shoppers = set()
        for table, in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            columns = [c[1] for c in store.conn.execute(f"PRAGMA table_info({table})")]
            if "shopper_id" in columns:
                with_shoppers.add(table)
                assert store.conn.execute(f"SELECT count(*) FROM {table} WHERE shopper_id = 'u1'").fetchone()[0] == 0
        with sqlite3.connect(folder / "catalog.db") as conn:
            assert conn.execute("SELECT count(*) FROM interactions WHERE shopper_id = 'u1'").fetchone()[0] == 0
            assert conn.execute("SELECT count(*) FROM interactions WHERE shopper_id = 'u2'").fetchone()[0] == 2
        assert not copy.knows("u1") and copy.knows("u2")              # the served model's history too
        again = services.forget("u1")                                 # nothing is left to delete
        # every table with shopper rows, and those keyed by the shopper's orders
        assert again == services.Forgotten(dict.fromkeys(again.rows, 0), 0)
        assert set(again.rows) == with_shoppers | {"order_items", "order_status", "order_returns"}
    finally:
        services.use(None)
        store.close()
        catalog.close()


def test_handoff_pauses_the_conversation(services_for):
    chat = Conversation()
    messages = chat.say("human_handoff", "a real person please")
    assert messages[0]["response"] == "utter_handoff"
    assert [e["event"] for e in chat.events] == ["pause"]


def test_an_unclear_message_gets_buttons_and_the_search_button_searches_its_words(services_for):
    chat = Conversation()
    tracker_text = "mascara maybe idk"
    latest = {"text": tracker_text, "intent": {"name": "nlu_fallback", "confidence": 0.3}, "entities": [],
              "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.4},
                                 {"name": "search_products", "confidence": 0.3},
                                 {"name": "recommend", "confidence": 0.2}]}
    dispatcher = CollectingDispatcher()
    events = EXECUTOR.actions["action_clarify"](dispatcher, Tracker("shopper", chat.slots, latest, [], False, None,
                                                                    {}, "action_listen"), DOMAIN)
    payloads = [b["payload"] for b in dispatcher.messages[0]["buttons"]]
    assert dispatcher.messages[0]["response"] == "utter_clarify"
    assert payloads == ["/search_products", "/recommend", "/help"]
    chat.slots["unclear_text"] = events[0]["value"]
    messages = chat.say("search_products", "/search_products")
    assert messages[0]["response"] == "utter_search_results" and chat.slots["query"] == tracker_text

    chinese = CollectingDispatcher()                                    # the same buttons in Chinese
    EXECUTOR.actions["action_clarify"](chinese, Tracker("shopper", {**chat.slots, "language": "zh"}, latest, [], False,
                                                        None, {}, "action_listen"), DOMAIN)
    assert [b["title"] for b in chinese.messages[0]["buttons"]] == ["搜索这个商品", "获取推荐", "看看你能做什么"]
    assert [b["payload"] for b in chinese.messages[0]["buttons"]] == payloads


def test_facets_are_constraints_across_turns_and_prices_are_in_the_shops_currency(fashion_for):
    db = fashion_for

    def passes(ids, price_max=None, **facets):
        """Every product listed has these facet values, is jeans and costs at most price_max."""
        found = rows(db, ids)
        return bool(ids) and all(facets.items() <= values.items() for values in facets_of(db, ids).values()) \
            and all(r[1].endswith("jeans") and (price_max is None or r[3] <= price_max) for r in found.values())

    chat = Conversation()
    chat.say("search_products", "black jeans for women")
    assert chat.slots["facets"] == {"colour": "black", "gender": "women"} and chat.slots["category"] == "jeans"
    assert passes(chat.shown, colour="black", gender="women")

    chat.say("refine_search", "in blue")
    assert chat.slots["facets"] == {"colour": "blue", "gender": "women"}
    assert passes(chat.shown, colour="blue", gender="women")

    chat.say("refine_search", "any colour is fine", drop_filter="any colour")
    assert chat.slots["facets"] == {"gender": "women"} and passes(chat.shown, gender="women")
    first_page = chat.shown
    chat.say("show_more", "more")
    assert passes(chat.shown, gender="women") and not set(first_page) & set(chat.shown)
    assert {f["colour"] for f in facets_of(db, first_page + chat.shown).values()} == {"black", "blue"}

    listed = chat.say("refine_search", "under 1500", price_max="1500")[0]
    assert chat.slots["facets"] == {"gender": "women"} and chat.slots["price_max"] == 1500.0
    assert passes(chat.shown, 1500, gender="women") and "under ₹1,500" in listed["summary"]

    compared = chat.say("compare_products", "compare the first two", ordinal="first two")[0]
    assert "₹" in compared["comparison"] and "$" not in compared["comparison"] + compared["verdict"]
    details = chat.say("product_details", "tell me about the first one", ordinal="first")[0]
    assert "₹" in details["details"] and "Gender: women" in details["details"]
    assert details["custom"]["product"]["currency"] == "INR"

    chat.say("start_over", "start over")
    assert chat.slots["facets"] is None
    chat.say("recommend", "what do you recommend for men?")
    assert chat.slots["facets"] == {"gender": "men"}
    assert all(f["gender"] == "men" for f in facets_of(db, chat.shown).values()) and chat.shown
