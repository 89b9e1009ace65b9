"""Paths and settings read from the environment: the only module that reads environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_DIR = REPO_ROOT / "data" / "products" / "amazon-beauty"
SHIPPED_PRODUCTS = SHIPPED_DIR / "Amazon_Beauty.item"
SHIPPED_SEQUENCES = SHIPPED_DIR / "user_sequence.txt"


def cache_dir() -> Path:
    """Folder for runtime artifacts (catalog, embedding cache, models): $SHOPBOT_CACHE or <repo>/var."""
    return Path(os.environ.get("SHOPBOT_CACHE") or REPO_ROOT / "var")


def catalog_path() -> Path:
    """The catalog SQLite file: $SHOPBOT_CATALOG or <cache_dir>/catalog.db."""
    return Path(os.environ.get("SHOPBOT_CATALOG") or cache_dir() / "catalog.db")


def store_path() -> Path:
    """The shopper-state SQLite file (carts, orders, likes, events): $SHOPBOT_STORE or <cache_dir>/shop.db."""
    return Path(os.environ.get("SHOPBOT_STORE") or cache_dir() / "shop.db")


def tracker_path() -> Path:
    """The Rasa conversations SQLite file (the tracker store): $SHOPBOT_TRACKER or <cache_dir>/conversations.db."""
    return Path(os.environ.get("SHOPBOT_TRACKER") or cache_dir() / "conversations.db")


def cf_model_path() -> Path:
    """The collaborative model that set-up trains and the ranker loads: <cache_dir>/cf/shopbot.pt."""
    return cache_dir() / "cf" / "shopbot.pt"


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
