"""Who is talking: bearer tokens for the REST webhook and signed shopper tokens for the web widget.

A shopper is whoever the token says, never whoever the client claims: the REST webhook takes a
sender id only from a caller holding the integrator's token (`$SHOPBOT_REST_TOKEN`), and the
socket.io channel takes it from the subject of a JWT signed with `$SHOPBOT_JWT_KEY`, which the
shop's own site issues (the demo page's server does it in `bot/webpage.py`).

Each channel keeps its users under its own name (`sender_id`), so no channel can name another
channel's shopper: ``telegram:<chat id>``, ``slack:<user>``, ``messenger:<page-scoped id>``,
``web:<token subject>``. REST is the shop's own namespace: its ids (the shop's customers, the ids of
the histories the catalog imports) are kept as they are, unless they hold a ``:`` and so look like
another channel's (``rest:telegram:123``). A client may number its messages (`message_id`): a re-sent
message then has the same Rasa message id, so a cart change happens once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid

import jwt

from bot import settings
from recommender.ids import MAX_ID_CHARS

ALGORITHM = "HS256"
TOKEN_DAYS = 30  # a returning visitor keeps their conversation and cart this long
SEPARATOR = ":"
SHOP = "rest"  # the namespace whose ids are kept as given (when they hold no SEPARATOR)
VISITOR = "web-"  # + 32 hex digits: the id `issue` gives a visitor who never signed in
_ANONYMOUS = re.compile(rf"(?:(?:web|socketio){SEPARATOR})?{VISITOR}[0-9a-f]{{32}}")
CLIENT_MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # a UUID, a counter, a hash
CLIENT_MESSAGE_ID_RULE = "1-64 characters, each a letter, a digit, '-' or '_'"
# What the shopper store keeps an id under: a REST id holding a SEPARATOR gets the SHOP namespace before it.
REST_SENDER_RULE = (f"a string of 1-{MAX_ID_CHARS} characters "
                    f"({MAX_ID_CHARS - len(SHOP + SEPARATOR)} if it holds a '{SEPARATOR}')")


def environment() -> dict[str, str]:
    """The identity secrets as environment variables for the Rasa server (`${VAR}` in credentials.yml)."""
    return {name: settings.secret(name) for name in settings.SECRETS}


def bearer_matches(authorization: str | None, token: str | None) -> bool:
    """Whether an Authorization header is ``Bearer <token>``, compared in constant time."""
    if not token or not authorization or not authorization.startswith("Bearer "):
        return False
    return hmac.compare_digest(authorization.removeprefix("Bearer ").strip().encode(), token.encode())


def issue(key: str, shopper: str | None = None, days: float = TOKEN_DAYS) -> str:
    """A token naming `shopper` (a new anonymous id when None), signed with `key`, valid for `days`."""
    now = int(time.time())
    claims = {"sub": shopper or f"{VISITOR}{uuid.uuid4().hex}", "iat": now, "exp": now + int(days * 86400)}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def is_anonymous(shopper_id: str) -> bool:
    """Whether the shopper id is an anonymous visitor's, one `issue` made up (a widget token the demo page
    issued): alone or under the widget channel's namespace ("web:web-..."), never another's ("rest:web-...")."""
    return _ANONYMOUS.fullmatch(shopper_id) is not None


def shopper(token: object, key: str | None) -> str | None:
    """The shopper a token names, or None when it is missing, forged, expired or names nobody."""
    if not key or not isinstance(token, str) or not token:
        return None
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) and subject else None


def sender_id(namespace: str, raw: str) -> str:
    """The sender a channel's own user id is kept under: ``sender_id("telegram", "123") == "telegram:123"``.

    The shop's namespace (REST) keeps its ids, except those holding a ``:`` (``rest:telegram:123``):
    every other namespace's ids start with its name and a ``:``, so two channels never share a sender.
    """
    if namespace == SHOP and SEPARATOR not in raw:
        return raw
    return f"{namespace}{SEPARATOR}{raw}"


def valid_rest_sender(value: object) -> bool:
    """Whether an integrator's sender id follows `REST_SENDER_RULE`: once in its namespace, the store can keep it."""
    return isinstance(value, str) and value != "" and len(sender_id(SHOP, value)) <= MAX_ID_CHARS


def valid_message_id(value: object) -> bool:
    """Whether a client's id for its message follows `CLIENT_MESSAGE_ID_RULE`."""
    return isinstance(value, str) and CLIENT_MESSAGE_ID.fullmatch(value) is not None


def message_id(sender: str, client_id: str) -> str:
    """Rasa's message id for a message its client numbered `client_id`: the same each time that
    message is sent again, never the same for two senders; 32 hex digits, like Rasa's own ids."""
    return hashlib.sha256(f"{sender}\0{client_id}".encode()).hexdigest()[:32]
