"""Who is talking: bearer tokens for the REST webhook and signed shopper tokens for the web widget.

A shopper is whoever the token says, never whoever the client claims: the REST webhook takes a
sender id only from a caller holding the integrator's token (`$SHOPBOT_REST_TOKEN`), and the
socket.io channel takes it from the subject of a JWT signed with `$SHOPBOT_JWT_KEY`, which the
shop's own site issues (the demo page's server does it in `bot/webpage.py`).
"""

from __future__ import annotations

import hmac
import time
import uuid

import jwt

from bot import settings

ALGORITHM = "HS256"
TOKEN_DAYS = 30  # a returning visitor keeps their conversation and cart this long


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
    claims = {"sub": shopper or f"web-{uuid.uuid4().hex}", "iat": now, "exp": now + int(days * 86400)}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


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
