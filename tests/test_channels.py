"""Product cards per channel, through Rasa's real channel classes, without the internet (issue 5).

The real actions run on a small shop whose ids look like the catalog's (10-character ASINs); their
responses go through Rasa's own pipeline (``RemoteAction._utter_responses`` picks the domain
response for the output channel, ``MessageProcessor._send_bot_messages`` sends it) into the real
output channels, whose HTTP clients are pointed at a recording server on 127.0.0.1. The assertions
are on the exact request bodies each messaging API would receive. The webhooks' signature checks run
in Rasa's real input channels on a real Sanic server.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import logging
import re
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiogram.bot.api import TelegramAPIServer
from fbmessenger import MessengerClient
from rasa.cli import utils as cli_utils
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage, register
from rasa.core.channels import facebook as facebook_channel
from rasa.core.channels.facebook import FacebookInput, MessengerBot
from rasa.core.channels.slack import SlackBot, SlackInput
from rasa.core.channels.socketio import SocketIOOutput
from rasa.core.channels.telegram import TelegramOutput
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.core.processor import MessageProcessor
from rasa.core.run import create_http_input_channels
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sanic import Sanic

from actions import cards, services
from bot.channels import Facebook, GuardedChannel, Slack
from bot.credentials import write_active
from recommender import config
from recommender import ProductSearch, format_price
from recommender.store import ShopStore
from tests.test_actions import DOMAIN, EMPTY_SLOTS, open_shop
from tests.test_dialogue_actions import EXECUTOR

RASA_DOMAIN = Domain.load(str(config.REPO_ROOT / "domain.yml"))
P = "Beauty > Hair Care > "
PRODUCTS = [  # ids shaped like the catalog's ASINs; titles with Slack's control characters and > 80 chars
    {"id": "B00ABC1234", "title": "Daily Clarifying Shampoo", "brand": "Neutrogena", "category": P + "Shampoos",
     "price": 6.99},
    {"id": "B00ABC1235", "title": "Moisturizing Shampoo for Dry Hair <Argan & Coconut>", "brand": "Suave",
     "category": P + "Shampoos", "price": 3.49},
    {"id": "B00ABC1236", "title": "Volumizing Shampoo with Biotin, Collagen and Keratin for Thin Fine Hair, "
     "Sulfate Free, Paraben Free, 13 Fl Oz", "brand": None, "category": P + "Shampoos", "price": None},
    {"id": "B00ABC1237", "title": "Color Safe Shampoo", "brand": "L'Oreal Paris", "category": P + "Shampoos",
     "price": 8.99},
    {"id": "B00ABC1238", "title": "Anti Dandruff Shampoo", "brand": "Head & Shoulders", "category": P + "Shampoos",
     "price": 7.49},
    {"id": "B00ABC1239", "title": "Repair Conditioner", "brand": "Suave", "category": P + "Conditioners",
     "price": 3.99},
]
HISTORIES = {"u1": ["B00ABC1234", "B00ABC1235"], "u2": ["B00ABC1234", "B00ABC1237"]}
INTENT_PAYLOAD = re.compile(r"^/(\w+)(\{.*\})?$")
TELEGRAM_TOKEN = "123456789:TEST-token-for-a-local-server"


# ---- the shop, the actions and Rasa's pipeline ----------------------------------------------------


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Iterator[ProductSearch]:
    search = open_shop(tmp_path_factory.mktemp("shop"), PRODUCTS, HISTORIES)
    yield search
    search.catalog.close()


@pytest.fixture
def shopper(shop, tmp_path) -> Iterator[ProductSearch]:
    store = ShopStore.open(tmp_path / "shop.db")
    services.use(shop, store)
    yield shop
    services.use(None)
    store.close()


class Chat:
    """One shopper on one channel: runs the action an intent's rule gives, slots carried over."""

    def __init__(self, channel: str, sender: str = "1001") -> None:
        self.channel, self.sender, self.slots = channel, sender, dict(EMPTY_SLOTS)

    def run(self, action: str, intent: str, text: str = "", ranking: list[str] = (), **entities: str) -> list[dict]:
        """The action's responses, as the action server sends them to Rasa (JSON)."""
        latest = {"text": text or f"/{intent}", "intent": {"name": intent, "confidence": 0.9},
                  "entities": [{"entity": k, "value": v} for k, v in entities.items()],
                  "intent_ranking": [{"name": name, "confidence": 0.3} for name in ranking or [intent]]}
        events = [{"event": "user", "text": latest["text"], "parse_data": latest, "input_channel": self.channel}]
        tracker = Tracker(self.sender, dict(self.slots), latest, events, False, None, {}, "action_listen")
        dispatcher = CollectingDispatcher()
        for event in EXECUTOR.actions[action](dispatcher, tracker, DOMAIN):
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
        return json.loads(json.dumps(dispatcher.messages))

    @property
    def shown(self) -> list[str]:
        return list(self.slots["shown_product_ids"] or [])


def deliver(responses: list[dict], output: Any, sender: str = "1001") -> None:
    """Rasa's path from an action server's responses to the channel: NLG per channel, then send."""
    async def send() -> None:
        tracker = DialogueStateTracker(sender, RASA_DOMAIN.slots)
        nlg = TemplatedNaturalLanguageGenerator(RASA_DOMAIN.responses)
        uttered = await RemoteAction._utter_responses(responses, output, nlg, tracker)
        await MessageProcessor._send_bot_messages(uttered, tracker, output)
        if isinstance(output, TelegramOutput):
            await output.session.close()
    asyncio.run(send())


# ---- a recording stand-in for the messaging APIs, and the real output channels pointed at it ---------


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Type", "").startswith("application/json"):
            body = json.loads(raw)
        else:
            body = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        path = urllib.parse.urlsplit(self.path).path
        self.server.recorded.append((path, body))
        refused = self.refusal(path, body)
        data = json.dumps(refused or self.answer(path)).encode()
        self.send_response(400 if refused else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def refusal(self, path: str, body: dict) -> dict | None:
        """Messenger's Send API refusing a message to a user whose 24-hour window the test closed (the server's
        ``closed`` ids), else None."""
        closed = getattr(self.server, "closed", ())
        if path.endswith("/me/messages") and "message" in body and str(body["recipient"]["id"]) in closed:
            return {"error": {"message": "(#10) This message is sent outside of allowed window.",
                              "type": "OAuthException", "code": 10, "error_subcode": 2018278}}
        return None

    def answer(self, path: str) -> dict:
        """The API's answer: a sent Telegram message, or a sent Slack or Messenger one."""
        if "/bot" in path:
            return {"ok": True, "result": {"message_id": 1, "date": 0, "chat": {"id": 1001, "type": "private"}}}
        return {"ok": True, "recipient_id": "1001", "message_id": "m1"}

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def api_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.recorded = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()


@pytest.fixture
def api(api_server) -> Iterator[tuple[str, list]]:
    """The recording server's URL and the (path, body) of each request it got during the test."""
    api_server.recorded.clear()
    yield f"http://127.0.0.1:{api_server.server_address[1]}", api_server.recorded


class RecordingSocketServer(socketio.AsyncServer):
    """python-socketio's server, recording each emit after binding it to the real ``emit`` signature."""

    def __init__(self) -> None:
        super().__init__(async_mode="sanic")
        self.emitted: list[dict] = []

    async def emit(self, *args: Any, **kwargs: Any) -> None:
        self.emitted.append(inspect.signature(socketio.AsyncServer.emit).bind(self, *args, **kwargs).arguments)


def output_for(channel: str, url: str) -> Any:
    if channel == "telegram":
        output = TelegramOutput(TELEGRAM_TOKEN)
        output.server = TelegramAPIServer.from_base(url)
    elif channel == "slack":
        output = SlackBot("xoxb-test-token")
        output.client.base_url = url + "/"
    elif channel == "facebook":
        client = MessengerClient("page-test-token")
        client.graph_url = url
        output = MessengerBot(client)
    elif channel == "socketio":
        output = SocketIOOutput(RecordingSocketServer(), "bot_uttered")
    else:
        output = CollectingOutputChannel()
    return output


def sent(channel: str, responses: list[dict], url: str, recorded: list) -> list[dict]:
    """The bodies the channel's API received for these responses (or what socket.io / REST got)."""
    output = output_for(channel, url)
    deliver(responses, output)
    if channel == "socketio":
        return output.sio.emitted
    if channel in ("rest", "cmdline"):
        return output.messages
    return [body for _, body in recorded]


# ---- what a card shows, per channel ---------------------------------------------------------------


def drawn_cards(channel: str, bodies: list[dict]) -> list[tuple[str, list[str]]]:
    """(text, button payloads) of each card in the bodies, checking the channel's limits on the way."""
    found = []
    for body in bodies:
        if channel == "facebook" and "attachment" in body["message"]:
            elements = body["message"]["attachment"]["payload"]["elements"]
            assert body["message"]["attachment"]["payload"]["template_type"] == "generic" and len(elements) <= 10
            for e in elements:
                assert len(e["title"]) <= 80 and len(e["subtitle"]) <= 80 and len(e["buttons"]) <= 3
                assert all(b["type"] == "postback" and len(b["title"]) <= 20 for b in e["buttons"])
                found.append((e["title"] + "\n" + e["subtitle"], [b["payload"] for b in e["buttons"]]))
        elif channel == "telegram" and "reply_markup" in body:
            keyboard = json.loads(body["reply_markup"])["inline_keyboard"]
            texts = body["text"].split("\n\n")
            assert len(texts) == len(keyboard) and len(body["text"]) <= 4096
            for text, row in zip(texts, keyboard):
                assert all(len(b["callback_data"].encode()) <= 64 for b in row)
                found.append((text, [b["callback_data"] for b in row]))
        elif channel == "slack" and "blocks" in body:
            blocks = body["blocks"]
            assert body["text"] and len(blocks) <= 50
            action_ids = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
            assert len(action_ids) == len(set(action_ids))
            for section, actions in zip(blocks[::2], blocks[1::2]):
                assert section["type"] == "section" and len(section["text"]["text"]) <= 3000
                assert actions["type"] == "actions" and len(actions["elements"]) <= 5
                assert all(len(e["text"]["text"]) <= 75 for e in actions["elements"])
                found.append((section["text"]["text"], [e["value"] for e in actions["elements"]]))
    return found


def assert_cards_show(found: list[tuple[str, list[str]]], ids: list[str], reasons: dict[str, list[str]],
                      channel: str) -> None:
    """One card per product, in order: its title's start, its price, its first reason, and buttons
    whose payloads are the bot's own intents naming the product."""
    assert len(found) == len(ids)
    products = {p["id"]: p for p in PRODUCTS}
    for (text, payloads), pid in zip(found, ids):
        p = products[pid]
        shown = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">") if channel == "slack" else text
        assert p["title"][:15] in shown
        assert (format_price(p["price"]) if p["price"] is not None else "price unknown") in shown
        if reasons.get(pid):
            assert reasons[pid][0][:20] in shown
        assert payloads
        for payload in payloads:
            intent, entities = INTENT_PAYLOAD.match(payload).groups()
            assert intent in RASA_DOMAIN.intents and json.loads(entities) == {"product_id": pid}


CARD_CHANNELS = ["facebook", "telegram", "slack"]


# ---- listings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", CARD_CHANNELS)
def test_a_listing_is_a_heading_then_cards_within_the_channel_limits(shopper, api, channel):
    chat = Chat(channel)
    bodies = sent(channel, chat.run("action_search_products", "search_products", "shampoo"), *api)

    assert len(chat.shown) == 5
    heading = {"facebook": lambda b: b["message"].get("text"), "telegram": lambda b: b.get("text"),
               "slack": lambda b: b.get("text")}[channel](bodies[0])
    assert heading == "Here's what I found:" and len(bodies) == 2       # the heading, then one card message
    assert_cards_show(drawn_cards(channel, bodies[1:]), chat.shown, chat.slots["shown_reasons"], channel)


def test_messenger_gets_a_generic_template_carousel(shopper, api):
    chat = Chat("facebook")
    bodies = sent("facebook", chat.run("action_search_products", "search_products", "shampoo"), *api)

    assert [path for path, _ in api[1]] == ["/me/messages", "/me/messages"]
    assert bodies[1]["recipient"] == {"id": "1001"} and bodies[1]["messaging_type"] == "RESPONSE"
    elements = bodies[1]["message"]["attachment"]["payload"]["elements"]
    assert [e["title"].split(". ")[0] for e in elements] == ["1", "2", "3", "4", "5"]
    assert [b["title"] for b in elements[0]["buttons"]] == ["Add to cart", "Similar", "Details"]


def test_telegram_gets_text_with_an_inline_keyboard_and_no_carousel(shopper, api):
    chat = Chat("telegram")
    bodies = sent("telegram", chat.run("action_search_products", "search_products", "shampoo"), *api)

    assert [path for path, _ in api[1]] == [f"/bot{TELEGRAM_TOKEN}/sendMessage"] * 2   # no media group
    assert all(body["chat_id"] == "1001" for body in bodies) and "reply_markup" not in bodies[0]
    keyboard = json.loads(bodies[1]["reply_markup"])["inline_keyboard"]
    assert [b["text"] for b in keyboard[1]] == ["Add to cart (2)", "Similar (2)", "Details (2)"]
    assert keyboard[0][0]["callback_data"] == '/add_to_cart{"product_id": "%s"}' % chat.shown[0]


def test_slack_escapes_its_control_characters(shopper, api):
    chat = Chat("slack")
    bodies = sent("slack", chat.run("action_search_products", "search_products", "argan coconut shampoo"), *api)

    sections = [b["text"]["text"] for b in bodies[1]["blocks"] if b["type"] == "section"]
    argan = next(s for s in sections if "Argan" in s)
    assert "&lt;Argan &amp; Coconut&gt;" in argan and "<" not in argan


def test_socketio_emits_the_generic_payload_as_the_event_data(shopper, api):
    chat = Chat("socketio")
    emitted = sent("socketio", chat.run("action_search_products", "search_products", "shampoo"), *api)

    assert emitted[0]["data"] == {"text": "Here's what I found:"} and emitted[0]["room"] == "1001"
    listing = emitted[1]["data"]
    assert emitted[1]["event"] == "bot_uttered" and emitted[1]["room"] == "1001"
    assert listing["listing"] == "search" and [c["id"] for c in listing["products"]] == chat.shown

    comparison = sent("socketio", chat.run("action_compare_products", "compare_products"), *api)
    assert comparison[0]["data"] == {"text": "Side by side:"}                # the widget shows the verdict
    assert [c["id"] for c in comparison[1]["data"]["comparison"]] == chat.shown[:2]
    assert comparison[1]["data"]["verdict"].startswith("Verdict: ")


def test_rest_keeps_the_numbered_text_and_the_generic_payload(shopper, api):
    chat = Chat("rest")
    text, custom = sent("rest", chat.run("action_search_products", "search_products", "shampoo"), *api)

    assert text["text"].startswith("Here's what I found:\n1. ") and "custom" not in text
    assert [c["id"] for c in custom["custom"]["products"]] == chat.shown
    assert set(custom["custom"]["products"][0]) == {"id", "position", "title", "brand", "category", "price",
                                                     "currency", "price_text", "facets", "image_url", "rating",
                                                     "in_stock", "reasons", "buttons"}


# ---- cart, details, comparison, checkout ----------------------------------------------------------------


@pytest.mark.parametrize("channel", CARD_CHANNELS)
def test_details_comparison_and_cart_are_cards_too(shopper, api, channel):
    chat = Chat(channel)
    chat.run("action_search_products", "search_products", "shampoo")
    first, second = chat.shown[:2]
    reasons = chat.slots["shown_reasons"]

    details = sent(channel, chat.run("action_product_details", "product_details", ordinal="second"), *api)
    assert_cards_show(drawn_cards(channel, details), [second], reasons, channel)

    api[1].clear()
    comparison = sent(channel, chat.run("action_compare_products", "compare_products"), *api)
    assert_cards_show(drawn_cards(channel, comparison), [first, second], reasons, channel)

    chat.run("action_add_to_cart", "add_to_cart", product_id=first)
    api[1].clear()
    cart = sent(channel, chat.run("action_view_cart", "view_cart"), *api)
    assert_cards_show(drawn_cards(channel, cart), [first], {}, channel)
    assert "1 x " in drawn_cards(channel, cart)[0][0]

    api[1].clear()
    order = sent(channel, chat.run("action_checkout", "checkout"), *api)
    assert len(order) == 1 and not drawn_cards(channel, order)      # the order's text says it all


def test_messenger_offers_more_than_three_choices_as_quick_replies(shopper, api):
    chat = Chat("facebook")
    responses = chat.run("action_clarify", "nlu_fallback", "mascara maybe idk",
                         ranking=["nlu_fallback", "add_to_cart", "view_cart", "recommend"])
    [body] = sent("facebook", responses, *api)

    replies = body["message"]["quick_replies"]
    assert [r["payload"] for r in replies] == ["/add_to_cart", "/view_cart", "/search_products", "/help"]
    assert all(r["content_type"] == "text" and len(r["title"]) <= 20 for r in replies)


# ---- the shell ------------------------------------------------------------------------------------------


def test_the_shell_gets_a_numbered_list_with_prices_and_reasons_and_no_json(shopper, api):
    chat = Chat("cmdline")
    [message] = sent("cmdline", chat.run("action_search_products", "search_products", "shampoo"), *api)

    lines = message["text"].splitlines()
    assert lines[0] == "Here's what I found:" and "custom" not in message
    products = {p["id"]: p for p in PRODUCTS}
    for n, (line, pid) in enumerate(zip(lines[1:], chat.shown), start=1):
        price = products[pid]["price"]
        reasons = chat.slots["shown_reasons"][pid]
        assert line.startswith(f"{n}. ") and (format_price(price) if price else "price unknown") in line
        assert line.endswith(f"({cards.reasons_text(reasons)})")


def test_the_shell_shows_buttons_as_numbered_choices(shopper, api):
    [confirm] = sent("cmdline", [{"response": "utter_confirm_forget"}], *api)
    clarify = Chat("cmdline").run("action_clarify", "nlu_fallback", "mascara maybe idk",
                                  ranking=["nlu_fallback", "recommend"])
    [question] = sent("cmdline", clarify, *api)

    # rasa shell (rasa/core/channels/console.py) offers these choices, or lets the shopper type
    assert cli_utils.button_choices_from_message_data(confirm) == [
        "1: Yes, delete everything (/affirm)", "2: No, keep it (/deny)", cli_utils.FREE_TEXT_INPUT_PROMPT]
    assert cli_utils.button_choices_from_message_data(question) == [
        "1: Get recommendations (/recommend)", "2: Search for it (/search_products)",
        "3: See what you can do (/help)", cli_utils.FREE_TEXT_INPUT_PROMPT]


def test_reasons_after_the_first_are_shown_while_short():
    assert cards.reasons_text(["matches \"shampoo\"", "in Shampoos", "popular: 45 shoppers bought it"]) == \
        'matches "shampoo"; in Shampoos; popular: 45 shoppers bought it'
    assert cards.reasons_text(["a" * 80, "in Shampoos"]) == "a" * 80
    assert cards.clip("Moisturizing Shampoo for Dry Hair", 20) == "Moisturizing…"


# ---- the webhooks' signature checks, in Rasa's real input channels ---------------------------------------


class RecordingAgent:
    """What Rasa's ``register`` hands each incoming message to (``Agent.handle_message``)."""

    def __init__(self) -> None:
        self.messages: list[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)


SLACK_SECRET, FB_SECRET = "slack-signing-secret", "facebook-app-secret"


@pytest.mark.parametrize("granularity,sender,channel,thread", [
    ("sender", "slack:U1", "U1", None),                       # the user's direct messages with the app
    ("channel", "slack:U1_C9", "C9", None),
    ("thread", "slack:U1_C9_1700000000.000100", "C9", "1700000000.000100"),
])
def test_a_watch_sent_through_rasas_api_reaches_the_slack_user_where_they_talk(api, monkeypatch, granularity, sender,
                                                                               channel, thread):
    """Rasa's ``trigger_intent`` asks the channel for its output with no event (``get_output_channel()``) and
    sends to the conversation's sender id, which carries the channel's name."""
    url, recorded = api
    monkeypatch.setenv("SLACK_API_URL", url)
    slack = Slack.from_credentials({"slack_token": "xoxb-test-token", "slack_signing_secret": SLACK_SECRET,
                                    "conversation_granularity": granularity, "use_threads": True})
    deliver([{"text": "Good news: <b>it</b> is back"}], slack.get_output_channel(), sender=sender)
    [(path, body)] = recorded
    assert path.endswith("/chat.postMessage") and body["channel"] == channel and body.get("thread_ts") == thread
    assert body["text"] == "Good news: &lt;b&gt;it&lt;/b&gt; is back"        # escaped as every Slack reply


def test_a_watch_sent_through_rasas_api_reaches_the_messenger_user_by_their_own_id(api) -> None:
    url, recorded = api
    output = Facebook.from_credentials({"verify": "verify-token", "secret": FB_SECRET,
                                        "page-access-token": "page-test-token"}).get_output_channel()
    output.messenger_client.graph_url = url                      # the stand-in of Graph API
    deliver([{"text": "Good news"}], output, sender="messenger:2468")
    [(path, body)] = recorded
    assert path.startswith("/me/messages") and body["recipient"] == {"id": "2468"}
    assert body["message"] == {"text": "Good news"} and body["messaging_type"] == "UPDATE"  # not a reply


def test_a_watch_messenger_refuses_outside_its_24_hour_window_raises_so_that_it_is_kept(api, api_server) -> None:
    url, recorded = api
    output = Facebook.from_credentials({"verify": "verify-token", "secret": FB_SECRET,
                                        "page-access-token": "page-test-token"}).get_output_channel()
    output.messenger_client.graph_url = url
    api_server.closed = {"2468"}
    try:
        with pytest.raises(RasaException, match="Messenger refused it: more than 24 hours since the shopper last "
                                                "wrote; sent when they next write"):
            deliver([{"text": "Good news"}], output, sender="messenger:2468")
    finally:
        api_server.closed = set()
    assert [body["recipient"] for _, body in recorded] == [{"id": "2468"}]  # tried once


def slack_headers(body: bytes, secret: str = SLACK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


def hub_signature(body: bytes, secret: str = FB_SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def post_to_webhooks(requests: list[tuple[str, bytes, dict[str, str]]]) -> tuple[list[tuple[int, str]], list]:
    """POST each (path, body, headers) to a real Sanic server running Rasa's Slack and Messenger inputs."""
    async def run() -> tuple[list[tuple[int, str]], list]:
        Sanic.test_mode = True
        app = Sanic(f"webhooks-{uuid.uuid4().hex}")
        app.ctx.agent = RecordingAgent()
        channels = [SlackInput.from_credentials({"slack_token": "xoxb-test-token",
                                                 "slack_signing_secret": SLACK_SECRET}),
                    FacebookInput.from_credentials({"verify": "verify-token", "secret": FB_SECRET,
                                                    "page-access-token": "page-test-token"})]
        register(channels, app, route="/webhooks/")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))                     # a free port (Sanic takes port=0 for 8000)
        port = sock.getsockname()[1]
        server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        await server.startup()
        answers = []
        try:
            async with aiohttp.ClientSession() as session:
                for path, body, headers in requests:
                    async with session.post(f"http://127.0.0.1:{port}{path}", data=body, headers=headers) as r:
                        answers.append((r.status, await r.text()))
            await asyncio.sleep(0.1)                    # Slack hands messages on in a background task
        finally:
            server.close()
            await server.wait_closed()
        return answers, app.ctx.agent.messages
    return asyncio.run(run())


def test_slack_accepts_signed_requests_and_rejects_forged_or_stale_ones():
    event = json.dumps({"type": "event_callback", "event": {"type": "message", "channel_type": "im", "user": "U1",
                                                             "channel": "D1", "text": "shampoo under $10"}}).encode()
    click = ("payload=" + urllib.parse.quote(json.dumps({
        "type": "block_actions", "user": {"id": "U1"}, "channel": {"id": "D1"},
        "actions": [{"type": "button", "value": '/add_to_cart{"product_id": "B00ABC1234"}'}]}))).encode()
    json_type = {"Content-Type": "application/json"}
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}

    answers, messages = post_to_webhooks([
        ("/webhooks/slack/webhook", event, {**json_type, **slack_headers(event)}),
        ("/webhooks/slack/webhook", click, {**form_type, **slack_headers(click)}),
        ("/webhooks/slack/webhook", event, {**json_type, **slack_headers(event, secret="wrong")}),
        ("/webhooks/slack/webhook", event, {**json_type, **slack_headers(event, timestamp=int(time.time()) - 600)}),
        ("/webhooks/slack/webhook", event, json_type),
    ])

    assert [status for status, _ in answers] == [200, 200, 400, 400, 400]
    assert [(m.text, m.sender_id, m.input_channel) for m in messages] == [
        ("shampoo under $10", "U1", "slack"), ('/add_to_cart{"product_id": "B00ABC1234"}', "U1", "slack")]


def test_messenger_accepts_requests_signed_with_the_app_secret_only(api, monkeypatch):
    class LocalMessengerClient(MessengerClient):
        """fbmessenger's client on the recording server: Rasa's input marks each message seen."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.graph_url = api[0]

    monkeypatch.setattr(facebook_channel, "MessengerClient", LocalMessengerClient)
    def entry(event: dict) -> bytes:
        return json.dumps({"object": "page", "entry": [{"messaging": [
            {"sender": {"id": "2002"}, "recipient": {"id": "page"}, **event}]}]}).encode()
    text = entry({"message": {"mid": "m1", "text": "shampoo under $10"}})
    postback = entry({"postback": {"payload": '/similar_products{"product_id": "B00ABC1234"}'}})
    json_type = {"Content-Type": "application/json"}

    answers, messages = post_to_webhooks([
        ("/webhooks/facebook/webhook", text, {**json_type, "X-Hub-Signature": hub_signature(text)}),
        ("/webhooks/facebook/webhook", postback, {**json_type, "X-Hub-Signature": hub_signature(postback)}),
        ("/webhooks/facebook/webhook", text, {**json_type, "X-Hub-Signature": hub_signature(text, "wrong")}),
        ("/webhooks/facebook/webhook", text, {**json_type, "X-Hub-Signature": hub_signature(postback)}),
        ("/webhooks/facebook/webhook", text, json_type),
    ])

    assert answers == [(200, "success"), (200, "success")] + [(200, "not validated")] * 3   # Rasa 3.6's answer
    assert [body["sender_action"] for _, body in api[1]] == ["mark_seen", "typing_on", "typing_off"] * 2
    assert [(m.text, m.sender_id, m.input_channel) for m in messages] == [
        ("shampoo under $10", "2002", "facebook"),
        ('/similar_products{"product_id": "B00ABC1234"}', "2002", "facebook")]


# ---- credentials.yml: the channels that start ---------------------------------------------------------------


MESSAGING_VARIABLES = {"TELEGRAM_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_BOT_NAME": "shopbot_test_bot",
                       "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/webhooks/telegram/webhook",
                       "TELEGRAM_SECRET_TOKEN": "secret-telegram-webhook-token",
                       "SLACK_TOKEN": "xoxb-secret-slack-token", "SLACK_SIGNING_SECRET": "secret-slack-signing",
                       "FACEBOOK_VERIFY": "secret-verify", "FACEBOOK_SECRET": "secret-fb-app",
                       "FACEBOOK_PAGE_ACCESS_TOKEN": "secret-page-token",
                       "SHOPBOT_CALLBACK_URL": "https://app.example.com/shopbot-replies?key=secret-callback-key"}


def channels_started(path: Path) -> list[str]:
    """The input channels `rasa run --credentials path` creates (Rasa's own loader); each is guarded."""
    channels = create_http_input_channels(None, str(path))
    assert all(isinstance(channel, GuardedChannel) for channel in channels)
    return [channel.name() for channel in channels]


def test_only_rest_and_socketio_start_without_messaging_variables(tmp_path, monkeypatch, caplog):
    for name in [*MESSAGING_VARIABLES, "SLACK_CHANNEL"]:
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level(logging.INFO, logger="bot.credentials"):
        path = write_active(tmp_path)

    assert channels_started(path) == ["rest", "socketio"]
    assert "messaging channels on: none; off: callback (unset: SHOPBOT_CALLBACK_URL); telegram (unset: TELEGRAM_TOKEN" \
        in caplog.text


def test_messaging_apps_start_when_their_variables_are_set_and_no_secret_is_logged(tmp_path, monkeypatch, caplog):
    for name, value in MESSAGING_VARIABLES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLACK_CHANNEL", raising=False)
    monkeypatch.delenv("FACEBOOK_SECRET")
    with caplog.at_level(logging.INFO, logger="bot.credentials"):
        path = write_active(tmp_path)

    assert channels_started(path) == ["rest", "callback", "socketio", "telegram", "slack"]
    assert "slack_channel" not in path.read_text() and "${SLACK_TOKEN}" in path.read_text()   # values stay variables
    assert "on: callback, telegram, slack; off: facebook (unset: FACEBOOK_SECRET)" in caplog.text
    assert not any(value in caplog.text or value in path.read_text() for value in MESSAGING_VARIABLES.values())
