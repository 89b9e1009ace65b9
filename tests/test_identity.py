"""Who is talking (issue 6): the REST webhook's bearer token and the socket.io channel's signed identity.

The channels are ours (`bot.channels.Rest`, `bot.channels.SocketIO`, made by Rasa's own loader from
credentials.yml) on a real Sanic server on 127.0.0.1; the clients are aiohttp and python-socketio's
real client. The agent behind the channels echoes the sender id it was handed, so each test sees
exactly who the assistant believed it was talking to.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
import socketio
from rasa.core.channels.channel import UserMessage, register
from rasa.core.run import create_http_input_channels
from sanic import Sanic

from bot import identity, settings
from bot.channels import Callback, Rest, SocketIO
from bot.credentials import write_active
from bot.webpage import PageServer
from tests.test_channels import _Recorder

KEY = "a-test-signing-key-of-at-least-thirty-two-bytes"
TOKEN = "a-test-integrator-token"


class EchoAgent:
    """What Rasa's ``register`` hands each message to: records it and answers with its sender id."""

    def __init__(self) -> None:
        self.senders: list[str] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.senders.append(message.sender_id)
        # as Rasa's processor sends every reply
        await message.output_channel.send_response(message.sender_id, {"text": f"you are {message.sender_id}"})


@asynccontextmanager
async def serving(*channels: Any) -> AsyncIterator[tuple[str, EchoAgent]]:
    """The channels on a real Sanic server on a free local port: (base URL, the agent behind them)."""
    Sanic.test_mode = True
    app = Sanic(f"identity-{uuid.uuid4().hex}")
    app.ctx.agent = EchoAgent()
    register(list(channels), app, route="/webhooks/")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", app.ctx.agent
    finally:
        server.close()
        await server.wait_closed()


def run(test: Callable[..., Awaitable[None]], *channels: Any) -> None:
    async def main() -> None:
        async with serving(*channels) as (url, agent):
            await test(url, agent)
    asyncio.run(main())


# ---- tokens --------------------------------------------------------------------------------------------


def test_a_token_names_its_shopper_until_it_expires_and_only_under_its_own_key() -> None:
    token = identity.issue(KEY, "shopper-7")
    assert identity.shopper(token, KEY) == "shopper-7"
    assert identity.shopper(token, "another-key-of-at-least-thirty-two-bytes") is None
    assert identity.shopper(identity.issue(KEY, "shopper-7", days=-1), KEY) is None      # expired
    assert identity.shopper(jwt.encode({"exp": time.time() + 60}, KEY), KEY) is None     # names nobody
    assert identity.shopper(jwt.encode({"sub": "x", "exp": time.time() + 60}, KEY, algorithm="HS384"),
                            KEY) is None                                                  # another algorithm
    assert identity.shopper(token[:-2], KEY) is None and identity.shopper(None, KEY) is None
    assert identity.shopper(token, None) is None                                          # no key: nobody


def test_new_visitors_get_different_anonymous_shoppers() -> None:
    first, second = (identity.shopper(identity.issue(KEY), KEY) for _ in range(2))
    assert first.startswith("web-") and second.startswith("web-") and first != second


def test_a_generated_secret_is_kept_owner_only_and_the_environment_wins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SHOPBOT_CACHE", str(tmp_path))
    monkeypatch.delenv("SHOPBOT_JWT_KEY")
    generated = settings.secret("SHOPBOT_JWT_KEY")
    path = tmp_path / "secrets" / "SHOPBOT_JWT_KEY"
    assert len(generated) >= 40 and path.read_text() == generated and path.stat().st_mode & 0o777 == 0o600
    assert settings.secret("SHOPBOT_JWT_KEY") == generated                                  # kept, not remade
    monkeypatch.setenv("SHOPBOT_JWT_KEY", "from-the-environment")
    assert settings.secret("SHOPBOT_JWT_KEY") == "from-the-environment"


def test_the_bearer_header_must_match_exactly() -> None:
    assert identity.bearer_matches(f"Bearer {TOKEN}", TOKEN)
    for header in (None, "", TOKEN, f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "):
        assert not identity.bearer_matches(header, TOKEN), header
    assert not identity.bearer_matches("Bearer ", "") and not identity.bearer_matches("Bearer x", None)


# ---- REST ----------------------------------------------------------------------------------------------


async def post(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/webhooks/rest/webhook", headers=headers,
                                json={"sender": "alice", "message": "what's in my cart?"}) as response:
            return response.status, await response.json()


def test_the_rest_webhook_answers_only_the_integrators_token() -> None:
    async def test(url: str, agent: EchoAgent) -> None:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            status, body = await post(url, headers)
            assert status == 401 and "Authorization: Bearer" in body["error"], headers
        assert agent.senders == []                                       # nothing reached the assistant
        status, body = await post(url, {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and body == [{"recipient_id": "alice", "text": "you are alice"}]
        async with aiohttp.ClientSession() as session, session.get(f"{url}/webhooks/rest/") as health:
            assert health.status == 200                                  # the health check stays open

    run(test, Rest(TOKEN))


def test_a_rest_channel_without_a_token_refuses_everyone() -> None:
    async def test(url: str, agent: EchoAgent) -> None:
        assert (await post(url, {"Authorization": "Bearer "}))[0] == 401
        assert (await post(url, {"Authorization": "Bearer None"}))[0] == 401
        assert agent.senders == []

    run(test, Rest(None))


def test_the_callback_webhook_answers_only_the_rest_token_and_replies_to_the_apps_id() -> None:
    """The callback channel (a shop's own app) is guarded like REST; its replies, and the messages Rasa's API
    sends on its output (a watch's), go to the app's own id, not to the conversation's ``callback:alice``."""
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    receiver.recorded = []
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    channel = Callback.from_credentials({"url": f"http://127.0.0.1:{receiver.server_address[1]}/in",
                                         "token": TOKEN})

    async def test(url: str, agent: EchoAgent) -> None:
        async with aiohttp.ClientSession() as session:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {TOKEN}"}):
                async with session.post(f"{url}/webhooks/callback/webhook", headers=headers,
                                        json={"sender": "alice", "message": "hi"}) as response:
                    assert response.status == (200 if TOKEN in headers.get("Authorization", "x") else 401)
        assert agent.senders == ["callback:alice"]
        await channel.get_output_channel().send_response("callback:alice", {"text": "back in stock"})

    try:
        run(test, channel)
    finally:
        receiver.shutdown()
        thread.join()
    assert [(path, body["recipient_id"], body["text"]) for path, body in receiver.recorded] == [
        ("/in", "alice", "you are callback:alice"), ("/in", "alice", "back in stock")]


# ---- socket.io -----------------------------------------------------------------------------------------


class Visitor:
    """A socket.io client as the widget is one: connects with a token, records what it receives."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.replies: list[str] = []
        self.confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.client.on("bot_uttered", lambda data: self.replies.append(data["text"]))
        self.client.on("session_confirm", lambda data: self.confirmed.done() or self.confirmed.set_result(data))

    async def connect(self, url: str, token: str | None) -> str:
        """Connect, ask for a session (claiming someone else's) and return the session confirmed."""
        await self.client.connect(url, socketio_path="/socket.io", transports=["polling"],
                                  auth={"token": token} if token else None, wait_timeout=5)
        await self.client.emit("session_request", {"session_id": "bob"})
        return await asyncio.wait_for(self.confirmed, 5)

    async def say(self, text: str, **data: Any) -> None:
        await self.client.emit("user_uttered", {"message": text, **data})


def socket_channel(key: str | None = KEY) -> SocketIO:
    return SocketIO.from_credentials({"user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered",
                                      "session_persistence": True, "jwt_key": key})


def test_a_visitor_is_the_shopper_their_token_names_whatever_session_they_claim() -> None:
    async def test(url: str, agent: EchoAgent) -> None:
        alice, bob = Visitor(), Visitor()
        assert await bob.connect(url, identity.issue(KEY, "bob")) == "bob"
        assert await alice.connect(url, identity.issue(KEY, "alice")) == "alice"   # asked for "bob"
        await alice.say("what's in my cart?", session_id="bob", customData={"sender": "bob"})
        await asyncio.sleep(0.5)
        assert agent.senders == ["web:alice"]                                       # the widget's namespace
        assert alice.replies == ["you are web:alice"] and bob.replies == []         # bob heard nothing
        await bob.say("hi")
        await asyncio.sleep(0.5)
        assert agent.senders == ["web:alice", "web:bob"] and bob.replies == ["you are web:bob"]
        assert alice.replies == ["you are web:alice"]
        await alice.client.disconnect()
        await bob.client.disconnect()

    run(test, socket_channel())


@pytest.mark.parametrize("token", [None, "not-a-token", identity.issue("someone-elses-key-of-thirty-two-bytes", "bob"),
                                   identity.issue(KEY, "bob", days=-1)],
                         ids=["no token", "garbage", "forged", "expired"])
def test_a_connection_without_a_valid_token_is_refused(token: str | None) -> None:
    async def test(url: str, agent: EchoAgent) -> None:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await Visitor().connect(url, token)
        assert agent.senders == []

    run(test, socket_channel())


def test_a_socket_channel_without_a_key_refuses_everyone() -> None:
    async def test(url: str, agent: EchoAgent) -> None:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await Visitor().connect(url, identity.issue(KEY, "bob"))

    run(test, socket_channel(None))


def test_credentials_yml_gives_both_channels_their_secret(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SHOPBOT_REST_TOKEN", TOKEN)
    monkeypatch.setenv("SHOPBOT_JWT_KEY", KEY)
    channels = {c.name(): c for c in create_http_input_channels(None, str(write_active(tmp_path)))}
    assert isinstance(channels["rest"], Rest) and channels["rest"].token == TOKEN
    assert isinstance(channels["socketio"], SocketIO) and channels["socketio"].jwt_key == KEY


# ---- the demo page hands out tokens --------------------------------------------------------------------


def test_the_demo_page_issues_each_visitor_a_new_signed_token() -> None:
    with PageServer(rasa_url="http://127.0.0.1:5005", jwt_key=KEY) as page:
        def token() -> str:
            request = urllib.request.Request(page.url + "token", method="POST")
            with urllib.request.urlopen(request) as response:
                return json.loads(response.read())["token"]

        first, second = identity.shopper(token(), KEY), identity.shopper(token(), KEY)
        assert first and second and first != second
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(urllib.request.Request(page.url + "other", method="POST"))
        assert error.value.code == 404
