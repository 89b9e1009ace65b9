"""End to end, watches: shoppers on Rasa's callback channel, on Telegram (a local stand-in of the Bot API) and on
Messenger (a local stand-in of the Graph API, which can refuse a message outside its 24-hour window) ask the
assistant serving the outdoor fixture to tell them when a product is back in stock or under a
price; `shopbot catalog update` changes the catalog; each watch's message reaches the shopper's own
channel through Rasa's HTTP API (trigger_intent) exactly once, with the app's own id (the callback
receiver's recipient_id, Telegram's chat_id); a Messenger user's watch that Meta refused reaches them when they
next write; a shopper of the web widget, in a real browser, sees theirs
when they next open the chat; the store file is read with SQL."""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import expect

from bot import settings
from bot.cli import cli
from bot.servers import Assistant
from recommender import import_catalog
from tests.test_actions import FIXTURES
from tests.test_channels import FB_SECRET, _Recorder, hub_signature
from tests.test_channels_telegram import BOT_NAME, SECRET, TOKEN, _BotAPI, update
from tests.test_variants import MAPPING
from tests.test_widget_browser import REPLY_MS, browser, demo_shop, open_chat, say  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow
UPDATES = itertools.count(100)


def recorder(handler: type) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.recorded = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="module")
def watched_shop(tmp_path_factory: pytest.TempPathFactory, store_path: Path,
                 trained_model: Path) -> Iterator[tuple[Assistant, Path, list, list, ThreadingHTTPServer]]:
    """The assistant serving the outdoor shop with its HTTP API on, the callback channel posting to a local
    receiver, Telegram's Bot API and Messenger's Graph API local stand-ins; the catalog file, what the callback
    receiver and Telegram got, and the Graph stand-in (its ``recorded``, its ``closed`` users)."""
    folder = tmp_path_factory.mktemp("watched-shop")
    import_catalog(FIXTURES / "variants_outdoor.csv", folder / "catalog.db", mapping=MAPPING, currency="EUR",
                   progress=False)
    receiver, receiving = recorder(_Recorder)
    telegram, serving = recorder(_BotAPI)
    graph, graphing = recorder(_Recorder)
    graph.closed = set()  # the Messenger users whose 24-hour window the test closes
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SHOPBOT_CATALOG", str(folder / "catalog.db"))
        env.setenv("SHOPBOT_CACHE", str(folder / "cache"))
        env.setenv("SHOPBOT_CALLBACK_URL", f"http://127.0.0.1:{receiver.server_address[1]}/callback")
        env.setenv("TELEGRAM_API_URL", f"http://127.0.0.1:{telegram.server_address[1]}")
        for name, value in (("TELEGRAM_TOKEN", TOKEN), ("TELEGRAM_BOT_NAME", BOT_NAME),
                            ("TELEGRAM_WEBHOOK_URL", "https://bot.example.com/webhooks/telegram/webhook"),
                            ("TELEGRAM_SECRET_TOKEN", SECRET), ("FACEBOOK_VERIFY", "verify-token"),
                            ("FACEBOOK_SECRET", FB_SECRET), ("FACEBOOK_PAGE_ACCESS_TOKEN", "page-test-token"),
                            ("FACEBOOK_API_URL", f"http://127.0.0.1:{graph.server_address[1]}")):
            env.setenv(name, value)
        with Assistant(trained_model, log_dir=folder / "servers", enable_api=True) as bot:
            env.setenv("SHOPBOT_RASA_URL", bot.url)
            yield bot, folder / "catalog.db", receiver.recorded, telegram.recorded, graph
    for server, thread in ((receiver, receiving), (telegram, serving), (graph, graphing)):
        server.shutdown()
        thread.join()


def post(url: str, body: dict, headers: dict[str, str]) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=180):
        pass


def on_callback(bot: Assistant, sender: str, text: str) -> None:
    post(f"{bot.url}/webhooks/callback/webhook", {"sender": sender, "message": text},
         {"Authorization": f"Bearer {settings.secret('SHOPBOT_REST_TOKEN')}"})


def on_telegram(bot: Assistant, chat_id: int, text: str) -> None:
    post(f"{bot.url}/webhooks/telegram/webhook", {**update(chat_id, text), "update_id": next(UPDATES)},
         {"X-Telegram-Bot-Api-Secret-Token": SECRET})


def on_messenger(bot: Assistant, user: str, text: str) -> None:
    body = {"object": "page", "entry": [{"messaging": [{"sender": {"id": user}, "recipient": {"id": "page"},
                                                        "message": {"mid": f"m{next(UPDATES)}", "text": text}}]}]}
    data = json.dumps(body).encode()
    request = urllib.request.Request(f"{bot.url}/webhooks/facebook/webhook", data=data, headers={
        "Content-Type": "application/json", "X-Hub-Signature": hub_signature(data)})
    with urllib.request.urlopen(request, timeout=180):
        pass


def said(recorded: list, key: str, value: object) -> list[str]:
    """The texts a receiver got for one recipient."""
    return [body.get("text", "") for _, body in recorded if str(body.get(key)) == str(value)]


def test_watches_reach_the_callback_app_and_telegram_once_each(watched_shop, store_path, tmp_path) -> None:
    bot, catalog, callback, telegram, _ = watched_shop
    on_callback(bot, "alice", "show me hiking socks")
    on_callback(bot, "alice", "including out of stock")
    on_callback(bot, "alice", "tell me when the first one is back in stock")
    assert any("when Wool Hiking Socks is back in stock" in text for text in said(callback, "recipient_id", "alice"))
    on_telegram(bot, 1001, "show me camping stoves")
    on_telegram(bot, 1001, "let me know when the first one drops under 40")
    assert any("Pocket Camping Stove costs €40 or less" in text for text in said(telegram, "chat_id", 1001)), telegram
    with sqlite3.connect(store_path) as db:
        assert sorted(db.execute("SELECT shopper_id, product_id, kind, channel, fired_at FROM watches")) == [
            ("callback:alice", "SOCK", "in_stock", "callback", None),
            ("telegram:1001", "STOVE", "price", "telegram", None)]
    db.close()

    before = (len(callback), len(telegram))
    (tmp_path / "today.csv").write_text("sku,price,stock\nSOCK-2,,6\nSTOVE,39.00,\n")
    result = CliRunner().invoke(cli, ["catalog", "update", str(tmp_path / "today.csv"), "--column", "id=sku",
                                      "--db", str(catalog)])
    assert result.exit_code == 0 and "Sent 2 messages of watches that came true" in result.output, result.output
    news = said(callback[before[0]:], "recipient_id", "alice")
    assert [text for text in news if text.startswith("Good news")] == [
        "Good news: Wool Hiking Socks is back in stock, at €14. Say \"add it to my cart\" to get it."], callback
    news = said(telegram[before[1]:], "chat_id", 1001)
    assert [text for text in news if text.startswith("Good news")] == [
        "Good news: Pocket Camping Stove now costs €39. Say \"add it to my cart\" to get it."], telegram

    again = CliRunner().invoke(cli, ["watches", "fire", "--db", str(catalog)])
    assert again.exit_code == 0 and "Sent" not in again.output  # each watch once
    asked = len(callback)
    on_callback(bot, "alice", "add it to my cart")  # the watch's product is the one in focus: which size?
    assert "Which size of Wool Hiking Socks: L? Out of stock: M." in said(callback[asked:], "recipient_id", "alice")
    on_callback(bot, "alice", "L")
    with sqlite3.connect(store_path) as db:
        assert db.execute("SELECT count(*) FROM watches WHERE fired_at IS NOT NULL").fetchone() == (2,)
        assert db.execute("SELECT product_id FROM cart WHERE shopper_id = 'callback:alice'").fetchall() == [
            ("SOCK-2",)]
    db.close()


def test_what_is_kept_is_listed_and_each_piece_can_be_removed(watched_shop, store_path) -> None:
    """Item 5: "what do you know about me?" lists likes and counts watches; "forget that I liked the first one"
    and "cancel that watch" remove just those rows."""
    bot, _, callback, _, _ = watched_shop
    for text in ("show me camping stoves", "I like the first one", "tell me when it drops under 30"):
        on_callback(bot, "bob", text)
    start = len(callback)
    on_callback(bot, "bob", "what do you know about me?")
    kept = "\n".join(said(callback[start:], "recipient_id", "bob"))
    assert "1. Pocket Camping Stove (you like it)" in kept and "1 watch (" in kept, kept
    on_callback(bot, "bob", "forget that I liked the first one")
    on_callback(bot, "bob", "cancel that watch")
    with sqlite3.connect(store_path) as db:
        rows = [db.execute(f"SELECT count(*) FROM {table} WHERE shopper_id = 'callback:bob'").fetchone()[0]
                for table in ("feedback", "watches")]
    db.close()
    assert rows == [0, 0], callback[start:]


def test_a_watch_messenger_refuses_after_its_24_hour_window_reaches_the_user_when_they_next_write(
        watched_shop, store_path, tmp_path) -> None:
    bot, catalog, _, _, graph = watched_shop
    on_messenger(bot, "2002", "show me steel bottles")
    on_messenger(bot, "2002", "let me know when the first one drops under 20")
    texts = [body["message"].get("text", "") for _, body in graph.recorded if "message" in body]
    assert any("when Insulated Steel Bottle costs €20 or less" in text and "when you next write to me" in text
               for text in texts), texts

    graph.closed.add("2002")  # a day goes by: Meta refuses what the page sends unasked
    (tmp_path / "bottles.csv").write_text("sku,price,stock\nBOTTLE-05,19.50,\n")
    result = CliRunner().invoke(cli, ["catalog", "update", str(tmp_path / "bottles.csv"), "--column", "id=sku",
                                      "--db", str(catalog)])
    assert result.exit_code == 0, result.output
    assert "1 message of watches that came true could not be sent" in result.output, result.output
    assert "Messenger refused it: more than 24 hours since the shopper last wrote" in result.output
    with sqlite3.connect(store_path) as db:
        assert db.execute("SELECT fired_at FROM watches WHERE shopper_id = 'messenger:2002'").fetchall() == [(None,)]
    db.close()

    graph.closed.clear()
    start = len(graph.recorded)
    on_messenger(bot, "2002", "hello again")  # the user writes: the news first, then the answer
    sent = [(body["messaging_type"], body["message"].get("text", "")) for _, body in graph.recorded[start:]
            if "message" in body and body["recipient"] == {"id": "2002"}]
    assert sent[0] == ("UPDATE", "Good news: Insulated Steel Bottle now costs €19.50. Say \"add it to my cart\" to get it."), sent
    assert len(sent) > 1 and all(kind == "RESPONSE" for kind, _ in sent[1:]), sent
    on_messenger(bot, "2002", "thanks")
    assert sum("Good news" in body.get("message", {}).get("text", "") for _, body in graph.recorded[start:]) == 1


def test_a_web_shopper_sees_the_news_when_they_next_open_the_chat(browser, trained_model, tmp_path) -> None:
    """The web widget (a real browser) cannot be messaged while closed: its watch waits for the shopper's
    next connection, then shows once."""
    import_catalog(FIXTURES / "variants_outdoor.csv", tmp_path / "catalog.db", mapping=MAPPING, currency="EUR",
                   progress=False)
    dialogs: list[str] = []
    with demo_shop(trained_model, tmp_path / "logs", SHOPBOT_CATALOG=str(tmp_path / "catalog.db"),
                   SHOPBOT_CACHE=str(tmp_path / "cache"), SHOPBOT_STORE=str(tmp_path / "shop.db"),
                   SHOPBOT_TRACKER=str(tmp_path / "conversations.db")) as site:
        page = open_chat(browser, site.url, dialogs)
        replies = page.locator(".shopbot-from-bot")
        for text in ("show me hiking socks", "including out of stock", "tell me when the first one is back in stock"):
            before = replies.count()
            say(page, text)
            expect(replies).not_to_have_count(before, timeout=REPLY_MS)
        expect(replies.last).to_contain_text("You'll see it the next time you open this chat.", timeout=REPLY_MS)

        (tmp_path / "today.csv").write_text("sku,price,stock\nSOCK-2,,6\n")
        result = CliRunner().invoke(cli, ["catalog", "update", str(tmp_path / "today.csv"), "--column", "id=sku",
                                          "--db", str(tmp_path / "catalog.db")])
        assert result.exit_code == 0 and "Sent" not in result.output, result.output  # the widget is not pushed to
        news = page.locator(".shopbot-from-bot", has_text="Good news")
        expect(news).to_have_count(0)

        page.reload()                                                         # the shopper comes back
        expect(news).to_have_text(["Good news: Wool Hiking Socks is back in stock, at €14. "
                                   "Say \"add it to my cart\" to get it."], timeout=REPLY_MS)
        page.reload()                                                         # and again: shown once only
        say(page, "add it to my cart")                                        # the news' product is in focus
        expect(replies.last).to_contain_text("Which size of Wool Hiking Socks: L? Out of stock: M.",
                                             timeout=REPLY_MS)
        expect(news).to_have_count(1)
    with sqlite3.connect(tmp_path / "shop.db") as db:
        assert db.execute("SELECT product_id, channel, fired_at IS NOT NULL FROM watches").fetchall() == [
            ("SOCK", "socketio", 1)]
    db.close()
    assert dialogs == []
