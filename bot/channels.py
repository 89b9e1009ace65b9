"""Rasa's input channels behind a guard: caps on message length and rate, and never a silent failure.

`credentials.yml` names these classes (`bot.channels.Rest`, `bot.channels.SocketIO`, ...) instead of
Rasa's built-in ones. Each is the built-in channel (same name, same webhook URL, same settings) whose
messages go through a `Guard` first:

- a message longer than `Limits.max_chars`, or a sender's message beyond `Limits.per_minute` in the
  last 60 s, is answered with a polite refusal and never reaches NLU (one process's count: with
  several Rasa servers each counts its own share);
- a turn that raises, takes longer than `Limits.turn_seconds`, or ends without a single reply while
  the conversation is not paused for a person (the action server is down: Rasa logs the error and
  says nothing) gets a short apology; the next message is handled as usual.

Logs name what happened, never the sender or the text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.facebook import FacebookInput
from rasa.core.channels.rest import RestInput
from rasa.core.channels.slack import SlackInput
from rasa.core.channels.socketio import SocketIOInput
from rasa.core.channels.telegram import TelegramInput

logger = logging.getLogger(__name__)

TOO_LONG = ("That message is a bit long for me (over {max_chars} characters). Could you tell me what "
            "you're looking for in a sentence or two?")
TOO_FAST = "You're sending messages faster than I can keep up. Please wait a moment, then try again."
SORRY = "Sorry, I can't reach the shop right now. Please try again in a moment."

Handler = Callable[[UserMessage], Awaitable[Any]]


@dataclass(frozen=True)
class Limits:
    """What one sender may send, and how long a turn may take."""

    max_chars: int = 500  # a shopping request fits in a few sentences; NLU cost grows with length
    per_minute: int = 30  # a person typing and clicking buttons stays well below; a script does not
    # A reply later than this is worth less than an apology and a retry. Generous: a search takes well
    # under a second, but the first turns after a start warm up TensorFlow, and a loaded machine is slow.
    turn_seconds: float = 60.0


class Guard:
    """Decides, per message, whether it may reach the assistant; keeps each sender's recent times."""

    def __init__(self, limits: Limits = Limits(), clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._recent: dict[str, deque[float]] = {}

    def refusal(self, sender_id: str, text: str) -> str | None:
        """The reply refusing this message, or None when it may go on (and then it counts)."""
        if len(text) > self.limits.max_chars:
            logger.info("message refused: %d characters (cap %d)", len(text), self.limits.max_chars)
            return TOO_LONG.format(max_chars=self.limits.max_chars)
        now = self.clock()
        recent = self._recent.setdefault(sender_id, deque())
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= self.limits.per_minute:
            logger.info("message refused: over %d messages a minute", self.limits.per_minute)
            return TOO_FAST
        recent.append(now)
        self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        """Drop the senders silent for a minute, so memory follows the active senders only."""
        if len(self._recent) > 1000:
            self._recent = {s: times for s, times in self._recent.items() if times and times[-1] > now - 60}


async def paused_for_a_person(sender_id: str) -> bool:
    """Whether Rasa paused this conversation (a human hand-off): then silence is expected."""
    from sanic import Sanic

    tracker = await Sanic.get_app().ctx.agent.tracker_store.retrieve(sender_id)
    return tracker is not None and tracker.is_paused()


def guarded(handle: Handler, guard: Guard,
            is_paused: Callable[[str], Awaitable[bool]] = paused_for_a_person) -> Handler:
    """`handle` (Rasa's on_new_message) behind `guard`, with an apology for a failed or silent turn."""

    async def on_new_message(message: UserMessage) -> None:
        channel, sender = message.output_channel, message.sender_id
        refusal = guard.refusal(sender, message.text or "")
        if refusal is not None:
            await channel.send_text_message(sender, refusal)
            return
        replies = 0
        send = channel.send_response

        async def counted(recipient_id: str, response: dict[str, Any]) -> None:
            nonlocal replies
            replies += 1
            await send(recipient_id, response)

        channel.send_response = counted  # this turn's own output channel object
        try:
            await asyncio.wait_for(handle(message), guard.limits.turn_seconds)
            if replies or await is_paused(sender):
                return
            logger.error("a turn ended without a reply (is the action server up?); apologised")
        except asyncio.TimeoutError:
            logger.error("a turn took over %.0f s; apologised", guard.limits.turn_seconds)
        except Exception:
            logger.exception("a turn failed; apologised")
        await send(sender, {"text": SORRY})

    return on_new_message


GUARD = Guard()  # one per Rasa process: a sender's messages count together on every channel


class GuardedChannel(InputChannel):
    """Mix-in: the channel's blueprint receives Rasa's on_new_message behind `GUARD`."""

    def blueprint(self, on_new_message: Handler) -> Any:
        return super().blueprint(guarded(on_new_message, GUARD))


class Rest(GuardedChannel, RestInput):
    """Rasa's REST channel, guarded: POST /webhooks/rest/webhook."""


class SocketIO(GuardedChannel, SocketIOInput):
    """Rasa's socket.io channel (the web widget), guarded."""


class Telegram(GuardedChannel, TelegramInput):
    """Rasa's Telegram channel, guarded: /webhooks/telegram/webhook."""


class Slack(GuardedChannel, SlackInput):
    """Rasa's Slack channel, guarded: /webhooks/slack/webhook."""


class Facebook(GuardedChannel, FacebookInput):
    """Rasa's Facebook Messenger channel, guarded: /webhooks/facebook/webhook."""
