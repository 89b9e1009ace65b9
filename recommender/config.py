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


def store_path() -> Path:
    """The shopper-state SQLite file (carts, orders, likes, events): $SHOPBOT_STORE or <cache_dir>/shop.db."""
    return Path(os.environ.get("SHOPBOT_STORE") or cache_dir() / "shop.db")


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
MAX_RETURN_DAYS = 3650


def return_days() -> int:
    """How many days after delivery a shopper may return what they bought: $SHOPBOT_RETURN_DAYS, default
    30; 0: the shop takes no returns in the chat.

    Raises:
        InvalidSetting: the variable is not a whole number of days from 0 to 3650.
    """
    raw = os.environ.get("SHOPBOT_RETURN_DAYS", "").strip()
    if not raw:
        return RETURN_DAYS
    if not re.fullmatch(r"[0-9]{1,4}", raw) or int(raw) > MAX_RETURN_DAYS:
        raise InvalidSetting(f"SHOPBOT_RETURN_DAYS={raw!r:.40} is not a number of days: set a whole number from 0 "
                             f"to {MAX_RETURN_DAYS} (default {RETURN_DAYS}).")
    return int(raw)
