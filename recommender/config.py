"""The recommender's paths read from the environment (the bot's own settings: bot/settings.py)."""

from __future__ import annotations

import os
from pathlib import Path

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
