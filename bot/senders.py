"""Each channel's senders in a namespace of its own, and clients' own ids for their messages.

`namespaced` wraps the handler of one channel (`bot.channels`): the message's sender becomes
``<namespace>:<the app's id>`` (`identity.sender_id`), replies still go to the app's own id, and the
client's id for the message, when the request gave one, becomes Rasa's message id
(`identity.message_id`), so a message sent again is the same message to the cart. The channel hands
that id over with `give` while it handles the request; a context variable keeps it to that request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic.exceptions import InvalidUsage
from sanic.request import Request

from bot import identity

APP_ID_CHARS = 256  # Messenger's mids run past 64 characters; apps' ids are hashed, never shown

_given: ContextVar[tuple[str, str] | None] = ContextVar("client_message_id", default=None)


def give(namespace: str, client_id: str | None) -> None:
    """Hand over the client's id for the message of the request (or event) being handled, or None."""
    _given.set(None if client_id is None else (namespace, client_id))


class Replies(OutputChannel):
    """One message's output channel: the channel's own, replies to its sender going to the app's id."""

    def __init__(self, channel: OutputChannel, sender: str, app_id: str) -> None:
        self.channel, self.sender, self.app_id = channel, sender, app_id

    def name(self) -> str:  # type: ignore[override]  # the channel's, for its own responses
        return self.channel.name()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self.channel.send_response(self.app_id if recipient_id == self.sender else recipient_id, message)


class ToApp(OutputChannel):
    """A channel's output for Rasa's HTTP API (``trigger_intent``), which addresses the conversation's sender
    (``telegram:123``): the messages go to the app's own id (``123``)."""

    def __init__(self, channel: OutputChannel, namespace: str) -> None:
        self.channel, self.prefix = channel, f"{namespace}{identity.SEPARATOR}"

    def name(self) -> str:  # type: ignore[override]
        return self.channel.name()

    def __getattr__(self, name: str) -> Any:  # what Rasa reads of the channel itself (a Telegram output's bot)
        return getattr(self.channel, name)

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self.channel.send_response(recipient_id.removeprefix(self.prefix), message)


def namespaced(namespace: str, handle: Callable[[UserMessage], Awaitable[Any]]
               ) -> Callable[[UserMessage], Awaitable[None]]:
    """`handle` with each message's sender in `namespace`, the client's id for it (if given) as Rasa's
    message id, and replies addressed to the app's own id.

    Each message gets its own output channel object (Rasa's Telegram channel shares one), so what the
    guard counts on it is this message's replies alone.
    """

    async def on_new_message(message: UserMessage) -> None:
        app_id = message.sender_id
        message.sender_id = identity.sender_id(namespace, app_id)
        given = _given.get()
        if given is not None and given[0] == namespace:
            message.message_id = identity.message_id(message.sender_id, given[1])
        message.output_channel = Replies(message.output_channel, message.sender_id, app_id)
        await handle(message)

    return on_new_message


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or {} (a form, other JSON, or none)."""
    try:
        body = request.json
    except InvalidUsage:  # a body that is not JSON (Slack's button clicks are a form)
        return {}
    return body if isinstance(body, dict) else {}


def app_message_id(value: object) -> str | None:
    """A messaging app's own id for a message (a number, or a string of at most APP_ID_CHARS), or None."""
    value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    return value if isinstance(value, str) and 0 < len(value) <= APP_ID_CHARS else None
