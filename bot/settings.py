"""The bot's own settings read from the environment: the conversations file, the retention period and
the secrets."""

from __future__ import annotations

import os
import re
import secrets
import uuid
from pathlib import Path

from recommender.config import cache_dir
from recommender.errors import InvalidSetting, ShopbotError


class EmptySecretFile(ShopbotError):
    """A generated secret's file holds nothing."""


def tracker_path() -> Path:
    """The Rasa conversations SQLite file (the tracker store): $SHOPBOT_TRACKER or <cache_dir>/conversations.db."""
    return Path(os.environ.get("SHOPBOT_TRACKER") or cache_dir() / "conversations.db")


RETENTION_DAYS = 90  # the default period: conversations, events, and silent anonymous shoppers' carts and likes
MAX_RETENTION_DAYS = 36500  # a hundred years: longer is "never"


def retention_days() -> int | None:
    """How many days conversations, recommendation events and the carts and likes of anonymous shoppers
    silent that long are kept: $SHOPBOT_RETENTION_DAYS, default 90; None (kept forever) for 0 or never.

    Raises:
        InvalidSetting: the variable is not a whole number of days from 0 to 36500, nor ``never``.
    """
    raw = os.environ.get("SHOPBOT_RETENTION_DAYS", "").strip()
    if not raw:
        return RETENTION_DAYS
    if raw.lower() == "never":
        return None
    if not re.fullmatch(r"[0-9]{1,6}", raw) or int(raw) > MAX_RETENTION_DAYS:
        raise InvalidSetting(f"SHOPBOT_RETENTION_DAYS={raw!r:.40} is not a number of days: set a whole number "
                             f"from 1 to {MAX_RETENTION_DAYS} (default {RETENTION_DAYS}), or 0 or never to keep "
                             "everything.")
    return int(raw) or None


RASA_URL = "http://127.0.0.1:5005"  # shopbot serve's


def rasa_url() -> str:
    """Where the Rasa server answers (its HTTP API, for watches): $SHOPBOT_RASA_URL, default RASA_URL."""
    return os.environ.get("SHOPBOT_RASA_URL", "").strip() or RASA_URL


# The shared secrets of our own servers: the REST webhook's bearer token, the key that signs the web
# widget's shopper tokens and the token of Rasa's HTTP API when it is on (who is talking, bot/identity.py),
# the token the Rasa server sends the action server (bot/action_server.py) and the one a shop's own systems
# send to set an order's status (bot/orders_api.py).
SECRETS = ("SHOPBOT_REST_TOKEN", "SHOPBOT_JWT_KEY", "SHOPBOT_API_TOKEN", "SHOPBOT_ACTION_TOKEN",
           "SHOPBOT_ORDERS_TOKEN")


def secret(name: str) -> str:
    """The secret `name` from the environment; unset, one generated once into <cache_dir>/secrets/<name>.

    The generated file is written whole (a temporary file beside it, then linked into place), is
    readable by its owner only and survives restarts, so tokens signed with it stay valid; set the
    variable instead wherever several machines must share the secret.

    Raises:
        EmptySecretFile: the file exists but holds nothing (written by hand, or truncated).
    """
    if os.environ.get(name):
        return os.environ[name]
    path = cache_dir() / "secrets" / name
    if not path.exists():
        _create_whole(path, secrets.token_urlsafe(32))
    value = path.read_text().strip()
    if not value:
        raise EmptySecretFile(f"The secret file {path} is empty: delete it (a new secret is generated at "
                              f"the next start) or set {name} in the environment.")
    return value


def _create_whole(path: Path, text: str) -> None:
    """Create `path` (mode 0600) holding `text`, all of it or nothing; a file already there is kept.

    `os.link` puts the finished temporary file in place only if `path` does not exist yet: a crash
    leaves no half-written secret, and of two processes starting at once, both use the first's.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.link(tmp, path)
    except FileExistsError:  # another process made it just now: theirs is the secret
        pass
    finally:
        tmp.unlink(missing_ok=True)
