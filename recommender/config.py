"""The recommender's paths and shop settings read from the environment (the bot's own: bot/settings.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from recommender.errors import InvalidSetting

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_DIR = REPO_ROOT / "data" / "products" / "amazon-beauty"
SHIPPED_PRODUCTS = SHIPPED_DIR / "Amazon_Beauty.item"
SHIPPED_SEQUENCES = SHIPPED_DIR / "user_sequence.txt"
SHIPPED_BRAND_ALIASES = SHIPPED_DIR / "brand_aliases.csv"  # the demo shop's Chinese names of its biggest brands
SHIPPED_CATEGORY_ALIASES = SHIPPED_DIR / "category_aliases.csv"  # ... and of its product types
SHIPPED_POLICIES = REPO_ROOT / "data" / "shop" / "policies.md"  # the demo shop's policies (and policies.zh.md)


def cache_dir() -> Path:
    """Folder for runtime artifacts (catalog, embedding cache, models): $SHOPBOT_CACHE or <repo>/var."""
    return Path(os.environ.get("SHOPBOT_CACHE") or REPO_ROOT / "var")


def catalog_path() -> Path:
    """The catalog SQLite file: $SHOPBOT_CATALOG or <cache_dir>/catalog.db."""
    return Path(os.environ.get("SHOPBOT_CATALOG") or cache_dir() / "catalog.db")


def store_target(value: str | None = None) -> Path | str:
    """The shopper store (carts, orders, likes, events) ``value`` names (a command's --store), else
    $SHOPBOT_STORE, else <cache_dir>/shop.db: a SQLite file's path, or a PostgreSQL URL kept as it is
    (``postgresql://shopbot@db:5432/shop``, the password in $PGPASSWORD)."""
    from recommender.store.dialects import is_database_url

    value = value or os.environ.get("SHOPBOT_STORE")
    return value if is_database_url(value) else Path(value or cache_dir() / "shop.db")


def forgotten_path(store: Path | str) -> Path | str:
    """Where the record of forgotten shoppers (recommender/store/forgotten.py) is: a file beside a SQLite
    store's (``shop.db`` -> ``shop.forgotten.db``); for a PostgreSQL store, that database itself (its table
    ``forgotten_shoppers``, which every host shares), so its URL."""
    from recommender.store.dialects import is_database_url

    if is_database_url(store):
        return store
    path = Path(store)
    return path.with_name(f"{path.stem}.forgotten.db")


FORGET_KEY_HOWTO = 'python -c "import secrets; print(secrets.token_hex(32))"'


def forget_key() -> bytes | None:
    """The key of the record of forgotten shoppers in a PostgreSQL store: $SHOPBOT_FORGET_KEY, 64 hexadecimal
    characters that every host shares; None when unset. Raises InvalidSetting for anything else (the value
    itself is never shown: it is a secret)."""
    raw = os.environ.get("SHOPBOT_FORGET_KEY", "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", raw):
        raise InvalidSetting(f"SHOPBOT_FORGET_KEY is not a key ({len(raw)} characters): set 64 hexadecimal "
                             f"characters, the same on every host; make one with {FORGET_KEY_HOWTO}")
    return bytes.fromhex(raw)


def cf_model_path() -> Path:
    """The collaborative model that set-up trains and the ranker loads: <cache_dir>/cf/shopbot.pt."""
    return cache_dir() / "cf" / "shopbot.pt"



def policies_path(catalog_source: str | None = None) -> Path | None:
    """The shop's policy file (docs/policies.md): $SHOPBOT_POLICIES ("none": the shop has none); unset,
    the demo shop's for the demo catalog (imported from ``catalog_source``, the shipped products) and
    none for a shop's own catalog."""
    value = os.environ.get("SHOPBOT_POLICIES", "").strip()
    if value.lower() == "none":
        return None
    if value:
        return Path(value)
    demo = catalog_source is not None and Path(catalog_source).resolve() == SHIPPED_PRODUCTS.resolve()
    return SHIPPED_POLICIES if demo else None


RETURN_DAYS = 30  # the default return window
WATCH_DAYS = 30  # how long a watch waits for its product by default
MAX_DAYS = 3650


def _days(name: str, default: int, low: int) -> int:
    """A whole number of days from ``low`` to MAX_DAYS in $``name``, ``default`` when unset; raises InvalidSetting."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not low <= int(raw) <= MAX_DAYS:
        raise InvalidSetting(f"{name}={raw!r:.40} is not a number of days: set a whole number from {low} "
                             f"to {MAX_DAYS} (default {default}).")
    return int(raw)


def return_days() -> int:
    """How many days after delivery a shopper may return what they bought: $SHOPBOT_RETURN_DAYS, default
    30; 0: the shop takes no returns in the chat. Raises InvalidSetting for anything but 0 to 3650."""
    return _days("SHOPBOT_RETURN_DAYS", RETURN_DAYS, 0)


def watch_days() -> int:
    """How many days a watch ("tell me when it's back in stock") waits before it expires: $SHOPBOT_WATCH_DAYS,
    default 30. Raises InvalidSetting for anything but 1 to 3650."""
    return _days("SHOPBOT_WATCH_DAYS", WATCH_DAYS, 1)
