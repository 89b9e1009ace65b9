"""The bot's own settings read from the environment: the conversations file and the identity secrets."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from recommender.config import cache_dir


def tracker_path() -> Path:
    """The Rasa conversations SQLite file (the tracker store): $SHOPBOT_TRACKER or <cache_dir>/conversations.db."""
    return Path(os.environ.get("SHOPBOT_TRACKER") or cache_dir() / "conversations.db")


# The secrets that prove who is talking (bot/identity.py): the REST webhook's bearer token, the key that
# signs the web widget's shopper tokens, and the token of Rasa's HTTP API when it is turned on.
SECRETS = ("SHOPBOT_REST_TOKEN", "SHOPBOT_JWT_KEY", "SHOPBOT_API_TOKEN")


def secret(name: str) -> str:
    """The secret `name` from the environment; unset, one generated once into <cache_dir>/secrets/<name>.

    The generated file is readable by its owner only and survives restarts, so tokens signed with
    it stay valid; set the variable instead wherever several machines must share the secret.
    """
    if os.environ.get(name):
        return os.environ[name]
    path = cache_dir() / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it just now
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32))
    return path.read_text().strip()
