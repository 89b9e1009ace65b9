"""The Telegram webhook answers only Telegram (issue 17, item 4).

Rasa 3.6's Telegram channel checks only that the bot's username is the configured one, so anyone who
can reach the webhook could write as any chat id. Our channel registers a secret token with the
webhook (setWebhook's ``secret_token``) and refuses every update without Telegram's
``X-Telegram-Bot-Api-Secret-Token`` header holding it.

The channel is made by Rasa's own loader from credentials.yml and served by a real Sanic server on
127.0.0.1; the Bot API is a local stand-in that records what the channel asks of Telegram.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import aiohttp
import pytest
from aiogram.bot.api import TelegramAPIServer
from rasa.core.channels.channel import UserMessage, register
from rasa.core.run import create_http_input_channels
from sanic import Sanic

from bot import channels
from bot.credentials import write_active
from tests.test_channels import _Recorder

TOKEN, BOT_NAME, SECRET = "123456789:TEST-token-for-a-local-server", "shopbot_test_bot", "a-secret_token-42"
WEBHOOK_URL = "https://bot.example.com/webhooks/telegram/webhook"


class _BotAPI(_Recorder):
    """Telegram's Bot API as far as the channel uses it: setWebhook, getMe, then sendMessage."""

    def answer(self, path: str) -> dict:
        method = path.rsplit("/", 1)[-1]
        if method == "setWebhook":
            return {"ok": True, "result": True}
        if method == "getMe":
            return {"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "Shop", "username": BOT_NAME}}
        return super().answer(path)


@pytest.fixture
def bot_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict]]]:
    """The channel's Bot API calls, to a local stand-in: (path, parameters)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BotAPI)
    server.recorded = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    local = TelegramAPIServer.from_base(f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setattr(channels, "TELEGRAM_API", local)
    yield server.recorded
    server.shutdown()
    thread.join()


class RecordingAgent:
    """What Rasa's ``register`` hands each message to: records it and replies, as Rasa's processor would."""

    def __init__(self) -> None:
        self.messages: list[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        await message.output_channel.send_response(message.sender_id, {"text": "hello"})


def telegram_channel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> channels.Telegram:
    """The Telegram channel as `rasa run` makes it from the credentials.yml copy `shopbot serve` writes."""
    for name, value in {"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_BOT_NAME": BOT_NAME, "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL,
                        "TELEGRAM_SECRET_TOKEN": SECRET}.items():
        monkeypatch.setenv(name, value)
    found = {c.name(): c for c in create_http_input_channels(None, str(write_active(tmp_path)))}
    assert isinstance(found["telegram"], channels.Telegram)
    return found["telegram"]


def update(chat_id: int, text: str) -> dict:
    return {"update_id": 1, "message": {"message_id": 7, "date": 0, "text": text,
                                        "chat": {"id": chat_id, "type": "private"},
                                        "from": {"id": chat_id, "is_bot": False, "first_name": "A"}}}


def post_updates(channel: channels.Telegram, headers: list[dict[str, str]]) -> tuple[list[int], RecordingAgent, int]:
    """Register the channel as `rasa run` does (it calls setWebhook then), serve it, and POST one update
    per headers dict; return the statuses, the agent and the status of the channel's health check."""
    Sanic.test_mode = True
    app = Sanic(f"telegram-{uuid.uuid4().hex}")
    app.ctx.agent = RecordingAgent()
    register([channel], app, route="/webhooks/")       # outside the server's loop, like rasa run

    async def serve() -> tuple[list[int], int]:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        await server.startup()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/telegram"
        try:
            async with aiohttp.ClientSession() as session:
                statuses = []
                for i, extra in enumerate(headers):
                    async with session.post(f"{url}/webhook", json=update(1000 + i, "what's in my cart?"),
                                            headers=extra) as answer:
                        statuses.append(answer.status)
                async with session.get(f"{url}/") as health:
                    return statuses, health.status
        finally:
            server.close()
            await server.wait_closed()

    statuses, health = asyncio.run(serve())
    return statuses, app.ctx.agent, health


def test_the_webhook_is_registered_with_its_secret_token(tmp_path, monkeypatch, bot_api) -> None:
    telegram_channel(tmp_path, monkeypatch).get_output_channel()
    assert bot_api == [(f"/bot{TOKEN}/setWebhook", {"url": WEBHOOK_URL, "secret_token": SECRET})]


def test_an_update_without_the_secret_token_never_reaches_the_assistant(tmp_path, monkeypatch, bot_api) -> None:
    header = channels.TELEGRAM_SECRET_HEADER
    statuses, agent, health = post_updates(telegram_channel(tmp_path, monkeypatch), [
        {}, {header: "wrong"}, {header: SECRET[:-1]}, {header: ""}, {header: SECRET}])

    assert statuses == [403, 403, 403, 403, 200]
    assert [(m.sender_id, m.text, m.input_channel) for m in agent.messages] == [("telegram:1004", "what's in my cart?", "telegram")]
    assert [path.rsplit("/", 1)[-1] for path, _ in bot_api] == ["setWebhook", "getMe", "sendMessage"]  # one update
    assert str(bot_api[-1][1]["chat_id"]) == "1004"                  # the reply goes to the chat, not "telegram:1004"
    assert health == 200                                                                 # the health check stays open


def test_a_channel_without_a_secret_token_refuses_every_update(monkeypatch, bot_api) -> None:
    channel = channels.Telegram(TOKEN, BOT_NAME, WEBHOOK_URL, secret_token=None)
    statuses, agent, _ = post_updates(channel, [{}, {channels.TELEGRAM_SECRET_HEADER: "None"}])
    assert statuses == [403, 403] and agent.messages == []


def test_telegram_stays_off_until_its_secret_token_is_set(tmp_path, monkeypatch) -> None:
    for name, value in {"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_BOT_NAME": BOT_NAME, "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TELEGRAM_SECRET_TOKEN", raising=False)
    names = [c.name() for c in create_http_input_channels(None, str(write_active(tmp_path)))]
    assert "telegram" not in names
