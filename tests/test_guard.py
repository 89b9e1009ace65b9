"""bot.channels: message caps, and an apology instead of silence when a turn fails.

The unit tests drive `guarded` with Rasa's real REST output channel and small handlers standing in
for the assistant; the slow test runs the real Rasa server with the action server down, then up.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels import SORRY, TOO_FAST, TOO_LONG, Guard, Limits, guarded
from bot.servers import Assistant, free_port, start_action_server, stop


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_long_message_is_refused_and_not_counted() -> None:
    guard = Guard(Limits(max_chars=10, per_minute=1))
    assert guard.refusal("ann", "x" * 11) == TOO_LONG.format(max_chars=10)
    assert guard.refusal("ann", "x" * 10) is None


def test_the_rate_cap_counts_each_sender_over_a_sliding_minute() -> None:
    clock = Clock()
    guard = Guard(Limits(per_minute=3), clock=clock)
    assert [guard.refusal("ann", "hi") for _ in range(4)] == [None, None, None, TOO_FAST]
    assert guard.refusal("bob", "hi") is None                     # another sender has their own count
    clock.now += 59
    assert guard.refusal("ann", "hi") == TOO_FAST                 # refused messages do not count ...
    clock.now += 1.5
    assert guard.refusal("ann", "hi") is None                     # ... and a minute later it goes on


def test_senders_silent_for_a_minute_are_forgotten() -> None:
    clock = Clock()
    guard = Guard(Limits(per_minute=3), clock=clock)
    for sender in ("ann", "bob"):
        guard.refusal(sender, "hi")
    clock.now += 30
    guard.refusal("ann", "hi")
    clock.now += 31
    guard.refusal("cid", "hi")                                    # the sweep, a minute after the last
    assert set(guard._recent) == {"ann", "cid"}


def run(handler, text: str = "show me shampoo", paused: bool = False) -> tuple[list[dict], int]:
    """Send one message through `guarded(handler)`; return what the shopper got and the handler calls."""
    calls = 0

    async def handle(message: UserMessage) -> None:
        nonlocal calls
        calls += 1
        await handler(message)

    async def is_paused(sender: str) -> bool:
        return paused

    channel = CollectingOutputChannel()
    on_new_message = guarded(handle, Guard(Limits(turn_seconds=0.5)), is_paused)
    asyncio.run(on_new_message(UserMessage(text, channel, "ann")))
    return [m["text"] for m in channel.messages], calls


async def replies(message: UserMessage) -> None:
    await message.output_channel.send_response(message.sender_id, {"text": "Here's what I found"})


async def silent(message: UserMessage) -> None:
    """What Rasa does when the action server is down: logs the error, sends nothing."""


async def fails(message: UserMessage) -> None:
    raise RuntimeError("boom")


async def slow(message: UserMessage) -> None:
    await asyncio.sleep(5)


async def cancelled_inside(message: UserMessage) -> None:
    """A task of the turn cancelled, not the request: Rasa's REST channel would answer an empty list."""
    raise asyncio.CancelledError()


@pytest.mark.parametrize("handler,paused,expected", [
    (replies, False, ["Here's what I found"]),
    (silent, False, [SORRY]),
    (silent, True, []),                                          # paused for a person: silence is right
    (fails, False, [SORRY]),
    (slow, False, [SORRY]),
    (cancelled_inside, False, [SORRY]),
])
def test_a_turn_gets_its_replies_or_one_apology(handler, paused, expected) -> None:
    assert run(handler, paused=paused) == (expected, 1)


def test_a_cancelled_request_is_not_answered() -> None:
    channel = CollectingOutputChannel()
    on_new_message = guarded(slow, Guard(Limits(turn_seconds=5)))

    async def cancel_it() -> None:
        request = asyncio.create_task(on_new_message(UserMessage("show me shampoo", channel, "ann")))
        await asyncio.sleep(0.1)
        request.cancel()  # the server shuts down, or the client went away
        with pytest.raises(asyncio.CancelledError):
            await request

    asyncio.run(cancel_it())
    assert channel.messages == []


def test_a_refused_message_never_reaches_the_assistant() -> None:
    assert run(replies, "x" * 501) == ([TOO_LONG.format(max_chars=500)], 0)


@pytest.mark.slow
def test_the_real_server_apologises_while_the_action_server_is_down_and_recovers(tmp_path: Path,
                                                                                trained_model: Path) -> None:
    action_port = free_port()
    with Assistant(trained_model, log_dir=tmp_path, action_port=action_port) as bot:
        stop(bot.processes.pop(0))                                  # the action server goes down
        assert [r.get("text") for r in bot.send("ann", "show me shampoo under $10")] == [SORRY]
        assert bot.send("ann", "bye")[0]["text"] != SORRY            # replies that need no action still work
        long = bot.send("ann", "shampoo " * 100)
        assert [r.get("text") for r in long] == [TOO_LONG.format(max_chars=500)]

        bot.processes.insert(0, start_action_server(action_port, tmp_path / "actions-again.log"))
        back = bot.send("ann", "show me shampoo under $10")           # the next message works again
        assert any((r.get("custom") or {}).get("products") for r in back), back
