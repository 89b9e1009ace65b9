"""The only place actions get the recommender and the shopper store: built on first use, then cached.

Nothing is loaded at import time (tests inject their own with `use`); the action server
(`bot/action_server.py`) loads them before it serves, so a missing catalog stops it with one line.
The locations come from ``recommender.config`` (SHOPBOT_CATALOG, SHOPBOT_CACHE, SHOPBOT_STORE).
"""

from __future__ import annotations

import logging
import threading

from actions.vocabulary import Vocabulary
from recommender import ProductSearch, ShopStore, config

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


def vocabulary() -> Vocabulary:
    """The catalog's brand and category names, read once."""
    global _vocabulary
    search = product_search()
    with _lock:
        if _vocabulary is None:
            _vocabulary = Vocabulary.from_catalog(search.catalog)
        return _vocabulary


def store() -> ShopStore:
    """The shopper store (carts, orders, likes, events), opened on the first call."""
    global _store
    with _lock:
        if _store is None:
            _store = ShopStore.open(config.store_path())
        return _store


def use(search: ProductSearch | None = None, shop_store: ShopStore | None = None) -> None:
    """Replace the cached services (tests inject them), or forget them (None) to rebuild on next use."""
    global _search, _vocabulary, _store
    with _lock:
        _search, _vocabulary, _store = search, None, shop_store
