"""The only place actions get the recommender and the shopper store: built on first use, then cached.

Nothing is loaded at import time (tests inject their own with `use`); the action server
(`bot/action_server.py`) loads them before it serves, so a missing catalog stops it with one line.
The locations come from ``recommender.config`` (SHOPBOT_CATALOG, SHOPBOT_CACHE, SHOPBOT_STORE).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from actions.vocabulary import Vocabulary
from recommender import Catalog, ProductSearch, ShopStore, config, forget_shopper

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_search: ProductSearch | None = None
_vocabulary: Vocabulary | None = None
_store: ShopStore | None = None


def product_search() -> ProductSearch:
    """The process-wide ranker (catalog + encoder + embeddings + collaborative model), built on the first call."""
    global _search
    with _lock:
        if _search is None:
            logger.info("loading the product search (catalog, embeddings, encoder, collaborative model)")
            _search = ProductSearch.from_paths(progress=False)
        return _search


def catalog() -> Catalog:
    """The product catalog the ranker searches."""
    return product_search().catalog


def vocabulary() -> Vocabulary:
    """The catalog's brand and category names, read once."""
    global _vocabulary
    shop = catalog()
    with _lock:
        if _vocabulary is None:
            _vocabulary = Vocabulary.from_catalog(shop)
        return _vocabulary


def store() -> ShopStore:
    """The shopper store (carts, orders, likes, events), opened on the first call."""
    global _store
    with _lock:
        if _store is None:
            _store = ShopStore.open(config.store_path())
        return _store


@dataclass(frozen=True)
class Forgotten:
    """What forgetting a shopper deleted: shopper-store rows per table, and past purchases in the catalog."""

    rows: dict[str, int]  # cart, orders, order_items, feedback, events
    purchases: int


def forget(shopper_id: str) -> Forgotten:
    """Delete the shopper from the shopper store, the catalog's purchase history and the collaborative
    model's in-memory histories. The conversation itself is the tracker store's (the action restarts it)."""
    rows = store().forget(shopper_id)
    search = product_search()
    purchases = forget_shopper(search.catalog.path, shopper_id)
    if search.recommender is not None:
        search.recommender.update_histories([(shopper_id, [])])
    return Forgotten(rows, purchases)


def use(search: ProductSearch | None = None, shop_store: ShopStore | None = None) -> None:
    """Replace the cached services (tests inject them), or forget them (None) to rebuild on next use."""
    global _search, _vocabulary, _store
    with _lock:
        _search, _vocabulary, _store = search, None, shop_store
