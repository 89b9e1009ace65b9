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

Who the sender is comes from a token, never from the client's say-so (`bot.identity`): the REST
webhook answers only callers with the integrator's bearer token, the socket.io channel takes the
sender from the subject of the signed token the widget connects with, and sends replies only there,
and the Telegram webhook answers only requests carrying the secret token it registered with Telegram.

Each channel keeps its users in its own namespace (``telegram:123``, ``web:<token subject>``; REST
ids as given), while replies go to the id the app knows (``123``); a client's own id for its message
(REST's ``message_id``, the widget's, Telegram's ``update_id``, Slack's ``event_id``, Messenger's
``mid``) becomes Rasa's message id, so a message sent again is the same message to the cart
(`bot.senders`).
"""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram.bot import api as telegram_api
from aiogram.utils.exceptions import TelegramAPIError
from fbmessenger import MessengerClient
from rasa.core.channels import facebook as facebook_channel
from rasa.core.channels.callback import CallbackInput
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.facebook import FacebookInput, MessengerBot
from rasa.core.channels.rest import RestInput
from rasa.core.channels.slack import SlackBot, SlackInput
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import identity, rasa_patches, senders

logger = logging.getLogger(__name__)

TOO_LONG = ("That message is a bit long for me (over {max_chars} characters). Could you tell me what "
            "you're looking for in a sentence or two?")
TOO_FAST = "You're sending messages faster than I can keep up. Please wait a moment, then try again."
SORRY = "Sorry, I can't reach the shop right now. Please try again in a moment."

Handler = Callable[[UserMessage], Awaitable[Any]]
# The largest socket.io request accepted: a message is at most Limits.max_chars characters (a few KB
# even JSON-escaped), and the polling transport may carry a few queued ones in one request.
MAX_SOCKET_BYTES = 32 * 1024
# The Send API's error for a message outside Messenger's 24-hour window: (code, error_subcode).
MESSENGER_OUTSIDE_WINDOW = (10, 2018278)


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
        self._swept = clock()

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
        """Once a minute, drop the senders silent for a minute: memory follows the active senders only."""
        if now - self._swept >= 60:
            self._swept = now
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
            await channel.send_response(sender, {"text": refusal})
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
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling():  # the request itself (a shutdown, the client gone)
                raise
            # cancelled inside the turn (wait_for's timeout can surface so): never an empty answer
            logger.error("a turn was cancelled; apologised")
        except Exception:
            logger.exception("a turn failed; apologised")
        await send(sender, {"text": SORRY})

    return on_new_message


GUARD = Guard()  # one per Rasa process, for every channel


class GuardedChannel(InputChannel):
    """Mix-in: the channel's blueprint receives Rasa's on_new_message behind `GUARD`, its senders in
    the channel's `sender_namespace`; each request first passes `refusal`, then `client_message_id`.

    Rasa asks each channel for its blueprint once, as the server starts: our Rasa patches are applied then.
    """

    sender_namespace = ""  # each channel's own, e.g. "telegram"
    _app: Any = None  # the Rasa server, once it runs

    def agent(self) -> Any:
        """The Rasa server's agent in use now (its API may have loaded another model), or None before it runs."""
        return getattr(self._app.ctx, "agent", None) if self._app is not None else None

    async def deliver_watches(self, app_id: str) -> None:
        """Send the watches of the shopper the app knows as ``app_id`` that came true while they could not be
        messaged (``bot.watch_delivery.deliver_on_return``), through this channel's output."""
        agent = self.agent()
        if agent is not None:
            from bot.watch_delivery import deliver_on_return  # the store and catalog readers: not at start

            await deliver_on_return(agent, identity.sender_id(self.sender_namespace, app_id),
                                    self.get_output_channel())

    def handler(self, on_new_message: Handler) -> Handler:
        """Rasa's on_new_message as this channel hands it each message."""
        return senders.namespaced(self.sender_namespace, guarded(on_new_message, GUARD))

    def refusal(self, request: Request) -> HTTPResponse | None:
        """The answer refusing this request (not from whom it claims), or None when it may go on."""
        return None

    def client_message_id(self, request: Request) -> str | None:
        """The client's own id for the message this POST carries, or None: Rasa then makes one."""
        return None

    def blueprint(self, on_new_message: Handler) -> Any:
        rasa_patches.apply()
        webhook = super().blueprint(self.handler(on_new_message))

        @webhook.middleware("request")
        async def check(request: Request) -> HTTPResponse | None:
            refused = self.refusal(request)
            if refused is None and request.method == "POST":
                senders.give(self.sender_namespace, self.client_message_id(request))
            return refused

        @webhook.listener("after_server_start")
        async def keep_app(app: Any, _loop: Any) -> None:
            self._app = app

        return webhook


class Rest(GuardedChannel, RestInput):
    """Rasa's REST channel, guarded, for integrators: POST /webhooks/rest/webhook with the header
    ``Authorization: Bearer <token>`` (credentials.yml ``token``); without it, 401 and nothing runs.

    The sender is the shop's own id (`identity.sender_id`; `identity.REST_SENDER_RULE`, else 400). An
    optional ``message_id`` in the body (`identity.CLIENT_MESSAGE_ID_RULE`) names the message: sent again
    with it, it changes the cart once.
    """

    sender_namespace = identity.SHOP

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls((credentials or {}).get("token"))

    def blueprint(self, on_new_message: Handler) -> Any:
        if not self.token:
            logger.warning("the REST channel has no token: it refuses every message")
        return super().blueprint(on_new_message)

    def refusal(self, request: Request) -> HTTPResponse | None:
        if request.method != "POST":
            return None
        if not identity.bearer_matches(request.headers.get("Authorization"), self.token):
            logger.info("REST message refused: missing or wrong bearer token")
            return response.json({"error": "A valid 'Authorization: Bearer <token>' header is required."},
                                 status=401, headers={"WWW-Authenticate": "Bearer"})
        body = senders.json_body(request)
        if not identity.valid_rest_sender(body.get("sender")):  # none: Rasa's one shared "default" conversation
            logger.info("REST message refused: a missing or malformed sender")
            return response.json({"error": f"sender must be {identity.REST_SENDER_RULE}."}, status=400)
        given = body.get("message_id")
        if given is not None and not identity.valid_message_id(given):
            logger.info("REST message refused: a malformed message_id")
            return response.json({"error": f"message_id must be {identity.CLIENT_MESSAGE_ID_RULE}."}, status=400)
        return None

    def client_message_id(self, request: Request) -> str | None:
        return senders.json_body(request).get("message_id")


class Callback(Rest, CallbackInput):
    """Rasa's callback channel, guarded like the REST channel: a shop's own app POSTs to
    /webhooks/callback/webhook (``Authorization: Bearer`` the REST token) and gets every reply, and the
    messages of watches that come true (``bot/watch_delivery.py``), POSTed to its ``url``
    ($SHOPBOT_CALLBACK_URL) with the app's own ``recipient_id``. Senders are ``callback:<id>``.
    """

    sender_namespace = "callback"

    def __init__(self, endpoint: EndpointConfig, token: str | None = None) -> None:
        CallbackInput.__init__(self, endpoint)
        self.token = token

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = dict(credentials or {})
        token = credentials.pop("token", None)
        return cls(EndpointConfig.from_dict(credentials), token)

    def get_output_channel(self) -> OutputChannel:
        return senders.ToApp(super().get_output_channel(), self.sender_namespace)


class SocketIO(GuardedChannel, SocketIOInput):
    """Rasa's socket.io channel (the web widget), guarded, with signed identity.

    The client connects with ``auth: {token}``, a JWT signed with credentials.yml's ``jwt_key`` whose
    subject is the shopper; without a valid one the connection is refused. The sender of every message
    is ``web:<subject>``, whatever ``session_id`` the client sends, and replies go to that shopper's
    room only, which ``session_request`` confirms (so a reload with the same token continues the same
    conversation). After confirming, it sends the shopper's watches that came true while they were away
    (``deliver_on_return``): the widget cannot be messaged when nobody has it open.

    Only the message text and its ``message_id`` (the widget's own id for it, kept when it re-sends it)
    go on: the client's ``metadata`` (nothing here reads it) is dropped, so it is neither stored with
    the conversation nor sent to the action server, and a request larger than ``MAX_SOCKET_BYTES`` is
    refused by engine.io before it is parsed (its default is 1 MB).
    """

    sender_namespace = "web"

    def get_output_channel(self) -> OutputChannel | None:
        """The widget's output for a message Rasa sends unasked, to the shopper's room (their open widgets)."""
        if self.sio is None:
            return None
        return senders.ToApp(LanguageOutput(self.sio, self.bot_message_evt), self.sender_namespace)

    def blueprint(self, on_new_message: Handler) -> Any:
        webhook = super().blueprint(on_new_message)  # registers Rasa's handlers; ours replace three
        sio, handle = self.sio, self.handler(on_new_message)
        sio.eio.max_http_buffer_size = MAX_SOCKET_BYTES
        if not self.jwt_key:
            logger.warning("the socket.io channel has no jwt_key: it refuses every connection")

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: str, environ: dict, auth: Any = None) -> bool:
            shopper = identity.shopper(auth.get("token") if isinstance(auth, dict) else None, self.jwt_key)
            if shopper is None:
                logger.info("socket.io connection refused: missing, forged or expired token")
                return False
            await sio.save_session(sid, {"shopper": shopper}, namespace=self.namespace)
            sio.enter_room(sid, shopper, namespace=self.namespace)
            return True

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            session = await sio.get_session(sid, namespace=self.namespace)
            await sio.emit("session_confirm", session["shopper"], room=sid, namespace=self.namespace)
            await self.deliver_watches(session["shopper"])

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any) -> None:
            session = await sio.get_session(sid, namespace=self.namespace)
            if not isinstance(data, dict):
                return
            given = data.get("message_id") if identity.valid_message_id(data.get("message_id")) else None
            senders.give(self.sender_namespace, given)  # this event's own task
            await handle(UserMessage(str(data.get("message") or ""), LanguageOutput(sio, self.bot_message_evt),
                                     session["shopper"], input_channel=self.name()))

        return webhook


class LanguageOutput(SocketIOOutput):
    """Rasa's socket.io output, each message with the language of its text (``language``, from the
    response: bot/nlg.py), so that the widget's own labels follow a shopper who switches by writing."""

    language: str | None = None

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.language = message.get("language")
        await super().send_response(recipient_id, message)

    async def _send_message(self, socket_id: str, response: Any) -> None:
        if self.language and isinstance(response, dict):
            response = {**response, "language": self.language}
        await super()._send_message(socket_id, response)


# Where the Bot API is: Telegram's, or a Bot API server of the shop's own ($TELEGRAM_API_URL; the tests' stand-in)
TELEGRAM_API = telegram_api.TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"]) \
    if os.environ.get("TELEGRAM_API_URL") else telegram_api.TELEGRAM_PRODUCTION
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramSecretOutput(TelegramOutput):
    """Rasa's Telegram output whose ``set_webhook`` always registers the secret token (aiogram 2.15's
    ``set_webhook`` predates Bot API 6.1's ``secret_token``), whoever calls it: the start, or
    Rasa's ``/webhooks/telegram/set_webhook`` route."""

    def __init__(self, access_token: str | None, secret_token: str | None) -> None:
        super().__init__(access_token)
        self.server = TELEGRAM_API
        self.secret_token = secret_token

    async def set_webhook(self, url: str, **kwargs: Any) -> bool:
        return await self.request(telegram_api.Methods.SET_WEBHOOK,
                                  {"url": url, "secret_token": self.secret_token, **kwargs})


class Telegram(GuardedChannel, TelegramInput):
    """Rasa's Telegram channel, guarded: /webhooks/telegram/webhook.

    Telegram sends every update with the header ``X-Telegram-Bot-Api-Secret-Token``, holding the
    ``secret_token`` (credentials.yml, $TELEGRAM_SECRET_TOKEN) that this channel registers with the
    webhook at start. An update without it, or with another, gets 403 and never reaches the assistant.
    The sender is ``telegram:<chat id>``; an update Telegram delivers again has the same ``update_id``.
    """

    sender_namespace = "telegram"

    def __init__(self, access_token: str | None, verify: str | None, webhook_url: str | None,
                 secret_token: str | None = None, debug_mode: bool = True) -> None:
        super().__init__(access_token, verify, webhook_url, debug_mode)
        self.secret_token = secret_token
        self.webhook_set = False  # the webhook is registered once, as the server starts

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(credentials.get("access_token"), credentials.get("verify"), credentials.get("webhook_url"),
                   credentials.get("secret_token"))

    def get_output_channel(self) -> OutputChannel:
        """The output channel, the first time (as the server starts) once the webhook (with its secret token) is
        registered with Telegram; a message Rasa's API sends to a sender (``telegram:<chat id>``, a watch's:
        the server runs then, so nothing is registered) goes to the chat."""
        channel = TelegramSecretOutput(self.access_token, self.secret_token)
        if self.webhook_set:
            return senders.ToApp(channel, self.sender_namespace)

        async def register() -> None:
            try:
                await channel.set_webhook(self.webhook_url)
            finally:  # its connections belong to this start's event loop, not the server's
                await channel.session.close()

        try:
            asyncio.run(register())
        except TelegramAPIError as error:
            raise RasaException(f"Failed to set channel webhook: {error}") from error
        self.webhook_set = True
        return senders.ToApp(channel, self.sender_namespace)

    def blueprint(self, on_new_message: Handler) -> Any:
        if not self.secret_token:
            logger.warning("the Telegram channel has no secret_token: it refuses every update")
        return super().blueprint(on_new_message)

    def refusal(self, request: Request) -> HTTPResponse | None:
        given = request.headers.get(TELEGRAM_SECRET_HEADER)
        if request.path.rstrip("/").endswith("/webhook") and not (
                self.secret_token and given and hmac.compare_digest(given.encode(), self.secret_token.encode())):
            logger.info("Telegram update refused: missing or wrong secret token")
            return response.json({"error": f"A valid '{TELEGRAM_SECRET_HEADER}' header is required."}, status=403)
        return None

    def client_message_id(self, request: Request) -> str | None:
        return senders.app_message_id(senders.json_body(request).get("update_id"))


class SlackOutput(SlackBot):
    """Rasa's Slack output with Slack's control characters escaped in text replies: a product title
    like ``<https://evil.example|Refund> <!channel>`` shows as typed, not as a link and a mention. Its Web
    API is Slack's, or the one at $SLACK_API_URL (GovSlack's ``https://slack-gov.com/api/``; the tests'
    stand-in)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if os.environ.get("SLACK_API_URL"):
            self.client.base_url = os.environ["SLACK_API_URL"].rstrip("/") + "/"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        # Slack's three control characters: & < > (quotes stay as typed)
        await super().send_text_message(recipient_id, html.escape(text, quote=False), **kwargs)


class SlackPush(OutputChannel):
    """Slack's output for Rasa's HTTP API (``trigger_intent``: a watch), which addresses the conversation's
    sender: ``slack:<user>``, or ``slack:<user>_<channel>[_<thread>]`` by Rasa's conversation granularity.
    The message goes to that channel (and thread, when the channel replies in threads), or to the user's
    direct messages with the app."""

    def __init__(self, token: str, proxy: str | None, use_threads: bool) -> None:
        self.token, self.proxy, self.use_threads = token, proxy, use_threads

    @classmethod
    def name(cls) -> str:
        return Slack.name()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        user, _, place = recipient_id.removeprefix(f"{Slack.sender_namespace}{identity.SEPARATOR}").partition("_")
        channel, _, thread = place.partition("_")
        output = SlackOutput(self.token, channel or user, thread if thread and self.use_threads else None, self.proxy)
        await output.send_response(user, message)


class Slack(GuardedChannel, SlackInput):
    """Rasa's Slack channel, guarded: /webhooks/slack/webhook. The sender is ``slack:<user>`` (with
    ``_<channel>`` after it when Rasa's conversation granularity says so); an event Slack delivers
    again has the same ``event_id``."""

    sender_namespace = "slack"

    def client_message_id(self, request: Request) -> str | None:
        return senders.app_message_id(senders.json_body(request).get("event_id"))

    def get_output_channel(self, channel: str | None = None,
                           thread_id: str | None = None) -> SlackOutput | SlackPush:
        """The event's channel and thread; with neither (Rasa's HTTP API, a watch), the sender's own (``SlackPush``)."""
        if channel is None and thread_id is None:
            return SlackPush(self.slack_token, self.proxy, self.use_threads)
        return SlackOutput(self.slack_token, channel or self.slack_channel, thread_id, self.proxy)


class GraphClient(MessengerClient):
    """fbmessenger's client on Meta's Graph API, or the one at $FACEBOOK_API_URL (a newer version than
    fbmessenger's default, ``https://graph.facebook.com/v21.0``; the tests' stand-in)."""

    def __init__(self, page_access_token: str, **kwargs: Any) -> None:
        super().__init__(page_access_token, **kwargs)
        if os.environ.get("FACEBOOK_API_URL"):
            self.graph_url = os.environ["FACEBOOK_API_URL"].rstrip("/")


class MessengerPush(GraphClient):
    """fbmessenger's client for messages the user did not just ask for (Rasa's HTTP API: a watch), sent as
    Messenger's ``UPDATE``; Meta's refusal raises (Rasa's own client ignores the Send API's answer), so that
    the watch is kept. Most often the 24-hour window is closed (error 10, subcode 2018278)."""

    def send(self, payload: dict[str, Any], recipient_id: str, messaging_type: str = "UPDATE",
             *args: Any, **kwargs: Any) -> dict[str, Any]:
        answer = super().send(payload, recipient_id, "UPDATE", *args, **kwargs)
        error = answer.get("error") if isinstance(answer, dict) else None
        if error is not None:
            error = error if isinstance(error, dict) else {"message": str(error)}
            window = (error.get("code"), error.get("error_subcode")) == MESSENGER_OUTSIDE_WINDOW
            raise RasaException("Messenger refused it: " + (
                "more than 24 hours since the shopper last wrote; sent when they next write" if window else
                f"{str(error.get('message'))[:200]} (code {error.get('code')})"))
        return answer


class Facebook(GuardedChannel, FacebookInput):
    """Rasa's Facebook Messenger channel, guarded: /webhooks/facebook/webhook. The sender is
    ``messenger:<page-scoped user id>``; a message Messenger delivers again has the same ``mid``.

    Messenger takes a message the user did not just ask for only within 24 hours of their last one: a watch
    that came true later is refused (``MessengerPush``), kept, and sent when the user next writes, before
    the answer to what they wrote."""

    sender_namespace = "messenger"

    def get_output_channel(self) -> OutputChannel:
        """Rasa's HTTP API (a watch) addresses the conversation's sender, ``messenger:<id>``: sent to that user."""
        return senders.ToApp(MessengerBot(MessengerPush(self.fb_access_token)), self.sender_namespace)

    def blueprint(self, on_new_message: Handler) -> Any:
        facebook_channel.MessengerClient = GraphClient  # Rasa's Messenger makes its client by this name
        return super().blueprint(on_new_message)

    def handler(self, on_new_message: Handler) -> Handler:
        """Rasa's handler, after sending the watches Messenger refused earlier (``deliver_watches``)."""
        handle = super().handler(on_new_message)

        async def on_message(message: UserMessage) -> None:
            await self.deliver_watches(message.sender_id)
            await handle(message)

        return on_message

    def client_message_id(self, request: Request) -> str | None:
        """The ``mid`` of the event Rasa handles: the first message or postback of the request."""
        events = [event for entry in senders.json_body(request).get("entry") or [] if isinstance(entry, dict)
                  for event in entry.get("messaging") or [] if isinstance(event, dict)]
        handled = next((event.get("message") or event.get("postback") for event in events
                        if event.get("message") or event.get("postback")), None)
        return senders.app_message_id(handled.get("mid")) if isinstance(handled, dict) else None
