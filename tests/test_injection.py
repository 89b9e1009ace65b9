"""SQL- and script-injection probes through import, search, actions, cart and rendering (issue 6).

Every probe must be stored and shown as plain text and change nothing else. The importer, the
catalog, the ranker (with the fake WordHashEncoder), the actions (through rasa-sdk's executor), the
shopper store, Rasa's own payload parser and the channel drawers are all real; stored values are
read back with plain sqlite3, never through the code under test.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
from rasa.shared.nlu.training_data.message import Message

from actions import cards, services
from actions.listing import button
from actions.prices import parse_price
from actions.search import build_filters
from actions.vocabulary import Vocabulary
from bot.channels import Slack
from recommender import config
from recommender.catalog.products import Catalog
from recommender.catalog.importer import import_catalog
from recommender import Filters, ProductSearch
from recommender.store import ShopStore
from tests.test_actions import DOMAIN, HISTORIES, PRODUCTS, open_shop
from tests.test_channels import RASA_DOMAIN, Chat, deliver
from tests.test_dialogue_actions import Conversation

# Each probe has a word of its own, so a search for its text can find its product.
PROBES = [
    "'; DROP TABLE products; --",
    '" OR 1=1 -- quoted',
    "Robert'); DELETE FROM products;--",
    "y' OR 'a'='a",
    "1; UPDATE products SET price = 0 WHERE 'a'='a",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "{{7*7}} ${7*7} jinja",
    "NEAR(lash mascara) title:* \"unbalanced",
    "lash* OR shampoo AND NOT ^x -y",
    "percent% under_score wildcard",
    "nul byte control [31m rtl override",  # control characters are stripped at import (test_import_hostile.py)
    "<https://evil.example|Refund> <!channel> A & B",
]
FTS_SYNTAX = ["lash*", "NEAR(lash mascara)", "title:lash", "{title brand}: lash", '"unbalanced lash', "^lash",
              "lash AND NOT shampoo", "-lash", "lash OR", "*", "(", '"', "products_fts MATCH '*'"]
STORE_TABLES_WITH_IDS = ("cart", "feedback", "events", "order_items")


def probe_products() -> list[dict[str, Any]]:
    """One product per probe: the probe is its id, title, brand and leaf category."""
    return [{"id": p, "title": p, "brand": p, "category": ["Beauty", "Probes", p], "price": round(1 + i / 4, 2)}
            for i, p in enumerate(PROBES)]


def stored_product(db_path: Path, product_id: str) -> tuple | None:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT id, title, brand, category, category_path, price, typeof(id), typeof(title)"
                            " FROM products WHERE id = ?", [product_id]).fetchone()


# ---- import ---------------------------------------------------------------------------------------


def probe_csv() -> tuple[str, dict[int, str]]:
    """A products CSV: one probe row per probe, then rows with bad values; -> (text, line -> bad value)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "title", "brand", "category", "price"])
    for p in probe_products():
        writer.writerow([p["id"], p["title"], p["brand"], json.dumps(p["category"]), p["price"]])
    bad = {}
    for pid, category, price in [("bad-price-1", "Beauty", "1; DROP TABLE products"),
                                 ("bad-price-2", "Beauty", "' OR 1=1 --"),
                                 ("bad-price-3", "Beauty", "<script>9</script>"),
                                 ("bad-category", "'; DROP TABLE products; --", "2")]:
        line = buf.getvalue().count("\n") + 1                        # physical line, header = line 1
        bad[line] = price if pid.startswith("bad-price") else category
        writer.writerow([pid, "Bad row", "Acme", category, price])
    return buf.getvalue(), bad


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[Path, Any, dict[int, str]]:
    folder = tmp_path_factory.mktemp("import")
    text, bad = probe_csv()
    (folder / "products.csv").write_text(text, encoding="utf-8")
    rows = [{"shopper_id": shopper, "product_id": product, "position": i}
            for shopper in PROBES for i, product in enumerate(PROBES[:3])]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, ["shopper_id", "product_id", "position"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (folder / "interactions.csv").write_text(buf.getvalue(), encoding="utf-8")
    report = import_catalog(folder / "products.csv", folder / "catalog.db",
                            interactions=folder / "interactions.csv", progress=False)
    return folder / "catalog.db", report, bad


@pytest.mark.parametrize("probe", PROBES)
def test_import_stores_each_probe_byte_for_byte_as_text(imported, probe):
    db_path, _, _ = imported
    assert stored_product(db_path, probe) == (probe, probe, probe, probe, f"Beauty > Probes > {probe}",
                                              round(1 + PROBES.index(probe) / 4, 2), "text", "text")
    with sqlite3.connect(db_path) as conn:                           # the very bytes, UTF-8, NUL included
        assert conn.execute("SELECT CAST(title AS BLOB), CAST(brand AS BLOB) FROM products WHERE id = ?",
                            [probe]).fetchone() == (probe.encode(), probe.encode())
    with Catalog.open(db_path) as catalog:
        product = catalog.get_product(probe)
        assert (product.title, product.brand, product.category_path) == (probe, probe, ("Beauty", "Probes", probe))


def test_import_changes_nothing_else_and_reports_bad_values_with_their_line(imported):
    db_path, report, bad = imported
    with sqlite3.connect(db_path) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"products", "products_fts", "shoppers", "interactions", "meta"} <= tables
        assert conn.execute("SELECT count(*) FROM products").fetchone()[0] == len(PROBES)
        assert conn.execute("SELECT count(*) FROM shoppers").fetchone()[0] == len(PROBES)
        assert conn.execute("SELECT count(*) FROM interactions").fetchone()[0] == 3 * len(PROBES)
        assert conn.execute("SELECT count(*) FROM products WHERE price = 0").fetchone()[0] == 0
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.execute("INSERT INTO products_fts(products_fts) VALUES ('integrity-check')")  # raises if corrupt
        for shopper in PROBES:                                        # probe shopper ids, verbatim, in order
            assert conn.execute("SELECT product_id FROM interactions WHERE shopper_id = ? ORDER BY position",
                                [shopper]).fetchall() == [(p,) for p in PROBES[:3]]
    assert (report.products, report.shoppers, report.interactions) == (len(PROBES), len(PROBES), 3 * len(PROBES))
    assert [e.line for e in report.errors] == sorted(bad)
    for error in report.errors:                                       # the bad value quoted, not altered
        assert repr(bad[error.line]) in error.reason, error


def test_probe_ids_in_a_sequences_file_are_kept_verbatim(tmp_path):
    ids = ["'OR'1'='1';--", "<script>alert(1)</script>", "Robert');DROP/**/TABLE/**/shoppers;--", "%", "_"]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"id": i, "title": "t " + i}) + "\n" for i in ids))
    (tmp_path / "h.txt").write_text("".join(f"{i} {' '.join(ids)}\n" for i in ids))
    report = import_catalog(tmp_path / "p.jsonl", tmp_path / "c.db", interactions=tmp_path / "h.txt", progress=False)
    assert report.ok and report.interactions == len(ids) ** 2
    with sqlite3.connect(tmp_path / "c.db") as conn:
        assert sorted(r[0] for r in conn.execute("SELECT id FROM shoppers")) == sorted(ids)
        for shopper in ids:
            assert [r[0] for r in conn.execute("SELECT product_id FROM interactions WHERE shopper_id = ?"
                                               " ORDER BY position", [shopper])] == ids


def test_ids_with_html_entities_in_an_interactions_table_are_kept_verbatim(tmp_path):
    ids = ["AT&amp;T-1", "&lt;script&gt;", "x&#39; OR &#39;1&#39;=&#39;1"]
    (tmp_path / "p.csv").write_text("id,title\n" + "".join(f'"{i}",title {n}\n' for n, i in enumerate(ids)))
    (tmp_path / "i.csv").write_text("shopper_id,product_id,position\n" + "".join(f'"{i}","{i}",1\n' for i in ids))
    report = import_catalog(tmp_path / "p.csv", tmp_path / "c.db", interactions=tmp_path / "i.csv", progress=False)
    with sqlite3.connect(tmp_path / "c.db") as conn:
        assert sorted(conn.execute("SELECT id FROM products")) == sorted((i,) for i in ids)
        assert sorted(conn.execute("SELECT shopper_id, product_id FROM interactions")) == sorted((i, i) for i in ids)
    assert report.ok, report.errors


def test_html_entities_in_text_fields_become_literal_characters_and_stay_text(tmp_path):
    # docs/catalog-format.md: titles and brands have their HTML entities unescaped; the result is plain text.
    (tmp_path / "p.csv").write_text('id,title,brand\np1,"&lt;script&gt;alert(1)&lt;/script&gt;",A&amp;B\n')
    import_catalog(tmp_path / "p.csv", tmp_path / "c.db", progress=False)
    assert stored_product(tmp_path / "c.db", "p1")[1:3] == ("<script>alert(1)</script>", "A&B")


# ---- search ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> ProductSearch:
    """The actions' small shop plus one product per probe, searched with the fake WordHashEncoder."""
    search = open_shop(tmp_path_factory.mktemp("probe-shop"), PRODUCTS + probe_products(), HISTORIES)
    yield search
    search.catalog.close()


def assert_real_rows(search: ProductSearch, results) -> None:
    """Every result is the catalog's own row, unchanged."""
    for r in results:
        row = stored_product(search.catalog.path, r.product.id)
        assert row is not None and (r.product.title, r.product.brand, r.product.category, r.product.price) == \
            (row[1], row[2], row[3], row[5])


@pytest.mark.parametrize("probe", PROBES)
def test_a_probe_as_query_brand_or_category_is_plain_text(shop, probe):
    by_text = shop.search(probe, n=5).results
    assert_real_rows(shop, by_text)
    assert probe in [r.product.id for r in by_text]                   # its own product, found by its text

    for filters in (Filters(brand=probe), Filters(category=probe), Filters(brand=probe, category=probe)):
        outcome = shop.search(probe, filters, n=5)
        assert [r.product.id for r in outcome.results] == [probe]      # exactly the product with that value
        assert outcome.results[0].product.title == probe and outcome.results[0].product.brand == probe

    other = shop.search("mascara", Filters(brand=probe + " nope"), n=5)
    assert other.results == [] and other.relax == "brand"              # a probe matches no other brand


@pytest.mark.parametrize("probe", PROBES)
def test_probes_in_price_entities_set_no_price_filter(shop, probe):
    vocabulary = Vocabulary.from_catalog(shop.catalog)
    assert parse_price(probe) is None
    filters = build_filters({"price_min": probe, "price_max": probe, "brand": probe, "category": probe}, vocabulary)
    assert filters == Filters(brand=probe, category=probe)            # names resolve exactly; prices are no filter


@pytest.mark.parametrize("query", FTS_SYNTAX + PROBES)
def test_keyword_search_treats_fts5_syntax_as_words(shop, query):
    with sqlite3.connect(shop.catalog.path) as conn:
        texts = {pid: " ".join(x or "" for x in rest).lower()
                 for pid, *rest in conn.execute("SELECT id, title, brand, category_path FROM products")}
    words = [w.lower() for w in re.findall(r"\w+", query)]
    hits = shop.catalog.keyword_search(query)
    assert len(hits) < len(texts)                                     # never "everything"
    for pid, score, matched in hits:                                  # each hit contains a word of the query
        assert score > 0 and matched and set(matched) <= set(words)
        assert any(re.search(rf"\b{re.escape(w[:4])}", texts[pid]) for w in matched), (pid, query)
    for pid, text in texts.items():                                   # and every product with a query word is hit
        if any(re.search(rf"(?<![^\W_]){re.escape(w)}(?![^\W_])", text) for w in words):
            assert pid in {h[0] for h in hits}, (pid, query)
    if not words:
        assert hits == []


# ---- actions and the cart ----------------------------------------------------------------------------


@pytest.fixture
def store(shop, tmp_path):
    shop_store = ShopStore.open(tmp_path / "shop.db")
    services.use(shop, shop_store)
    yield shop_store
    services.use(None)
    shop_store.close()


def store_rows(store: ShopStore, value: str) -> dict[str, int]:
    """Rows of the store naming ``value`` as a product or shopper, per table (plain sqlite3)."""
    with sqlite3.connect(store.path) as conn:
        found = {}
        for table in STORE_TABLES_WITH_IDS:
            columns = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
            where = " OR ".join(f"{c} = ?" for c in ("shopper_id", "product_id") if c in columns)
            found[table] = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}",
                                        [value] * where.count("?")).fetchone()[0]
    return found


def parse(text: str) -> tuple[str, dict[str, str]]:
    """Rasa's own parser of ``/intent{json}`` messages (a button payload or a typed one)."""
    [message] = RegexMessageHandler().process([Message(data={"text": text})], RASA_DOMAIN)
    return message.get("intent")["name"], {e["entity"]: e["value"] for e in message.get("entities", [])}


def assert_helpful(message: dict) -> None:
    """A domain response meant for the shopper, its variables filled, not an error apology."""
    assert message["response"] in DOMAIN["responses"]
    assert message["response"] not in ("utter_action_failed", "utter_search_unavailable"), message["response"]
    template = DOMAIN["responses"][message["response"]][0]["text"]
    for name in set(re.findall(r"{(\w+)}", template)) - {"summary"}:
        assert isinstance(message.get(name), str) and message[name].strip(), (name, message)


UNKNOWN_ID = "x' OR '1'='1"                                            # the issue's own example
UNKNOWN_ID_INTENTS = [
    "add_to_cart",
    "like_product",
    "dislike_product",
    "remove_from_cart",
    "similar_products",
    "explain",
    "product_details",
    "compare_products",
]


@pytest.mark.parametrize("intent", UNKNOWN_ID_INTENTS)
def test_a_probe_product_id_that_is_not_in_the_catalog_gets_a_helpful_reply_and_stores_nothing(
        shop, store, caplog, intent):
    assert stored_product(shop.catalog.path, UNKNOWN_ID) is None
    alice = Conversation("alice")
    alice.say("add_to_cart", "/add_to_cart", product_id="m1")
    chat = Conversation("probe-shopper")
    chat.say("add_to_cart", "/add_to_cart", product_id="o1")          # a cart to remove from
    before = {s: store.cart_lines(s) for s in ("alice", "probe-shopper")}

    parsed_intent, entities = parse(f'/{intent}{{"product_id": "{UNKNOWN_ID}"}}')
    assert (parsed_intent, entities) == (intent, {"product_id": UNKNOWN_ID})
    with caplog.at_level(logging.ERROR):
        messages = chat.say(intent, f"/{intent}", **entities)

    assert len(messages) == 1
    assert_helpful(messages[0])
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert store_rows(store, UNKNOWN_ID) == dict.fromkeys(STORE_TABLES_WITH_IDS, 0)
    assert {s: store.cart_lines(s) for s in ("alice", "probe-shopper")} == before


def test_a_cart_line_whose_product_left_the_catalog_can_still_be_removed(shop, store):
    store.add_to_cart("shopper", "gone-from-the-catalog")                # a product since dropped by an import
    [message] = Conversation().say("remove_from_cart", "/remove_from_cart", product_id="gone-from-the-catalog")
    assert_helpful(message)
    assert "that product" in message["titles"] and store.cart_lines("shopper") == []


@pytest.mark.parametrize("probe", PROBES)
def test_search_action_with_probe_entities_lists_the_probe_product_verbatim(store, probe):
    chat = Conversation()
    [message] = chat.say("search_products", probe, brand=probe, category=probe, price_max=probe)

    assert message["response"] == "utter_search_results" and chat.shown == [probe]
    assert (chat.slots["brand"], chat.slots["category"], chat.slots["price_max"]) == (probe, probe, None)
    assert message["products"].startswith(f"1. {probe} - {probe}, ")   # the numbered text line, verbatim
    [card] = message["custom"]["products"]
    assert (card["id"], card["title"], card["brand"], card["category"]) == (probe, probe, probe, probe)
    for b in card["buttons"]:                                         # the buttons name the product exactly
        assert parse(b["payload"])[1] == {"product_id": probe}


@pytest.mark.parametrize("probe", PROBES)
def test_probe_product_id_from_a_button_adds_details_and_likes_that_product(store, probe):
    chat = Conversation()
    for intent in ("add_to_cart", "product_details", "like_product"):
        _, entities = parse(button("x", intent, probe)["payload"])
        [message] = chat.say(intent, f"/{intent}", **entities)
        assert_helpful(message)
    assert [(line.product_id, line.quantity) for line in store.cart_lines("shopper")] == [(probe, 1)]
    assert store.feedback("shopper").liked == [probe]
    assert message["titles"] == probe


@pytest.mark.parametrize("sender", ["' OR '1'='1", "%", "_", "alice'; DELETE FROM cart; --",
                                    "<script>alert(1)</script>"])
def test_a_probe_sender_id_has_its_own_cart(store, sender):
    Conversation("alice").say("add_to_cart", "/add_to_cart", product_id="m1")
    Conversation("bob").say("like_product", "/like_product", product_id="o1")
    chat = Conversation(sender)
    chat.say("add_to_cart", "/add_to_cart", product_id="n1")
    chat.say("add_to_cart", "/add_to_cart", product_id="n1")

    view = chat.say("view_cart", "my cart")[0]
    assert view["response"] == "utter_cart_contents" and view["custom"]["cart"]["count"] == 2
    assert [(line.product_id, line.quantity) for line in store.cart_lines(sender)] == [("n1", 2)]
    assert [(line.product_id, line.quantity) for line in store.cart_lines("alice")] == [("m1", 1)]
    order = chat.say("checkout", "checkout")[0]
    assert order["response"] == "utter_order_placed" and order["total"] == "$24"
    assert store.cart_lines(sender) == [] and len(store.cart_lines("alice")) == 1
    assert [len(store.orders(s)) for s in (sender, "alice", "bob")] == [1, 0, 0]
    store.forget(sender)
    assert store.feedback("bob").liked == ["o1"] and len(store.cart_lines("alice")) == 1


# ---- rendering ---------------------------------------------------------------------------------------

SLACK_PROBE = PROBES[-1]                                             # < > & and Slack's own <...|...> syntax


def listing_for(channel: str, probe: str) -> list[dict]:
    return Chat(channel).run("action_search_products", "search_products", probe, brand=probe)


@pytest.mark.parametrize("probe", PROBES)
def test_rest_and_socketio_get_probe_text_unchanged(store, probe):
    [message] = listing_for("rest", probe)
    assert f"1. {probe} - {probe}, " in message["products"]
    [card] = message["custom"]["products"]
    assert (card["id"], card["title"], card["brand"], card["category"]) == (probe, probe, probe, probe)
    [message] = listing_for("socketio", probe)
    assert message["custom"]["data"]["products"] == [card]


@pytest.mark.parametrize("probe", PROBES)
def test_messenger_and_telegram_cards_carry_probe_text_as_plain_text(store, probe):
    fb = listing_for("facebook", probe)[0]["custom"]["attachment"]["payload"]["elements"][0]
    assert fb["title"] == cards.clip(f"1. {probe}", cards.MESSENGER_TEXT) and probe[:20] in fb["subtitle"]
    tg = listing_for("telegram", probe)[0]["custom"]
    assert "parse_mode" not in tg                                     # Telegram shows it as plain text
    assert tg["text"].startswith(f"1. {probe}\n")


def slack_escaped(text: str) -> str:
    """Slack's rule for text that is not markup: & < > become &amp; &lt; &gt; (api.slack.com formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def assert_no_slack_markup(text: str) -> None:
    assert "<" not in text and ">" not in text and not re.search(r"&(?!amp;|lt;|gt;)", text), text


@pytest.mark.parametrize("probe", PROBES)
def test_slack_card_sections_escape_probe_text(store, probe):
    section = listing_for("slack", probe)[0]["custom"]["blocks"][0]["text"]["text"]
    assert section.split("\n")[0] == f"*1. {slack_escaped(probe)}*"
    assert_no_slack_markup(section)


def test_slack_card_fallback_text_escapes_probe_text(store):
    fallback = listing_for("slack", SLACK_PROBE)[0]["custom"]["text"]
    assert fallback.startswith(f"1. {slack_escaped(SLACK_PROBE)} - ")
    assert_no_slack_markup(fallback)


class RecordingSlackOutput:
    """The output channel our Slack input gives Rasa, with its HTTP call recorded instead of sent."""

    def __init__(self) -> None:
        self.posted: list[dict] = []
        self.output = Slack.from_credentials({"slack_token": "xoxb-test", "slack_signing_secret": "s"}) \
            .get_output_channel("D1")

        async def record(channel: str, **kwargs: Any) -> None:
            self.posted.append({"channel": channel, **kwargs})

        self.output._post_message = record


def test_slack_text_replies_escape_probe_text(store):
    slack = RecordingSlackOutput()
    deliver(Chat("slack").run("action_product_details", "product_details", product_id=SLACK_PROBE), slack.output, "D1")
    texts = [p["text"] for p in slack.posted if "blocks" not in p]   # the card went as blocks
    assert texts and texts[0].split("\n")[0] == slack_escaped(SLACK_PROBE)
    for text in texts:
        assert_no_slack_markup(text)


def test_the_widget_puts_text_into_the_page_as_text_only():
    source = (config.REPO_ROOT / "bot" / "web" / "shopbot-widget.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "setAttribute(\"on", "srcdoc"):
        assert sink not in source, sink
    assert "textContent" in source
