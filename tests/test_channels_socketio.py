"""The socket.io channel passes on the message text only (issue 17, item 9): the client's metadata is
dropped, and a request over ``MAX_SOCKET_BYTES`` is refused before it is parsed.

Our channel (`bot.channels.SocketIO`) on a real Sanic server on 127.0.0.1, python-socketio's real
client on the polling transport (its websocket client needs a newer aiohttp than Rasa pins); the
agent behind the channel records every message Rasa would handle.
"""

from __future__ import annotations

import asyncio

from rasa.core.channels.channel import UserMessage

from bot import identity
from bot.channels import MAX_SOCKET_BYTES
from tests.test_identity import KEY, EchoAgent, Visitor, run, socket_channel


def recording(agent: EchoAgent) -> list[UserMessage]:
    """Every message the channel hands the agent (Rasa's processor would store and forward it)."""
    handled: list[UserMessage] = []
    echo = agent.handle_message

    async def handle_message(message: UserMessage) -> None:
        handled.append(message)
        await echo(message)

    agent.handle_message = handle_message  # type: ignore[method-assign]
    return handled


async def until(condition, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)


def test_metadata_is_dropped_and_a_large_request_never_reaches_the_assistant() -> None:
    async def test(url: str, agent: EchoAgent) -> None:
        handled = recording(agent)
        alice = Visitor()
        await alice.client.connect(url, socketio_path="/socket.io", transports=["polling"],
                                   auth={"token": identity.issue(KEY, "alice")}, wait_timeout=5)
        await alice.say("hello", metadata={"sender": "bob", "note": "x" * 20_000})   # under the cap
        await until(lambda: alice.replies)
        assert [(m.text, m.sender_id, m.metadata) for m in handled] == [("hello", "web:alice", None)]

        await alice.say("hello again", metadata={"blob": "x" * 500_000})           # 500 KB
        await asyncio.sleep(1.0)
        assert len(handled) == 1 and alice.replies == ["you are web:alice"]             # refused, not handled
        await alice.client.disconnect()

        bob = Visitor()                                                              # the server still serves
        await bob.client.connect(url, socketio_path="/socket.io", transports=["polling"],
                                 auth={"token": identity.issue(KEY, "bob")}, wait_timeout=5)
        await bob.say("hi")
        await until(lambda: bob.replies)
        assert [(m.text, m.sender_id, m.metadata) for m in handled[1:]] == [("hi", "web:bob", None)]
        await bob.client.disconnect()

    run(test, socket_channel())


def test_the_cap_leaves_room_for_the_longest_message_the_guard_allows() -> None:
    from bot.channels import Limits

    assert Limits().max_chars * 12 < MAX_SOCKET_BYTES < 1_000_000  # 12: an escaped astral character


def test_each_reply_names_the_language_of_its_text_for_the_widget() -> None:
    async def test(url: str, agent: EchoAgent) -> None:
        async def handle_message(message: UserMessage) -> None:   # as Rasa sends a response of bot/nlg.py
            await message.output_channel.send_response(message.sender_id, {
                "text": "为您找到以下商品：\n\n要看更多吗？", "language": "zh",
                "buttons": [{"title": "更多", "payload": "/show_more"}]})

        agent.handle_message = handle_message  # type: ignore[method-assign]
        received: list[dict] = []
        alice = Visitor()
        alice.client.on("bot_uttered", received.append)
        await alice.client.connect(url, socketio_path="/socket.io", transports=["polling"],
                                   auth={"token": identity.issue(KEY, "alice")}, wait_timeout=5)
        await alice.say("我想买洗发水")
        await until(lambda: len(received) == 2)
        assert [(m["text"], m["language"]) for m in received] == [("为您找到以下商品：", "zh"), ("要看更多吗？", "zh")]
        assert received[1]["quick_replies"][0]["title"] == "更多"
        await alice.client.disconnect()

    run(test, socket_channel())
