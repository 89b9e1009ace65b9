"""The search action, run with a real rasa_sdk Tracker and CollectingDispatcher.

The search runs for real (catalog built by the importer, ProductSearch, embeddings) on a small
shop, with a fake encoder instead of the sentence model: no model, no server.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

import actions
from actions import services
from actions import search as search_action
from actions import slots as slot_names
from actions.failures import ApologisingAction
from actions import cards
from actions.prices import currency_words, other_currency, parse_price
from actions.cards import reasons_text
from actions.listing import card, format_results
from actions.search import ActionSearchProducts, build_filters, describe, requested_filters
from actions.vocabulary import Vocabulary
from bot.chinese_entities import chinese_entities
from recommender import config
from recommender.catalog.products import Catalog, Product
from recommender.text.embeddings import ProductEmbeddings
from recommender.catalog.importer import import_catalog
from recommender import (PRESETS, RELAX_ORDER, CatalogImportError, Filters, ProductSearch, ScoredProduct, SearchConfig,
                         format_price)
from recommender.store import ShopStore

DOMAIN = yaml.safe_load((config.REPO_ROOT / "domain.yml").read_text())
FIXTURES = config.REPO_ROOT / "tests" / "fixtures" / "catalogs"  # other shops' product files (their README)
LONG_TITLE = ("Hydrating Day Cream with Hyaluronic Acid, Vitamin E and Green Tea Extract for Dry and "
              "Sensitive Skin, Fragrance Free, 1.7 Ounce")
P = "Beauty > "
PRODUCTS = [
    {"id": "m1", "title": "Great Lash Mascara, Blackest Black", "brand": "Maybelline",
     "category": P + "Makeup > Eyes > Mascara", "price": 4.99},
    {"id": "m2", "title": "Lash Sensational Waterproof Mascara", "brand": "Maybelline",
     "category": P + "Makeup > Eyes > Mascara", "price": 8.49},
    {"id": "m3", "title": "SuperStay Matte Ink Lipstick", "brand": "Maybelline",
     "category": P + "Makeup > Lips > Lipstick", "price": 9.49},
    {"id": "l1", "title": "Voluminous Lash Paradise Mascara", "brand": "L'Oreal Paris",
     "category": P + "Makeup > Eyes > Mascara", "price": 10.99},
    {"id": "o1", "title": "Nail Lacquer, Big Apple Red", "brand": "OPI",
     "category": P + "Makeup > Nails > Nail Polish", "price": 10.50},
    {"id": "o2", "title": "Nail Lacquer, Malaga Wine", "brand": "OPI",
     "category": P + "Makeup > Nails > Nail Polish", "price": 10.50},
    {"id": "n1", "title": "Daily Clarifying Shampoo", "brand": "Neutrogena",
     "category": P + "Hair Care > Shampoos", "price": 12.00},
    {"id": "s1", "title": "Moisturizing Shampoo for Dry Hair", "brand": "Suave",
     "category": P + "Hair Care > Shampoos", "price": 3.49},
    {"id": "x1", "title": LONG_TITLE, "brand": None,
     "category": P + "Skin Care > Face > Creams & Moisturizers", "price": None},
]
HISTORIES = {"u1": ["m1", "o1", "n1"], "u2": ["m1", "o1"], "u3": ["m1", "m2"]}


NO_NAMES = Vocabulary({}, {})  # a catalog's names, for tests that need none
EMPTY_SLOTS = {name: None for name in ("category", "brand", "price_min", "price_max", "facets", "query", "listing",
                                       "shown_product_ids", "seen_product_ids", "shown_reasons",
                                       "focus_product_id", "unclear_text")}


class WordHashEncoder:
    """Fake sentence encoder: a bag of hashed words, L2-normalised (shared words = similar)."""

    model_id = "fake/word-hash@1"
    dim = 64
    # Its cosines run lower than the sentence model's: a product sharing one word with a short query
    # has about 0.4, one sharing none about 0.2. The ranker's relevance floor for it sits between.
    relevance_floor = 0.3

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = np.full((len(texts), self.dim), 0.05, dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[i, hashlib.sha1(word.encode()).digest()[0] % self.dim] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def open_shop(folder: Path, products: list[dict], histories: dict[str, list[str]]) -> ProductSearch:
    """A real catalog in ``folder`` built from product rows and shopper histories, searched with WordHashEncoder."""
    (folder / "products.jsonl").write_text("".join(json.dumps(p) + "\n" for p in products))
    (folder / "history.txt").write_text("".join(f"{u} {' '.join(ids)}\n" for u, ids in histories.items()))
    import_catalog(folder / "products.jsonl", folder / "catalog.db", interactions=folder / "history.txt",
                   progress=False)
    return searched(folder)


def searched(folder: Path) -> ProductSearch:
    """The catalog file ``folder``/catalog.db, searched with WordHashEncoder."""
    catalog = Catalog.open(folder / "catalog.db")
    encoder = WordHashEncoder()
    return ProductSearch(catalog, encoder, ProductEmbeddings.load_or_build(catalog, encoder, folder / "cache",
                                                                           progress=False),
                         SearchConfig(relevance_floor=WordHashEncoder.relevance_floor))


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> ProductSearch:
    search = open_shop(tmp_path_factory.mktemp("shop"), PRODUCTS, HISTORIES)
    yield search
    search.catalog.close()


@pytest.fixture(scope="module")
def fashion_shop(tmp_path_factory) -> ProductSearch:
    """tests/fixtures/catalogs/fashion_inr.csv imported as its README says: rupees, facets gender and
    colour, no category column (so product types derived from the titles), no shopper histories."""
    folder = tmp_path_factory.mktemp("fashion")
    import_catalog(FIXTURES / "fashion_inr.csv", folder / "catalog.db", progress=False,
                   mapping=PRESETS["default"].with_columns(
                       id="ProductID", title="ProductName", brand="ProductBrand", price="Price",
                       description="Description").with_facets({"gender": "Gender", "colour": "PrimaryColor"}))
    search = searched(folder)
    yield search
    search.catalog.close()


def injected(search: ProductSearch, folder: Path):
    """``search`` as the actions' product search, with a fresh shopper store in ``folder``."""
    store = ShopStore.open(folder / "shop.db")
    services.use(search, store)
    yield search
    services.use(None)
    store.close()


@pytest.fixture(scope="module")
def electronics_shop(tmp_path_factory) -> ProductSearch:
    """tests/fixtures/catalogs/electronics_eur.csv imported as its README says: euros, category paths,
    facets colour and screen size."""
    folder = tmp_path_factory.mktemp("electronics")
    import_catalog(FIXTURES / "electronics_eur.csv", folder / "catalog.db", progress=False,
                   mapping=PRESETS["default"].with_columns(id="sku").with_facets(
                       {"colour": "colour", "screen size": "screen_size"}))
    search = searched(folder)
    yield search
    search.catalog.close()


@pytest.fixture
def search(shop, tmp_path):
    """The shop, injected as the actions' product search for one test, with a fresh shopper store."""
    yield from injected(shop, tmp_path)


@pytest.fixture
def fashion(fashion_shop, tmp_path):
    """The fashion shop, injected like ``search``."""
    yield from injected(fashion_shop, tmp_path)


@pytest.fixture
def electronics(electronics_shop, tmp_path):
    """The electronics shop, injected like ``search``."""
    yield from injected(electronics_shop, tmp_path)


def tracker(text: str, entities: dict[str, str] | None = None, intent: str = "search_products",
            slots: dict | None = None) -> Tracker:
    """A tracker whose latest message is ``text`` with these entities (as NLU would give them)."""
    ents = [{"entity": name, "value": value, "extractor": "DIETClassifier"}
            for name, value in (entities or {}).items()]
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.98}, "entities": ents}
    return Tracker("shopper", {**EMPTY_SLOTS, **(slots or {})}, latest, [], False, None, {}, "action_listen")


def run(t: Tracker) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = ActionSearchProducts().run(dispatcher, t, DOMAIN)
    return dispatcher.messages, events


def sent(response: str, **variables) -> dict:
    """The message CollectingDispatcher records for ``utter_message(response=..., **variables)``."""
    return {"text": None, "buttons": [], "elements": [], "custom": {}, "template": response,
            "response": response, "image": None, "attachment": None, **variables}


def slot_events(category=None, brand=None, price_min=None, price_max=None, shown=(), query="",
                reasons=None, facets=None) -> list[dict]:
    """The events of a search: the filters used, the words, and what was shown (nothing: lists cleared)."""
    events = [SlotSet("category", category), SlotSet("brand", brand), SlotSet("price_min", price_min),
              SlotSet("price_max", price_max), SlotSet("facets", facets), SlotSet("in_stock", None),
              SlotSet("query", query), SlotSet("unclear_text", None)]
    if not shown:
        return events + [SlotSet("shown_product_ids", []), SlotSet("seen_product_ids", [])]
    return events + [SlotSet("shown_product_ids", list(shown)), SlotSet("seen_product_ids", list(shown)),
                     SlotSet("shown_reasons", reasons), SlotSet("listing", {"kind": "search", "product_id": None}),
                     SlotSet("focus_product_id", shown[0] if len(shown) == 1 else None)]


# ---- the search action ---------------------------------------------------------------------------


def test_lists_products_with_title_brand_price_and_a_reason(search):
    text = "maybelline mascara under $10"
    # The reasons' wording belongs to recommender.ranking.reasons; the action shows the strongest, then the
    # next ones while they are short (cards.reasons_text, tested in test_channels.py).
    why = [r.reasons for r in search.search(text, Filters("Mascara", "Maybelline", None, 10.0)).results]

    messages, events = run(tracker(text, {"brand": "Maybelline", "category": "Mascara", "price_max": "$10"}))

    def buttons(pid: str) -> list[dict]:
        return [{"title": "Add to cart", "payload": f'/add_to_cart{{"product_id": "{pid}"}}'},
                {"title": "Similar", "payload": f'/similar_products{{"product_id": "{pid}"}}'},
                {"title": "Details", "payload": f'/product_details{{"product_id": "{pid}"}}'}]

    unknown = {"facets": [], "image_url": None, "rating": None, "in_stock": True}  # the shop's file has none of these
    cards = {"listing": "search", "products": [
        {"id": "m1", "position": 1, "title": "Great Lash Mascara, Blackest Black", "brand": "Maybelline",
         "category": "Mascara", "price": 4.99, "currency": "USD", "price_text": "$4.99", **unknown,
         "reasons": list(why[0]), "buttons": buttons("m1")},
        {"id": "m2", "position": 2, "title": "Lash Sensational Waterproof Mascara", "brand": "Maybelline",
         "category": "Mascara", "price": 8.49, "currency": "USD", "price_text": "$8.49", **unknown,
         "reasons": list(why[1]), "buttons": buttons("m2")},
    ]}
    assert messages == [{**sent("utter_search_results", summary=" in Mascara from Maybelline under $10", products=(
        f"1. Great Lash Mascara, Blackest Black - Maybelline, $4.99 ({reasons_text(why[0])})\n"
        f"2. Lash Sensational Waterproof Mascara - Maybelline, $8.49 ({reasons_text(why[1])})"
    )), "custom": cards}]
    assert events == slot_events("Mascara", "Maybelline", None, 10.0, shown=["m1", "m2"], query=text,
                                 reasons={"m1": list(why[0]), "m2": list(why[1])})


def test_shell_chat_gets_the_text_without_the_json_cards(search):
    shell = tracker("maybelline mascara")
    shell.events.append({"event": "user", "text": "maybelline mascara", "input_channel": "cmdline"})

    messages, _ = run(shell)

    assert messages[0]["response"] == "utter_search_results" and messages[0]["custom"] == {}
    assert messages[0]["products"].startswith("1. ")


def test_shows_at_most_five_products_and_remembers_them(search):
    messages, events = run(tracker("show me something nice"))

    lines = messages[0]["products"].splitlines()
    assert messages[0]["response"] == "utter_search_results" and messages[0]["summary"] == ""
    assert [line.split(".")[0] for line in lines] == ["1", "2", "3", "4", "5"]
    assert events[:5] == slot_events()[:5]
    shown = next(e["value"] for e in events if e["name"] == "shown_product_ids")
    assert len(shown) == 5 and next(e["value"] for e in events if e["name"] == "seen_product_ids") == shown


@pytest.mark.parametrize("text, entities, response, summary, slots", [
    # "Nothing from Maybelline under $2. Try raising your budget."
    ("maybelline under $2", {"brand": "Maybelline", "price_max": "$2"},
     "utter_relax_price_max", " from Maybelline under $2", (None, "Maybelline", None, 2.0)),
    ("opi polish over 50 dollars", {"brand": "OPI", "price_min": "50"},
     "utter_relax_price_min", " from OPI over $50", (None, "OPI", 50.0, None)),
    ("opi shampoo", {"brand": "opi", "category": "shampoo"},
     "utter_relax_brand", " in Shampoos from OPI", ("Shampoos", "OPI", None, None)),
    ("opi shampoo under a dollar", {"brand": "OPI", "category": "Shampoos", "price_max": "1"},
     "utter_no_results", " in Shampoos from OPI under $1", ("Shampoos", "OPI", None, 1.0)),
])
def test_no_match_says_which_filter_to_relax(search, text, entities, response, summary, slots):
    messages, events = run(tracker(text, entities))

    assert messages == [sent(response, summary=summary, facet="")]
    assert events == slot_events(*slots, shown=[], query=text)


def test_relax_responses_read_well():
    text = DOMAIN["responses"]["utter_relax_price_max"][0]["text"]
    assert text.format(summary=" from Maybelline under $2") == "Nothing from Maybelline under $2. Try raising your budget."


@pytest.mark.parametrize("entities, expected", [
    ({"brand": "maybeline"}, Filters(brand="Maybelline")),  # typo
    ({"brand": "l'oreal paris", "category": "mascaras"}, Filters(category="Mascara", brand="L'Oreal Paris")),
    ({"category": "perfume"}, Filters()),  # not a catalog category: left to semantic search
    ({"category": "hair care"}, Filters(category="Hair Care")),  # any level of the path
    ({"brand": "Acme"}, Filters()),  # not a catalog brand
    ({"price_min": "$30", "price_max": "ten"}, Filters(price_min=10.0, price_max=30.0)),  # swapped
    ({"price_max": "about as much as you like"}, Filters()),  # no amount in it
])
def test_entities_become_filters_the_catalog_knows(search, entities, expected):
    vocabulary = services.vocabulary()
    assert build_filters(requested_filters(tracker("...", entities), vocabulary, {}), vocabulary) == expected


def test_a_new_search_ignores_the_previous_searchs_filters(search):
    old = {"brand": "OPI", "category": "Nail Polish", "price_max": 20.0}
    _, events = run(tracker("shampoo", {"category": "shampoo"}, slots=old))

    assert events[:5] == slot_events("Shampoos")[:5]
    assert set(next(e["value"] for e in events if e["name"] == "shown_product_ids")) == {"n1", "s1"}


def test_other_intents_keep_the_slots_and_override_them_with_new_entities():
    old = {"brand": "OPI", "category": "Nail Polish", "price_max": 20.0}
    t = tracker("cheaper please", {"price_max": "$12"}, intent="refine_search", slots=old)

    assert requested_filters(t, NO_NAMES, {}) == {"category": "Nail Polish", "brand": "OPI", "price_min": None,
                                                  "price_max": "$12", "facets": None, "in_stock": None}


def message_with(*entities: tuple[str, str]) -> Tracker:
    latest = {"text": "...", "intent": {"name": "search_products"},
              "entities": [{"entity": name, "value": value} for name, value in entities]}
    return Tracker("s", EMPTY_SLOTS, latest, [], False, None, {}, None)


def test_first_mention_of_a_brand_wins():
    assert requested_filters(message_with(("brand", "OPI"), ("brand", "Essie")), NO_NAMES, {})["brand"] == "OPI"


@pytest.mark.parametrize("entities", [
    [("price_max", "10"), ("price_max", "30")],  # "between 10 and 30 dollars", roles mixed up
    [("price_min", "$30"), ("price_max", "$10")],
    [("price_min", "10"), ("price_max", "thirty")],
])
def test_two_prices_make_a_range(entities):
    found = requested_filters(message_with(*entities), NO_NAMES, {})
    assert (found["price_min"], found["price_max"]) == (10.0, 30.0)


def test_the_same_price_twice_is_one_price():
    found = requested_filters(message_with(("price_max", "$2"), ("price_max", "2 bucks")), NO_NAMES, {})
    assert (found["price_min"], found["price_max"]) == (None, "$2")


def test_a_percentage_is_no_price():
    text = "100% Pure mascara under $20"                      # a brand with a number in its name
    latest = {"text": text, "intent": {"name": "search_products", "confidence": 0.9},
              "entities": [{"entity": "price_max", "value": "100", "start": 0, "end": 3},
                           {"entity": "price_max", "value": "$20", "start": 24, "end": 27}]}
    found = requested_filters(Tracker("s", EMPTY_SLOTS, latest, [], False, None, {}, None), NO_NAMES, {})
    assert (found["price_min"], found["price_max"]) == (None, "$20")


def test_search_failure_is_logged_and_answered_politely(monkeypatch, tmp_path, caplog):
    services.use(None)
    monkeypatch.setenv("SHOPBOT_CATALOG", str(tmp_path / "missing.db"))

    messages, events = run(tracker("mascara", {"category": "Mascara"}))

    assert [m["response"] for m in messages] == ["utter_search_unavailable"]
    assert events == []
    assert "product search failed" in caplog.text
    assert "mascara" not in caplog.text  # nothing the shopper typed goes to the log
    assert "Traceback" in caplog.text  # logger.exception, for whoever reads the server log
    services.use(None)


# ---- any shop's catalog: facets, its currency, names from the catalog, what it does not carry --------


def with_facet(db_path: Path, name: str, value: str) -> set[str]:
    """The ids of the products with this facet value, straight from the catalog file."""
    with closing(sqlite3.connect(db_path)) as db:
        return {r[0] for r in db.execute("SELECT product_id FROM product_facets WHERE name = ? AND value = ?",
                                         (name, value))}


def column(db_path: Path, name: str, ids: Sequence[str]) -> dict[str, object]:
    """id -> one column of the products table (``name`` is a literal of the test), from the catalog file."""
    with closing(sqlite3.connect(db_path)) as db:
        return dict(db.execute(f"SELECT id, {name} FROM products WHERE id IN ({','.join('?' * len(ids))})", ids))


def slot_values(events: list[dict]) -> dict[str, object]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_a_search_filters_by_the_type_and_facets_its_words_name_and_shows_the_shops_currency(fashion):
    messages, events = run(tracker("black jeans for women under 1500", {"price_max": "1500"}))

    values, db = slot_values(events), fashion.catalog.path
    assert values["category"] == "jeans" and values["price_max"] == 1500.0
    assert values["facets"] == {"colour": "black", "gender": "women"}
    with closing(sqlite3.connect(db)) as conn:                      # the README's 4 black jeans for women
        expected = {r[0] for r in conn.execute("SELECT id FROM products WHERE category = 'jeans' AND price <= 1500")}
    expected &= with_facet(db, "colour", "black") & with_facet(db, "gender", "women")
    assert len(expected) == 4 and set(values["shown_product_ids"]) == expected
    [message] = messages
    assert message["summary"] == describe(Filters("jeans", price_max=1500, facets=values["facets"]), "INR")
    assert "under ₹1,500" in message["summary"]
    assert "Roadster Women Black Skinny Fit Mid-Rise Stretchable Jeans - Roadster, ₹899, " in message["products"]
    listed = next(c for c in message["custom"]["products"] if c["id"] == "10017400")
    assert (listed["currency"], listed["price"], listed["price_text"]) == ("INR", 899, "₹899")
    assert sorted(map(tuple, (f.values() for f in listed["facets"]))) == [("colour", "black"), ("gender", "women")]
    assert listed["image_url"] is None and listed["rating"] is None  # the shop's file has neither


def test_a_chinese_conversation_gets_the_summary_and_card_labels_in_chinese(fashion):
    messages, events = run(tracker("jeans for women under 1500", {"price_max": "1500"}, slots={"language": "zh"}))
    [message] = messages
    assert message["summary"] == "（jeans类、women适用和₹1,500.00以下）"
    card = message["custom"]["products"][0]
    assert [b["title"] for b in card["buttons"]] == ["加入购物车", "相似商品", "详情"]
    assert describe(Filters("jeans", price_max=1500), "INR") == " in jeans under ₹1,500"   # English as before
    # the ranker's reasons and the prices in Chinese, the same in the card, the text and the slot
    assert card["price_text"] == f"₹{card['price']:,.2f}"
    assert {"属于jeans，按您的要求", "低于您₹1,500.00的预算"} <= set(card["reasons"])
    assert all(re.search("[\u4e00-\u9fff]", reason) for reason in card["reasons"])
    assert "属于jeans，按您的要求" in message["products"] and card["price_text"] in message["products"]
    assert slot_values(events)[slot_names.REASONS][card["id"]] == card["reasons"]


def test_a_search_naming_a_product_type_derived_from_the_titles_filters_by_it(fashion):
    _, events = run(tracker("show me running shoes"))

    shown = slot_values(events)["shown_product_ids"]
    assert slot_values(events)["category"] == "running shoes"
    assert shown and set(column(fashion.catalog.path, "category", shown).values()) == {"running shoes"}


def test_product_types_are_looked_up_in_the_words_only_when_derived_from_the_titles(fashion_shop, shop):
    derived, imported = Vocabulary.from_catalog(fashion_shop.catalog), Vocabulary.from_catalog(shop.catalog)

    assert derived.category_in("a black running shoe") == derived.category_in("Running Shoes") == "running shoes"
    assert derived.category_in("dresses for a party") == "dress"
    assert derived.category_in("mid-rise jeans") == "mid-rise jeans" and derived.category_in("jeans") == "jeans"
    assert derived.category_in("a short dress with a jacket") == "jacket"  # the last of two on a tie
    assert derived.category_in("something nice") is None
    assert imported.category_in("mascara") is None                  # Beauty's categories: the NLU's entities


@pytest.mark.parametrize("text, amount", [
    ("jeans under 20 dollars", "20"), ("jeans under $20", "$20"), ("jeans under 20 euros", "20 euros"),
])
def test_an_amount_in_another_currency_sets_no_price_and_the_reply_names_the_shops(fashion, text, amount):
    messages, events = run(tracker(text, {"price_max": amount}))

    assert slot_values(events)["price_max"] is None and slot_values(events)["shown_product_ids"]
    assert messages[0]["response"] == "utter_search_results" and "₹" not in messages[0]["summary"]
    assert messages[-1] == sent("utter_other_currency", currency_name="Indian rupees", currency_symbol="₹")
    reply = DOMAIN["responses"]["utter_other_currency"][0]["text"].format(**messages[-1])
    assert reply == "Prices here are in Indian rupees (₹). What's your budget in Indian rupees?"


@pytest.mark.parametrize("text, amount", [
    ("jeans under 1500", "1500"), ("jeans under 1500 rupees", "1500 rupees"), ("jeans under ₹1,500", "₹1,500"),
    ("jeans under Rs 1500", "Rs 1500"),
])
def test_a_bare_amount_or_one_in_the_shops_currency_is_a_price_filter(fashion, text, amount):
    messages, events = run(tracker(text, {"price_max": amount}))

    assert slot_values(events)["price_max"] == 1500.0
    assert [m["response"] for m in messages] == ["utter_search_results"]


@pytest.mark.parametrize("text", ["jeans 1500以下", "不超过一千五的jeans", "jeans 1500卢比以内"])
def test_a_chinese_price_phrase_is_the_same_price_filter(fashion, text):
    messages, events = run(tracker(text, {e["entity"]: e["value"] for e in chinese_entities(text)}))

    assert slot_values(events)["price_max"] == 1500.0
    assert [m["response"] for m in messages] == ["utter_search_results"]


def test_a_chinese_amount_in_another_currency_sets_no_price_and_the_reply_names_the_shops(fashion):
    text = "jeans 100元以下"
    messages, events = run(tracker(text, {e["entity"]: e["value"] for e in chinese_entities(text)}))

    assert slot_values(events)["price_max"] is None and slot_values(events)["shown_product_ids"]
    assert messages[-1] == sent("utter_other_currency", currency_name="Indian rupees", currency_symbol="₹")


def test_a_refinement_finds_the_catalog_brand_its_words_name(fashion):
    _, events = run(tracker("only Puma", intent="refine_search", slots={"query": "running shoes"}))

    values = slot_values(events)
    assert values["brand"] == "Puma" and values["query"] == "running shoes"
    assert set(column(fashion.catalog.path, "brand", values["shown_product_ids"]).values()) == {"Puma"}


def test_brand_names_are_looked_up_in_whole_words_of_brands_worth_naming(fashion_shop):
    names = Vocabulary.from_catalog(fashion_shop.catalog)

    assert names.brand_in("only Puma") == names.brand_in("just PUMA please") == "Puma"
    assert names.brand_in("only the cheap ones") is None            # ONLY is a brand, and a refinement word
    assert names.brand_in("something from ASICS") == "ASICS"        # one product, but one of a small shop's 43
    assert names.brand_in("pumas") is None and names.brand_in("levis or puma") == "Puma"  # the last on a tie
    assert names.brand_in("HRX by Hrithik Roshan joggers") == "HRX by Hrithik Roshan"


def test_a_new_search_names_a_brand_by_its_words_unless_the_titles_use_them_as_a_common_word(tmp_path):
    clear = [{"id": "c1", "title": "Scalp Care Shampoo", "brand": "Clear", "category": P + "Hair Care > Shampoos",
              "price": 5.0}]
    others = [{"id": f"n{i}", "title": f"Clear Nail Polish No. {i}", "brand": "OPI",
               "category": P + "Makeup > Nails > Nail Polish", "price": 9.0} for i in range(2)]
    shop = open_shop(tmp_path, PRODUCTS + clear + others, HISTORIES)
    try:
        names = Vocabulary.from_catalog(shop.catalog)
        assert names.common_brands == {"Clear"}                          # 2 other titles say "clear", it has 1
        assert names.brand_in("clear nail polish", common=False) is None
        assert names.brand_in("only Clear") == "Clear"                   # a refinement still may name it
        services.use(shop, ShopStore.open(tmp_path / "shop.db"))
        _, events = run(tracker("suave shampoo for dry hair", intent="search_products"))   # NLU tagged nothing
        assert slot_values(events)["brand"] == "Suave"
        _, events = run(tracker("clear nail polish", intent="search_products"))
        assert slot_values(events)["brand"] is None
    finally:
        services.store().close()
        services.use(None)
        shop.catalog.close()


@pytest.mark.parametrize("phrase, kept", [
    ("any colour", {"gender": "women"}), ("any color", {"gender": "women"}),
    ("colours don't matter", {"gender": "women"}),
    ("for anyone", {"colour": "black"}), ("any gender", {"colour": "black"}),
    ("any size", {"colour": "black", "gender": "women"}),         # the shop has no size facet
])
def test_lifting_a_facet_by_its_name(fashion, phrase, kept):
    t = tracker(phrase, {"drop_filter": phrase}, intent="refine_search",
                slots={"facets": {"colour": "black", "gender": "women"}})

    assert requested_filters(t, services.vocabulary(), {})["facets"] == kept


def test_a_refinement_keeps_the_facets_and_changes_the_ones_it_names_a_new_search_starts_afresh(fashion):
    old = {"facets": {"colour": "black", "gender": "women"}}
    refine = tracker("in blue", intent="refine_search", slots=old)
    fresh = tracker("a dress", slots=old)

    assert requested_filters(refine, services.vocabulary(), {"colour": "blue"})["facets"] == {
        "colour": "blue", "gender": "women"}
    assert requested_filters(fresh, services.vocabulary(), {})["facets"] is None


def test_when_only_the_facets_stop_every_product_the_reply_names_them(fashion):
    messages, events = run(tracker("pink jeans for men"))

    facets = slot_values(events)["facets"]
    assert facets == {"colour": "pink", "gender": "men"} and slot_values(events)["shown_product_ids"] == []
    filters = build_filters(slot_values(events), services.vocabulary())
    assert messages == [sent("utter_relax_facets", summary=describe(filters, "INR"), facet="colour or gender")]
    reply = DOMAIN["responses"]["utter_relax_facets"][0]["text"].format(**messages[0])
    assert reply.endswith(". Try fewer details, like any colour or gender.")


def test_a_55_inch_tv_under_400_euros_in_a_shop_selling_in_euros(electronics):
    messages, events = run(tracker("a 55 inch tv under 400 euros", {"price_max": "400 euros"}))

    values, db = slot_values(events), electronics.catalog.path
    assert values["facets"] == {"screen size": "55 inch"} and values["price_max"] == 400.0
    shown = values["shown_product_ids"]
    assert shown and set(shown) <= with_facet(db, "screen size", "55 inch")
    prices = column(db, "price", shown)
    assert all(price <= 400 for price in prices.values())
    [message] = messages
    assert "under €400" in message["summary"] and "€349" in message["products"]   # a 55" TV at 349 EUR
    listed = message["custom"]["products"]
    assert {c["currency"] for c in listed} == {"EUR"} and all(c["price_text"].startswith("€") for c in listed)
    assert all(c["image_url"].startswith("https://img.example.com/") and 1 <= c["rating"] <= 5 for c in listed)


def test_a_budget_in_dollars_in_a_shop_selling_in_euros_is_asked_again_in_euros(electronics):
    messages, events = run(tracker("a tv under 400 dollars", {"price_max": "400"}))

    assert slot_values(events)["price_max"] is None
    assert messages[-1] == sent("utter_other_currency", currency_name="euros", currency_symbol="€")


@pytest.mark.parametrize("phrase, kept", [
    ("any screen size", {"colour": "black"}), ("any size", {"colour": "black"}),
    ("any colour", {"screen size": "55 inch"}), ("for anyone", {"colour": "black", "screen size": "55 inch"}),
])
def test_lifting_a_facet_whose_name_has_two_words(electronics, phrase, kept):
    t = tracker(phrase, {"drop_filter": phrase}, intent="refine_search",
                slots={"facets": {"colour": "black", "screen size": "55 inch"}})

    assert requested_filters(t, services.vocabulary(), {})["facets"] == kept


def test_words_the_shop_has_nothing_like_get_what_it_carries_and_no_product(search):
    before = {"brand": "OPI", "query": "nail polish", "shown_product_ids": ["o1"], "seen_product_ids": ["o1"],
              "facets": {"colour": "red"}, "listing": {"kind": "search", "product_id": None}}
    messages, events = run(tracker("show me a garden hose under $20", {"price_max": "$20"}, slots=before))

    carried = " It has Makeup, Hair Care and Skin Care."               # the main categories, largest first
    assert messages == [sent("utter_not_carried", asked="garden hose", carried=carried)]
    assert DOMAIN["responses"]["utter_not_carried"][0]["text"].format(**messages[0]) == (
        'Sorry, this shop doesn\'t carry "garden hose". It has Makeup, Hair Care and Skin Care. '
        "What else can I find for you?")
    values = slot_values(events)
    assert set(before) <= set(values) and all(value is None for value in values.values())


def test_cards_carry_the_currency_and_facets_and_text_channels_show_them_in_brief(fashion_shop):
    product = fashion_shop.catalog.get_product("10017400")        # Roadster black skinny jeans for women, ₹899
    payload = {"listing": "search", "products": [card(product, ["popular"], 1, "INR")]}
    facts = "₹899 · Roadster · " + ", ".join(value for _, value in product.facets)

    assert {value for _, value in product.facets} == {"black", "women"}
    assert cards.telegram(payload)["text"].splitlines()[1] == facts
    assert facts in cards.slack(payload)["text"]
    assert cards.facebook(payload)["attachment"]["payload"]["elements"][0]["subtitle"].startswith(facts)


def test_the_shops_currency_by_name_and_other_currencies_named():
    assert currency_words("INR") == ("Indian rupees", "₹") and currency_words("EUR") == ("euros", "€")
    assert other_currency(["20", "jeans under 20 dollars"], "INR") == "USD"
    assert other_currency(["1500", "under 1500"], "INR") is None    # a bare amount is the shop's currency
    assert other_currency(["€30"], "EUR") is None and other_currency(["£30"], "EUR") == "GBP"


# ---- services: lazy, once ------------------------------------------------------------------------


def test_importing_the_actions_loads_nothing():
    code = ("import sys, actions.search, actions.services as s; "
            "assert s._search is None and s._vocabulary is None; "
            "assert 'sentence_transformers' not in sys.modules and 'torch' not in sys.modules; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr


def test_the_search_is_built_once_per_process(monkeypatch, shop):
    built = []
    monkeypatch.setattr(ProductSearch, "from_paths", classmethod(lambda cls, *a, **k: built.append(1) or shop))
    services.use(None)
    try:
        assert services.product_search() is services.product_search() is shop
        assert services.vocabulary() is services.vocabulary()
        assert services.catalog() is shop.catalog
        assert built == [1]
    finally:
        services.use(None)


# ---- formatting ----------------------------------------------------------------------------------


def test_result_lines_shorten_long_titles_and_say_when_price_or_brand_is_unknown():
    product = Product("x1", LONG_TITLE, None, "Creams & Moisturizers", ("Beauty", "Skin Care"), None)
    line = format_results([ScoredProduct(product, 0.5, ())], "USD")

    assert line == ("1. Hydrating Day Cream with Hyaluronic Acid, Vitamin E and Green Tea Extract for Dry and…"
                    " - price unknown")


@pytest.mark.parametrize("filters, text", [
    (Filters(), ""),
    (Filters(category="Mascara", brand="Maybelline", price_max=10), " in Mascara from Maybelline under $10"),
    (Filters(price_min=10, price_max=30), " between $10 and $30"),
    (Filters(price_min=20.5), " over $20.50"),
])
def test_describe(filters, text):
    assert describe(filters, "USD") == text


# ---- prices --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, amount", [
    ("$20", 20.0), ("20", 20.0), ("20 bucks", 20.0), ("20 dollars", 20.0), ("20.50", 20.5),
    ("$7.50", 7.5), ("$.99", 0.99), ("1,200", 1200.0), ("12,50", 12.5), ("$20ish", 20.0), ("~15", 15.0),
    ("€30", 30.0), ("₹1,299", 1299.0), ("1,00,000", 100000.0), ("Rs 1500", 1500.0),
    ("twenty", 20.0), ("Twenty-five", 25.0), ("twenty five dollars", 25.0),
    ("a hundred and fifty", 150.0), ("fifteen", 15.0), (20, 20.0), (19.99, 19.99),
    ("10-30", None), ("one fifty", None), ("cheap", None), ("", None), (None, None), (-5, None), (True, None),
])
def test_parse_price(value, amount):
    assert parse_price(value) == amount


@pytest.mark.parametrize("value, text", [(20, "$20"), (20.5, "$20.50"), (4.99, "$4.99"), (1200, "$1,200")])
def test_format_price(value, text):
    assert format_price(value) == text


# ---- meta: names and responses exist in the domain -----------------------------------------------


def test_every_action_is_in_the_domain():
    assert set(served_actions()) == set(DOMAIN["actions"])


def test_the_slot_names_are_the_domains_slots():
    names = {value for key, value in vars(slot_names).items() if key.isupper() and isinstance(value, str)}
    assert names == set(DOMAIN["slots"])
    assert all(hasattr(Filters(), name) for name in slot_names.FILTERS)  # filter_events reads them off Filters


def utter_calls() -> list[tuple[str, set[str]]]:
    """(response name, variables given) of every utter_message / show_listing call in actions/."""
    calls = []
    for path in Path(actions.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            called = getattr(node.func, "attr", getattr(node.func, "id", "")) if isinstance(node, ast.Call) else ""
            if called not in ("utter_message", "show_listing"):
                continue
            kwargs = {k.arg: k.value for k in node.keywords if k.arg}
            response = kwargs.get("response")
            if response is None or isinstance(response, ast.Name):  # text of its own; show_listing's own call
                continue
            # A computed name (f"utter_relax_{...}" if ... else "utter_no_results"): every name it can make.
            parts = [str(v.value) for v in ast.walk(response) if isinstance(v, ast.Constant)]
            names = {name for name in DOMAIN["responses"] for part in parts if name == part
                     or (part.endswith("_") and name.startswith(part))}
            filled = set(kwargs) | ({"products"} if called == "show_listing" else set())
            calls += [(name, filled - {"response", "json_message", "buttons"}) for name in names
                      if name.startswith("utter_")]
    return calls


def test_every_response_an_action_sends_is_in_the_domain_and_gets_its_variables():
    calls = utter_calls()
    assert {f"utter_relax_{name}" for name in RELAX_ORDER} <= set(search_action.RESPONSES)
    assert len(calls) > 30
    for name, variables in calls:
        assert name in DOMAIN["responses"], name
        for variant in DOMAIN["responses"][name]:  # every variable the text uses is filled by the call
            assert set(re.findall(r"{(\w+)}", variant["text"])) <= variables, (name, variables)


def test_no_action_uses_the_old_template_argument():
    for path in Path(actions.__file__).parent.glob("*.py"):
        assert "template=" not in path.read_text(), path



# ---- failures: one wrapper for every action ------------------------------------------------------


def served_actions() -> dict[str, object]:
    """Action name -> the action object `rasa run actions` serves (rasa-sdk registers every Action
    subclass imported so far, other test modules' too: only the actions package's)."""
    executor = ActionExecutor()
    executor.register_package(actions)
    return {name: run.__self__ for name, run in executor.actions.items()
            if type(run.__self__).__module__.split(".")[0] == "actions"}


def test_every_action_runs_through_the_one_failure_wrapper():
    for name, action in served_actions().items():
        assert isinstance(action, ApologisingAction), name
        assert type(action).run is ApologisingAction.run, name                 # none catches on its own
        assert action.apology in DOMAIN["responses"], name


class Broken:
    """A product search or shopper store whose every attribute fails, as a lost file would."""

    def __getattr__(self, name: str):
        raise RuntimeError("the file is gone")


@pytest.mark.parametrize("action, slots, apology, logger, what", [
    ("action_view_cart", {}, "utter_action_failed", "actions.cart", "action_view_cart failed"),
    ("action_show_more", {"listing": {"kind": "search"}}, "utter_search_unavailable", "actions.search",
     "show more failed"),
    ("action_product_details", {"focus_product_id": "m1"}, "utter_action_failed", "actions.products",
     "action_product_details failed"),
    ("action_forget_me", {}, "utter_action_failed", "actions.account", "forget_me failed"),
])
def test_a_failing_action_apologises_and_logs_the_traceback_on_its_modules_logger(caplog, action, slots, apology,
                                                                                    logger, what):
    services.use(Broken(), Broken())
    dispatcher = CollectingDispatcher()
    try:
        events = served_actions()[action].run(dispatcher, tracker("my secret words", slots=slots), DOMAIN)
    finally:
        services.use(None)

    assert [m["response"] for m in dispatcher.messages] == [apology] and events == []
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert (record.name, record.getMessage()) == (logger, what)
    assert record.exc_info is not None and "secret" not in caplog.text


# ---- a shop's aliases: a brand or product type named in the shopper's own script ("彪马" for Puma) --


ALIASED = PRESETS["default"].with_columns(id="ProductID", title="ProductName", brand="ProductBrand", price="Price")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def aliased_shop(tmp_path_factory):
    """The fashion fixture imported with alias files of good and bad rows."""
    folder = tmp_path_factory.mktemp("aliased")
    aliases = write(folder / "aliases.csv", "alias,brand\n彪马,puma\n耐克,Nike\n,Levis\n阿迪,Nobrand\n耐克,Roadster\n"
                                            "levis jeans,Levis\n")
    types = write(folder / "types.csv", "alias,category\n牛仔裤,Jeans\n跑鞋,running shoes\n沙发,sofa\ndenims,jeans\n")
    report = import_catalog(FIXTURES / "fashion_inr.csv", folder / "catalog.db", mapping=ALIASED,
                            brand_aliases=aliases, category_aliases=types, progress=False)
    search = searched(folder)
    yield search, report
    search.catalog.close()


def test_an_import_keeps_the_aliases_of_catalog_brands_and_names_the_lines_it_skipped(aliased_shop):
    search, report = aliased_shop
    assert search.catalog.shop().brand_aliases == {"彪马": "Puma", "耐克": "Nike", "levis jeans": "Levis"}
    assert search.catalog.stats()["brand_aliases"] == 3                  # `shopbot catalog stats` shows it
    assert search.catalog.shop().category_aliases == {"牛仔裤": "jeans", "跑鞋": "running shoes", "denims": "jeans"}
    assert [w for w in report.warnings if w.startswith("types.csv")] == [
        "types.csv line 4: the catalog has no category 'sofa'; alias '沙发' skipped."]
    assert [w for w in report.warnings if w.startswith("aliases.csv")] == [
        "aliases.csv line 4: an empty alias or brand; skipped.",
        "aliases.csv line 5: the catalog has no brand 'Nobrand'; alias '阿迪' skipped.",
        "aliases.csv line 6: alias '耐克' is given twice; the first kept.",
    ]


def test_an_alias_file_without_its_columns_fails_the_import_and_keeps_the_old_catalog(aliased_shop, tmp_path):
    search, _ = aliased_shop
    before = search.catalog.path.read_bytes()
    with pytest.raises(CatalogImportError, match="no brand column"):
        import_catalog(FIXTURES / "fashion_inr.csv", search.catalog.path, mapping=ALIASED,
                       brand_aliases=write(tmp_path / "a.csv", "alias,name\n彪马,Puma\n"), progress=False)
    assert search.catalog.path.read_bytes() == before


def test_a_message_names_a_brand_by_its_alias(aliased_shop):
    vocabulary = Vocabulary.from_catalog(aliased_shop[0].catalog)
    assert vocabulary.brand_in("只要彪马的") == "Puma" and vocabulary.brand("耐克") == "Nike"
    assert vocabulary.brand_in("any levis jeans?") == "Levis"   # a Latin alias: in whole words
    assert vocabulary.brand_in("只要Puma的") == vocabulary.brand_in("puma的跑鞋") == "Puma"  # Latin inside Chinese
    assert vocabulary.brand_in("我要买鞋") is None
    assert vocabulary.category_in("我想买牛仔裤，只要彪马的") == "jeans" and vocabulary.category("跑鞋") == "running shoes"
    assert vocabulary.category_in("show me denims") == "jeans" and vocabulary.category_in("我要买鞋") is None


def test_a_chinese_refinement_and_search_filter_by_the_brand_and_type_an_alias_names(aliased_shop, tmp_path):
    for _ in injected(aliased_shop[0], tmp_path):
        _, events = run(tracker("只要彪马的", intent="refine_search", slots={"query": "shoes"}))
        assert slot_values(events)["brand"] == "Puma"
        _, events = run(tracker("耐克 shoes"))
        assert slot_values(events)["brand"] == "Nike"
        _, events = run(tracker("只要Puma的", {"brand": "Nike"}, intent="refine_search"))  # DIET's tag of a Chinese
        assert slot_values(events)["brand"] == "Puma"                                     # text: the words win
        _, events = run(tracker("有没有跑鞋", intent="recommend"))          # a Chinese message, any shopping intent
        assert slot_values(events)["category"] == "running shoes"


def test_the_shipped_aliases_name_brands_and_categories_of_the_shipped_catalog(tmp_path):
    report = import_catalog(config.SHIPPED_PRODUCTS, tmp_path / "catalog.db", mapping="recbole",
                            brand_aliases=config.SHIPPED_BRAND_ALIASES,
                            category_aliases=config.SHIPPED_CATEGORY_ALIASES, progress=False)
    assert [w for w in report.warnings if "aliases.csv" in w] == []
    with Catalog.open(tmp_path / "catalog.db") as catalog:
        shop = catalog.shop()
    for aliases, path in ((shop.brand_aliases, config.SHIPPED_BRAND_ALIASES),
                          (shop.category_aliases, config.SHIPPED_CATEGORY_ALIASES)):
        assert len(aliases) == len(path.read_text(encoding="utf-8").splitlines()) - 1
    assert shop.brand_aliases["美宝莲"] == "Maybelline" and shop.category_aliases["洗发水"] == "Shampoos"
