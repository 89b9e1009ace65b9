"""End to end: the trained Rasa model, the action server and `rasa run`, over real HTTP.

The set-up (catalog, embeddings, lookups, `rasa train`, each skipped when its inputs did not change)
is checked once a session; the session's `assistant` (tests/conftest.py, shared with the other
modules that talk to it, each with senders of its own) runs both servers on free local ports and
stops them by PID.
Replies are checked against the SQLite catalog file, not against the code's own output.
"""

from __future__ import annotations

import json
import re
import sqlite3
import statistics
import subprocess
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from actions.shop import ShopWords
from bot import build, settings
from bot.servers import Assistant, post_message
from recommender import Catalog, config
from recommender import format_price

pytestmark = pytest.mark.slow


def shown_products(replies: list[dict]) -> list[dict]:
    """The product cards of the replies' custom payloads."""
    return [p for reply in replies for p in (reply.get("custom") or {}).get("products", [])]


def reply_text(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def test_shampoo_under_10_names_real_cheap_shampoos(assistant: Assistant,
                                                    catalog_db: sqlite3.Connection) -> None:
    replies = assistant.send("e2e-shampoo", "show me shampoo under $10")
    products = shown_products(replies)
    text = reply_text(replies)
    assert 1 <= len(products) <= 5, replies
    for card in products:
        row = catalog_db.execute("SELECT title, category, price FROM products WHERE id = ?",
                                 (card["id"],)).fetchone()
        assert row is not None, f"{card['id']} is not in the catalog"
        title, category, price = row
        assert category == "Shampoos", (title, category)
        assert price is not None and price <= 10, (title, price)
        assert format_price(price) in text
        assert title[:40] in text, f"reply does not name {title!r}:\n{text}"
        assert card["reasons"], card


def domain_texts(*responses: str) -> set[str]:
    domain = yaml.safe_load((config.REPO_ROOT / "domain.yml").read_text())
    return {variant["text"] for name in responses for variant in domain["responses"][name]}


def test_greeting_and_off_topic_request_get_the_shops_replies(assistant: Assistant) -> None:
    with Catalog.open(config.catalog_path()) as catalog:
        words = ShopWords.of(catalog)
    assert reply_text(assistant.send("e2e-chat", "hello there")) == words.greeting()
    assert shown_products(assistant.send("e2e-example", words.request()))   # the greeting's example finds products
    off_topic = reply_text(assistant.send("e2e-chat", "can you book me a flight to Paris?"))
    assert off_topic in {words.out_of_scope(), *domain_texts("utter_clarify")}


def test_a_shipped_shopper_gets_results_personalised_from_their_own_history(
        assistant: Assistant, catalog_db: sqlite3.Connection) -> None:
    shopper = catalog_db.execute(
        "SELECT i.shopper_id FROM interactions i JOIN products p ON p.id = i.product_id"
        " WHERE p.category = 'Nail Polish' GROUP BY i.shopper_id ORDER BY count(*) DESC, i.shopper_id LIMIT 1"
    ).fetchone()[0]
    history = {title for (title,) in catalog_db.execute(
        "SELECT p.title FROM interactions i JOIN products p ON p.id = i.product_id WHERE i.shopper_id = ?",
        (shopper,))}
    anonymous = shown_products(assistant.send("e2e-anonymous", "show me nail polish"))
    personal = shown_products(assistant.send(shopper, "show me nail polish"))
    assert [p["id"] for p in personal] != [p["id"] for p in anonymous]
    named = [m.group(2) for card in personal for reason in card["reasons"]
             if (m := re.match(r"(because you liked|often bought after) (.+?)(?: \(\d+ shoppers\))?$", reason))]
    assert named, personal
    for title in named:
        assert any(t == title or (title.endswith("…") and t.startswith(title[:-1].rstrip())) for t in history), title


def rows(db: sqlite3.Connection, cards: list[dict]) -> dict[str, tuple]:
    """id -> (brand, category, category_path, price) for the products on the cards, from the file."""
    ids = [c["id"] for c in cards]
    found = {r[0]: r[1:] for r in db.execute(
        f"SELECT id, brand, category, category_path, price FROM products WHERE id IN ({','.join('?' * len(ids))})", ids)}
    assert set(found) == set(ids), "a card names a product that is not in the catalog"
    return found


def test_a_multi_turn_shopping_conversation(assistant: Assistant, catalog_db: sqlite3.Connection,
                                            shared_state: Path) -> None:
    sender = "e2e-multi-turn"
    brand = catalog_db.execute(                                        # the brand with most cheap shampoos
        "SELECT brand FROM products WHERE category = 'Shampoos' AND price <= 10 AND brand IS NOT NULL"
        " GROUP BY brand ORDER BY count(*) DESC LIMIT 1").fetchone()[0]

    shown = shown_products(assistant.send(sender, "show me shampoo"))
    assert shown and all(r[1] == "Shampoos" for r in rows(catalog_db, shown).values())

    shown = shown_products(assistant.send(sender, "under $10"))
    assert shown and all(r[1] == "Shampoos" and r[3] <= 10 for r in rows(catalog_db, shown).values())

    shown = shown_products(assistant.send(sender, f"only {brand}"))
    facts = rows(catalog_db, shown)
    assert shown and all(r[0] == brand and r[1] == "Shampoos" and r[3] <= 10 for r in facts.values()), facts
    prices = [r[3] for r in facts.values()]

    replies = assistant.send(sender, "show me cheaper ones")
    cheaper = shown_products(replies)
    if cheaper:                                                       # under the median price shown
        facts = rows(catalog_db, cheaper)
        assert all(r[0] == brand and r[1] == "Shampoos" for r in facts.values())
        assert max(r[3] for r in facts.values()) < statistics.median(prices)
        shown = cheaper
    else:                                                             # nothing cheaper exists: say so
        assert "Try raising your budget" in reply_text(replies)

    replies = assistant.send(sender, "tell me about the second one" if len(shown) > 1 else "tell me about the first one")
    detail = next(r["custom"]["product"] for r in replies if "product" in (r.get("custom") or {}))
    assert detail["id"] == shown[1 if len(shown) > 1 else 0]["id"]

    assistant.send(sender, "add number 1 to my cart")
    replies = assistant.send(sender, "what's in my cart?")
    cart = next(r["custom"]["cart"] for r in replies if "cart" in (r.get("custom") or {}))
    expected = catalog_db.execute("SELECT price FROM products WHERE id = ?", [shown[0]["id"]]).fetchone()[0]
    assert [line["id"] for line in cart["lines"]] == [shown[0]["id"]]
    assert cart["total"] == pytest.approx(expected) and f"Total: {format_price(expected)}" in reply_text(replies)

    store, tracker = shared_state / "shop.db", shared_state / "conversations.db"
    files = (store, tracker, config.catalog_path())
    assert rows_naming(store, sender) and rows_naming(tracker, sender)
    assert "Delete it all?" in reply_text(assistant.send(sender, "delete all my data"))
    assert reply_text(assistant.send(sender, "yes")).startswith("Done. I deleted your cart (1 product)")
    assert {str(path): rows_naming(path, sender) for path in files} == {str(path): {} for path in files}

    replies = assistant.send(sender, "what's in my cart?")          # a new conversation, an empty cart
    assert "Your cart is empty" in reply_text(replies), replies


def rows_naming(path: Path, text: str) -> dict[str, int]:
    """table.column -> number of rows of the SQLite file `path` whose text contains `text`."""
    found = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for column in [c[1] for c in db.execute(f'PRAGMA table_info("{table}")')]:
                n = db.execute(f'SELECT count(*) FROM "{table}" WHERE instr(CAST("{column}" AS TEXT), ?) > 0',
                               [text]).fetchone()[0]
                if n:
                    found[f"{table}.{column}"] = n
    return found


def test_a_conversation_and_its_cart_survive_a_restart_of_both_servers(
        catalog_db: sqlite3.Connection, tmp_path: Path, store_path: Path) -> None:
    sender, tracker = "e2e-restart", tmp_path / "conversations.db"
    with Assistant(build.model_path(), log_dir=tmp_path / "before", tracker_db=tracker) as bot:
        shown = shown_products(bot.send(sender, "show me shampoo under $10"))
        bot.send(sender, "add the first one to my cart")
    assert len(shown) >= 2

    with Assistant(build.model_path(), log_dir=tmp_path / "after", tracker_db=tracker) as bot:
        replies = bot.send(sender, "tell me about the second one")     # the list shown before the restart
        detail = next(r["custom"]["product"] for r in replies if "product" in (r.get("custom") or {}))
        assert detail["id"] == shown[1]["id"]
        more = shown_products(bot.send(sender, "show me more"))        # the same search, the next page
        facts = rows(catalog_db, more)
        assert more and all(r[1] == "Shampoos" and r[3] <= 10 for r in facts.values()), facts
        assert not {p["id"] for p in more} & {p["id"] for p in shown}
        replies = bot.send(sender, "show my cart")
        cart = next(r["custom"]["cart"] for r in replies if "cart" in (r.get("custom") or {}))
        assert [line["id"] for line in cart["lines"]] == [shown[0]["id"]]


CARD_FIELDS = {"id", "position", "title", "brand", "category", "price", "currency", "price_text", "facets", "image_url",
               "rating", "in_stock", "reasons", "buttons"}


def test_the_readme_curl_example_answers_with_the_documented_schema(assistant: Assistant,
                                                                    catalog_db: sqlite3.Connection) -> None:
    readme = (config.REPO_ROOT / "docs" / "http-api.md").read_text()
    section = readme.split("## REST API for integrators", 1)[1]
    command = re.search(r"```bash\n(curl .*?)```", section, re.S).group(1)
    command = command.replace("http://127.0.0.1:5005", assistant.url)
    replies = json.loads(subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                                        check=True, timeout=180).stdout)
    assert replies[0]["text"].startswith("Here's what I found"), replies
    listing = next(r["custom"] for r in replies if "custom" in r)
    assert listing["listing"] == "search" and listing["products"], listing
    for position, card in enumerate(listing["products"], start=1):
        assert set(card) == CARD_FIELDS and card["position"] == position
        price = catalog_db.execute("SELECT price FROM products WHERE id = ?", (card["id"],)).fetchone()[0]
        assert card["price"] == price <= 10
        assert [b["title"] for b in card["buttons"]] == ["Add to cart", "Similar", "Details"]
        assert all(b["payload"].endswith(json.dumps({"product_id": card["id"]})) for b in card["buttons"])
        assert card["reasons"] and all(isinstance(r, str) for r in card["reasons"])


def test_without_the_integrators_token_nothing_is_answered_and_the_http_api_is_off(assistant: Assistant) -> None:
    for token in ("", "wrong-token"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            post_message(assistant.rest_url, "e2e-intruder", "what's in my cart?", token=token or " ")
        assert refused.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as api:
        urllib.request.urlopen(f"{assistant.url}/conversations/e2e-shampoo/tracker")
    assert api.value.code == 404                                        # Rasa's HTTP API is not there


def test_the_http_api_when_on_answers_only_its_token(tmp_path: Path, store_path: Path) -> None:
    with Assistant(build.model_path(), log_dir=tmp_path, enable_api=True) as bot:
        tracker = f"{bot.url}/conversations/e2e-api/tracker"
        for url in (tracker, f"{tracker}?token=wrong"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(url)
            assert refused.value.code == 401
        bot.send("e2e-api", "hello")
        with urllib.request.urlopen(f"{tracker}?token={settings.secret('SHOPBOT_API_TOKEN')}") as answer:
            events = json.loads(answer.read())["events"]
        assert [e["text"] for e in events if e["event"] == "user"] == ["hello"]


def test_the_demo_shop_says_it_does_not_carry_running_shoes_and_lists_nothing(assistant: Assistant) -> None:
    replies = assistant.send("e2e-running-shoes", "show me running shoes")
    assert shown_products(replies) == [], replies
    assert "doesn't carry" in reply_text(replies), replies


def test_a_question_about_the_shops_policies_is_answered_from_its_policy_file(assistant: Assistant) -> None:
    """The demo shop's data/shop/policies.md: the section quoted; what it does not say goes to a person."""
    assert reply_text(assistant.send("e2e-policy", "do you ship to canada?")).startswith('From our Shipping policy: "')
    assert "30" in reply_text(assistant.send("e2e-policy", "how long do I have to return something?"))
    unknown = assistant.send("e2e-policy", "do you have a loyalty program?")
    assert reply_text(unknown) in domain_texts("utter_policy_unknown"), unknown


def test_a_question_the_nlu_reads_as_out_of_scope_is_still_answered_from_the_policy_file(
        assistant: Assistant, shared_state: Path) -> None:
    """The shop's phone line and opening hours are its own: the NLU's shop-neutral examples read "is there a phone
    number" as out of scope and do not understand "what time do you close"; the policy file answers both."""
    asked = ("is there a phone number", "what time do you close", "can you book me a flight to Paris?")
    replies = {text: reply_text(assistant.send("e2e-policy-unplaced", text)) for text in asked}
    with closing(sqlite3.connect(shared_state / "conversations.db")) as db:
        intents = dict(db.execute("SELECT json_extract(data, '$.text'), intent_name FROM events "
                                  "WHERE sender_id = ? AND type_name = 'user'", ("e2e-policy-unplaced",)))
    assert [intents[text] for text in asked] == ["out_of_scope", "nlu_fallback", "out_of_scope"], intents
    for text in asked[:2]:
        assert replies[text].startswith('From our Contact and opening hours policy: "'), replies
    assert "policy" not in replies["can you book me a flight to Paris?"], replies


def orders_api(assistant: Assistant, order_id: str, status: str, note: str | None = None) -> dict:
    """POST /orders/<id>/status on the action server, as a shop's own system does, with the orders token."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{assistant.action_port}/orders/{order_id}/status", method="POST",
        data=json.dumps({"status": status, "note": note}).encode(),
        headers={"Authorization": f"Bearer {settings.secret('SHOPBOT_ORDERS_TOKEN')}",
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def test_after_checkout_status_cancel_return_and_buy_again(assistant: Assistant, shared_state: Path) -> None:
    """The shop moves the order over HTTP; the shopper asks in words, in English and Chinese; another shopper
    who names the order learns nothing of it. What changed is read from the store file."""
    me = "e2e-orders"
    assistant.send(me, "show me mascara under $20")  # products with a price: checkout refuses one without
    assistant.send(me, "add the first one to my cart")
    assistant.send(me, "add the second one to my cart")
    placed = reply_text(assistant.send(me, "checkout"))
    assert (found := re.search(r"Order #(\d+) placed", placed)), placed
    number = found.group(1)
    assert reply_text(assistant.send(me, "where is my order?")).startswith(f"Order #{number} (2 items, $")

    assert orders_api(assistant, number, "shipped", "tracking 1Z999")["status"] == "shipped"
    status = reply_text(assistant.send(me, "has my order shipped?"))
    assert "is shipped" in status and "shipped (tracking 1Z999)" in status, status
    assert reply_text(assistant.send(me, "cancel my order")) == \
        f"Order #{number} is shipped: an order can only be cancelled before it ships."
    assert reply_text(assistant.send("e2e-orders-other", f"where is order #{number}?")) == \
        'I can\'t find that order. Say "show my orders" to see yours.'

    orders_api(assistant, number, "delivered")
    assert reply_text(assistant.send(me, "I want to return the second one")).startswith(
        f"Return this from order #{number}?\n2. ")
    assert reply_text(assistant.send(me, "yes")).startswith(f"Your return from order #{number} is recorded")
    assert "已送达" in reply_text(assistant.send(me, "我的订单到哪了"))
    assert reply_text(assistant.send(me, "buy that again")).startswith(f"Back in your cart from order #{number}")

    placed = reply_text(assistant.send(me, "checkout"))
    assert (found := re.search(r"Order #(\d+) placed", placed)), placed
    again = found.group(1)
    assert reply_text(assistant.send(me, "cancel my order")).startswith(f"Cancel order #{again} (")
    assert reply_text(assistant.send(me, "yes")) == f"Order #{again} is cancelled."
    with sqlite3.connect(shared_state / "shop.db") as db:
        assert db.execute("SELECT order_id, position FROM order_returns").fetchall() == [(int(number), 1)]
        assert [s for (s,) in db.execute("SELECT status FROM order_status WHERE order_id = ? ORDER BY change_id",
                                         [int(number)])] == ["placed", "shipped", "delivered"]
        assert db.execute("SELECT status FROM order_status WHERE order_id = ? ORDER BY change_id DESC LIMIT 1",
                          [int(again)]).fetchone() == ("cancelled",)
