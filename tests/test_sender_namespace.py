"""Each channel keeps its users apart, and a message sent again changes the cart once (issue 17, items 5
and 11).

Item 5: a Telegram chat id, a Messenger user id, a Slack user and a widget token subject used to
name the same shopper when they were the same string. Item 11: Rasa gives a re-sent message a new
id, so a client's retry added the product again; a client may now number its messages.

Our channels, made as `rasa run` makes them, on one real Sanic server on 127.0.0.1; the messaging
APIs are local stand-ins recording what the channels send. The agent behind the channels runs the
real ``action_add_to_cart`` against a real shop store, on the tracker Rasa would build from each
message (its sender and its message id). The slow test sends the same through the real Rasa server
and action server.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sqlite3
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.sync_api import expect
from rasa.core.channels.channel import UserMessage, register
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sanic import Sanic

from actions import services
from bot import channels, identity, settings
from bot.servers import Assistant
from bot.webpage import PageServer
from recommender.store import ShopStore
from tests.test_actions import DOMAIN, EMPTY_SLOTS
from tests.test_channels import (FB_SECRET, INTENT_PAYLOAD, SLACK_SECRET, api, api_server,  # noqa: F401 (fixtures)
                                 hub_signature, shop, shopper, slack_headers)
from tests.test_channels_telegram import BOT_NAME, SECRET, TOKEN, WEBHOOK_URL, bot_api  # noqa: F401 (fixture)
from tests.test_dialogue_actions import EXECUTOR
from tests.test_identity import KEY, Visitor, socket_channel
from tests.test_widget_browser import STUB_CLIENT, browser, say  # noqa: F401 (fixture)

REST_TOKEN = "a-test-integrator-token"
FIRST, SECOND = "B00ABC1234", "B00ABC1235"


def add(product_id: str) -> str:
    """The add-to-cart button's payload, as every channel's buttons send it."""
    return '/add_to_cart{"product_id": "%s"}' % product_id


class CartAgent:
    """Rasa's part, cut short: each message runs the real action_add_to_cart on the tracker Rasa builds
    (the message's sender and id), then answers through the message's output channel as Rasa does."""

    def __init__(self) -> None:
        self.messages: list[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        intent, entities = INTENT_PAYLOAD.match(message.text).groups()
        latest = {"text": message.text, "message_id": message.message_id,
                  "intent": {"name": intent, "confidence": 1.0},
                  "entities": [{"entity": k, "value": v} for k, v in json.loads(entities or "{}").items()]}
        tracker = Tracker(message.sender_id, dict(EMPTY_SLOTS), latest, [], False, None, {}, "action_listen")
        dispatcher = CollectingDispatcher()
        EXECUTOR.actions["action_add_to_cart"](dispatcher, tracker, DOMAIN)
        await message.output_channel.send_response(message.sender_id, {"text": dispatcher.messages[0]["response"]})


class LocalSlack(channels.Slack):
    """Our Slack channel, its replies to the recording server instead of slack.com."""

    api_url = ""

    def get_output_channel(self, channel: str | None = None, thread_id: str | None = None) -> channels.SlackOutput:
        output = super().get_output_channel(channel, thread_id)
        output.client.base_url = self.api_url + "/"
        return output


@pytest.fixture
def store(shopper) -> ShopStore:
    """The real shop store the actions use, a new file per test."""
    return services.store()


@pytest.fixture
def server(api, bot_api, monkeypatch) -> dict[str, Any]:
    """Every channel of credentials.yml on one app: {"app", "agent", "api": the Slack and Messenger
    calls, "telegram": the Bot API calls}."""

    monkeypatch.setenv("FACEBOOK_API_URL", api[0])
    monkeypatch.setattr(LocalSlack, "api_url", api[0])
    Sanic.test_mode = True
    app = Sanic(f"senders-{uuid.uuid4().hex}")
    app.ctx.agent = CartAgent()
    register([channels.Rest(REST_TOKEN), socket_channel(),
              channels.Telegram(TOKEN, BOT_NAME, WEBHOOK_URL, secret_token=SECRET),
              LocalSlack.from_credentials({"slack_token": "xoxb-test-token", "slack_signing_secret": SLACK_SECRET}),
              channels.Facebook.from_credentials({"verify": "verify-token", "secret": FB_SECRET,
                                                  "page-access-token": "page-test-token"})],
             app, route="/webhooks/")                  # outside a running loop, like rasa run
    return {"app": app, "agent": app.ctx.agent, "api": api[1], "telegram": bot_api}


def serve(app: Sanic, client: Callable[[str], Awaitable[Any]]) -> Any:
    """Run ``client(url)`` against the app on a free local port."""
    async def main() -> Any:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        running = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        await running.startup()
        try:
            return await client(f"http://127.0.0.1:{sock.getsockname()[1]}")
        finally:
            running.close()
            await running.wait_closed()
    return asyncio.run(main())


# ---- what a client of each channel sends ------------------------------------------------------------------


NO_SENDER = object()  # rest(): a body without "sender"


async def rest(session: aiohttp.ClientSession, url: str, sender: Any, text: str,
               **extra: Any) -> tuple[int, Any]:
    body = ({} if sender is NO_SENDER else {"sender": sender}) | {"message": text, **extra}
    async with session.post(f"{url}/webhooks/rest/webhook", json=body,
                            headers={"Authorization": f"Bearer {REST_TOKEN}"}) as answer:
        return answer.status, await answer.json()


async def telegram(session: aiohttp.ClientSession, url: str, chat_id: int, text: str, update_id: int = 1) -> int:
    update = {"update_id": update_id, "message": {"message_id": 7, "date": 0, "text": text,
                                                  "chat": {"id": chat_id, "type": "private"},
                                                  "from": {"id": chat_id, "is_bot": False, "first_name": "A"}}}
    async with session.post(f"{url}/webhooks/telegram/webhook", json=update,
                            headers={channels.TELEGRAM_SECRET_HEADER: SECRET}) as answer:
        return answer.status


async def slack(session: aiohttp.ClientSession, url: str, user: str, text: str, event_id: str = "Ev1") -> int:
    body = json.dumps({"type": "event_callback", "event_id": event_id, "event": {
        "type": "message", "channel_type": "im", "user": user, "channel": "D1", "text": text}}).encode()
    async with session.post(f"{url}/webhooks/slack/webhook", data=body,
                            headers={"Content-Type": "application/json", **slack_headers(body)}) as answer:
        return answer.status


async def slack_click(session: aiohttp.ClientSession, url: str, user: str, payload: str) -> int:
    """A click on one of the bot's Slack buttons: Slack posts it as a form, without an event id."""
    body = ("payload=" + urllib.parse.quote(json.dumps({
        "type": "block_actions", "user": {"id": user}, "channel": {"id": "D1"},
        "actions": [{"type": "button", "value": payload}]}))).encode()
    async with session.post(f"{url}/webhooks/slack/webhook", data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", **slack_headers(body)}) as answer:
        return answer.status


async def messenger(session: aiohttp.ClientSession, url: str, user: str, text: str, mid: str = "m_1") -> int:
    body = json.dumps({"object": "page", "entry": [{"messaging": [
        {"sender": {"id": user}, "recipient": {"id": "page"}, "message": {"mid": mid, "text": text}}]}]}).encode()
    async with session.post(f"{url}/webhooks/facebook/webhook", data=body,
                            headers={"Content-Type": "application/json", "X-Hub-Signature": hub_signature(body)}
                            ) as answer:
        return answer.status


async def widget(url: str, subject: str, *messages: tuple[str, str | None]) -> list[str]:
    """A widget visitor signed in as ``subject`` sends (text, message_id) pairs; returns the replies."""
    visitor = Visitor()
    await visitor.connect(url, identity.issue(KEY, subject))
    for sent, (text, message_id) in enumerate(messages, start=1):
        await visitor.client.emit("user_uttered", {"message": text, "message_id": message_id})
        for _ in range(100):                                   # one at a time, as a person types
            if len(visitor.replies) == sent:
                break
            await asyncio.sleep(0.05)
    await visitor.client.disconnect()
    return visitor.replies


async def settled(agent: CartAgent, count: int) -> None:
    """Wait for Slack's background tasks: until the agent has ``count`` messages."""
    for _ in range(100):
        if len(agent.messages) >= count:
            return
        await asyncio.sleep(0.05)


# ---- item 5: one raw id, one shopper per channel ----------------------------------------------------------------


def test_the_same_id_on_every_channel_is_a_different_shopper_and_replies_reach_the_apps_id(store, server) -> None:
    async def client(url: str) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            answers = {"rest": await rest(session, url, "123", add(FIRST)),
                       "rest naming telegram's": await rest(session, url, "telegram:123", add(FIRST)),
                       "telegram": await telegram(session, url, 123, add(FIRST)),
                       "slack": await slack(session, url, "123", add(FIRST)),
                       "messenger": await messenger(session, url, "123", add(FIRST))}
        answers["widget"] = await widget(url, "123", (add(FIRST), None))
        await settled(server["agent"], 6)
        return answers

    answers = serve(server["app"], client)

    senders = ["123", "rest:telegram:123", "telegram:123", "slack:123", "messenger:123", "web:123"]
    assert sorted(m.sender_id for m in server["agent"].messages) == sorted(senders)
    for sender in senders:                                             # six carts, one line each
        assert [(line.product_id, line.quantity) for line in store.cart_lines(sender)] == [(FIRST, 1)], sender
    # replies go to the id each app knows, never to the namespaced one
    assert answers["rest"] == (200, [{"recipient_id": "123", "text": "utter_added_to_cart"}])
    assert answers["rest naming telegram's"] == (200, [{"recipient_id": "telegram:123", "text": "utter_added_to_cart"}])
    assert answers["widget"] == ["utter_added_to_cart"]
    [(path, sent)] = [call for call in server["telegram"] if call[0].endswith("/sendMessage")]
    assert str(sent["chat_id"]) == "123" and sent["text"] == "utter_added_to_cart"
    assert [body["recipient"] for path, body in server["api"] if path == "/me/messages" and "message" in body] == \
        [{"id": "123"}]
    assert [body["channel"] for path, body in server["api"] if path.endswith("chat.postMessage")] == ["D1"]


def test_namespaces_never_meet() -> None:
    assert identity.sender_id("rest", "A1YJEY40YUW4SE") == "A1YJEY40YUW4SE"           # the shop's own ids stay
    assert identity.sender_id("rest", "telegram:123") == "rest:telegram:123"
    assert identity.sender_id("rest", "rest:x") == "rest:rest:x" != identity.sender_id("rest", "x")
    assert {identity.sender_id(n, "123") for n in ("rest", "web", "telegram", "slack", "messenger")} == {
        "123", "web:123", "telegram:123", "slack:123", "messenger:123"}


# ---- item 11: a message sent again is the same message ------------------------------------------------------------


def test_a_rest_message_sent_again_with_its_id_changes_the_cart_once(store, server) -> None:
    async def client(url: str) -> list[tuple[int, Any]]:
        async with aiohttp.ClientSession() as session:
            return [await rest(session, url, "alice", add(FIRST), message_id="order-7f3a"),
                    await rest(session, url, "alice", add(FIRST), message_id="order-7f3a"),   # the client's retry
                    await rest(session, url, "bob", add(FIRST), message_id="order-7f3a"),     # another sender's id
                    await rest(session, url, "carol", add(FIRST)),                            # no id: Rasa's own,
                    await rest(session, url, "carol", add(FIRST))]                            # new each time

    answers = serve(server["app"], client)

    assert [status for status, _ in answers] == [200] * 5
    ids = [m.message_id for m in server["agent"].messages]
    assert ids[0] == ids[1] == identity.message_id("alice", "order-7f3a") and ids[2] != ids[0]
    assert ids[3] != ids[4]
    assert [(line.product_id, line.quantity) for line in store.cart_lines("alice")] == [(FIRST, 1)]
    assert [(line.product_id, line.quantity) for line in store.cart_lines("bob")] == [(FIRST, 1)]
    assert [(line.product_id, line.quantity) for line in store.cart_lines("carol")] == [(FIRST, 2)]


@pytest.mark.parametrize("message_id", ["x" * 65, "", "two words", "a/b", 7, ["m1"], {"id": "m1"}])
def test_a_malformed_rest_message_id_is_refused_and_reaches_nobody(store, server, message_id) -> None:
    async def client(url: str) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session:
            return await rest(session, url, "alice", add(FIRST), message_id=message_id)

    status, body = serve(server["app"], client)
    assert status == 400 and body == {"error": f"message_id must be {identity.CLIENT_MESSAGE_ID_RULE}."}
    assert server["agent"].messages == [] and store.cart_lines("alice") == []


@pytest.mark.parametrize("sender", ["x" * 201, "rest:" + "x" * 196, "", 7, None, ["alice"], NO_SENDER],
                         ids=["201 characters", "rest: and 196", "empty", "a number", "null", "a list", "none"])
def test_a_rest_sender_the_store_cannot_keep_is_refused_and_reaches_nobody(store, server, sender) -> None:
    """At most 200 characters as kept: an id holding ':' is kept as "rest:<id>", so 195 then. No sender
    at all would be Rasa's one "default" conversation, shared by every such caller."""
    async def client(url: str) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session:
            return await rest(session, url, sender, add(FIRST))

    status, body = serve(server["app"], client)
    assert status == 400 and body == {"error": f"sender must be {identity.REST_SENDER_RULE}."}
    assert server["agent"].messages == []


def test_the_longest_rest_senders_the_store_keeps_are_served(store, server) -> None:
    senders = ["x" * 200, "y:" + "y" * 193]
    assert [len(identity.sender_id(identity.SHOP, s)) for s in senders] == [200, 200]

    async def client(url: str) -> list[int]:
        async with aiohttp.ClientSession() as session:
            return [(await rest(session, url, sender, add(FIRST)))[0] for sender in senders]

    assert serve(server["app"], client) == [200, 200]
    assert [len(store.cart_lines(identity.sender_id(identity.SHOP, s))) for s in senders] == [1, 1]


def test_the_apps_own_ids_make_a_redelivered_message_the_same_message(store, server) -> None:
    async def client(url: str) -> None:
        async with aiohttp.ClientSession() as session:
            for update_id in (41, 41, 42):                   # Telegram delivers update 41 twice, then 42
                assert await telegram(session, url, 123, add(FIRST), update_id=update_id) == 200
            for event_id in ("Ev1", "Ev1"):                  # Slack retries an event it thinks was lost
                assert await slack(session, url, "U1", add(FIRST), event_id=event_id) == 200
            for mid in ("m_1", "m_1"):
                assert await messenger(session, url, "2002", add(FIRST), mid=mid) == 200
        await widget(url, "dana", (add(FIRST), "w-1"), (add(FIRST), "w-1"), (add(SECOND), "w-2"))
        await settled(server["agent"], 10)

    serve(server["app"], client)

    assert len(server["agent"].messages) == 10
    assert [(line.product_id, line.quantity) for line in store.cart_lines("telegram:123")] == [(FIRST, 2)]
    for sender in ("slack:U1", "messenger:2002"):
        assert [(line.product_id, line.quantity) for line in store.cart_lines(sender)] == [(FIRST, 1)], sender
    assert [(line.product_id, line.quantity) for line in store.cart_lines("web:dana")] == [(FIRST, 1), (SECOND, 1)]


def test_a_malformed_widget_message_id_is_ignored_not_trusted(store, server) -> None:
    async def client(url: str) -> list[str]:
        return await widget(url, "erin", (add(FIRST), "bad id!"), (add(FIRST), "bad id!"))

    assert serve(server["app"], client) == ["utter_added_to_cart"] * 2
    first, second = server["agent"].messages
    assert first.message_id != second.message_id                   # Rasa's own ids: a new one each time
    assert [(line.product_id, line.quantity) for line in store.cart_lines("web:erin")] == [(FIRST, 2)]


def test_a_slack_button_click_is_the_same_slack_shopper(store, server) -> None:
    async def client(url: str) -> None:
        async with aiohttp.ClientSession() as session:
            assert await slack(session, url, "U1", add(FIRST)) == 200
            assert await slack_click(session, url, "U1", add(SECOND)) == 200       # a form, not JSON
        await settled(server["agent"], 2)

    serve(server["app"], client)

    assert [m.sender_id for m in server["agent"].messages] == ["slack:U1", "slack:U1"]
    assert [line.product_id for line in store.cart_lines("slack:U1")] == [FIRST, SECOND]


# ---- the widget keeps a message's id when it sends it again ------------------------------------------------------

# The browser test's stand-in for vendor/socket.io.min.js, wrapped: it records each message the widget
# emits, and loses the first with the connection (a disconnect, then a reconnect) instead of answering.
DROPPING_CLIENT = STUB_CLIENT + """
const stub = window.io;
window.emitted = [];
window.io = function () {
  const socket = stub(), on = socket.on, emit = socket.emit, handlers = {};
  socket.on = (event, handler) => { handlers[event] = handler; on.call(socket, event, handler); };
  socket.emit = (event, data) => {
    if (event === "user_uttered" && window.emitted.push(data) === 1) {
      setTimeout(() => { handlers.disconnect(); handlers.connect(); });
    } else {
      emit.call(socket, event, data);
    }
  };
  return socket;
};
"""


def test_the_widget_sends_a_message_again_after_a_reconnect_with_the_same_id(browser) -> None:
    with PageServer(rasa_url="http://127.0.0.1:9") as site:
        page = browser.new_page()
        replies = {add(FIRST): [{"text": "Added."}], add(SECOND): [{"text": "Added."}]}
        page.route("**/vendor/socket.io.min.js", lambda route: route.fulfill(
            content_type="text/javascript", body=f"const REPLIES = {json.dumps(replies)}; const HOLD = false;{DROPPING_CLIENT}"))
        page.goto(site.url)
        page.get_by_role("button", name=re.compile("Chat with our assistant")).click()
        say(page, add(FIRST))
        expect(page.locator(".shopbot-from-bot").last).to_have_text("Added.")
        say(page, add(SECOND))
        expect(page.locator(".shopbot-from-bot")).to_have_count(3)          # the greeting and two answers
        expect(page.locator(".shopbot-from-user")).to_have_count(2)         # each shown once
        emitted = page.evaluate("window.emitted")
        page.close()

    assert [data["message"] for data in emitted] == [add(FIRST), add(FIRST), add(SECOND)]
    ids = [data["message_id"] for data in emitted]
    assert ids[0] == ids[1] != ids[2] and all(identity.valid_message_id(i) and len(i) == 32 for i in ids)


# ---- the real servers ------------------------------------------------------------------------------------------


def post_rest(bot: Assistant, sender: str, text: str, message_id: str | None = None) -> list[dict]:
    body = {"sender": sender, "message": text, **({"message_id": message_id} if message_id else {})}
    request = urllib.request.Request(bot.rest_url, data=json.dumps(body).encode(), headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {settings.secret('SHOPBOT_REST_TOKEN')}"})
    with urllib.request.urlopen(request, timeout=180) as answer:
        return json.loads(answer.read())


@pytest.mark.slow
def test_through_the_real_servers_a_retry_adds_once_and_a_rest_caller_cannot_reach_a_chat(
        assistant: Assistant, shared_state: Path, catalog_db: sqlite3.Connection) -> None:
    [product] = catalog_db.execute("SELECT id FROM products ORDER BY id LIMIT 1").fetchone()
    for _ in range(2):                                                   # the back end's retry
        replies = post_rest(assistant, "ns-retry", add(product), message_id="retry-1")
        assert replies and all(r["recipient_id"] == "ns-retry" for r in replies)
    post_rest(assistant, "telegram:777", add(product))                      # not the Telegram chat 777

    store = ShopStore.open(shared_state / "shop.db")
    try:
        assert [(line.product_id, line.quantity) for line in store.cart_lines("ns-retry")] == [(product, 1)]
        assert [(line.product_id, line.quantity) for line in store.cart_lines("rest:telegram:777")] == [(product, 1)]
        assert store.cart_lines("telegram:777") == []
    finally:
        store.close()
