"""The only place actions get the recommender: built on first use, then cached for the process.

Nothing is loaded at import time: the action server starts fast, and a missing catalog shows up
as a logged error plus ``utter_search_unavailable`` on the first search, not as a crash at start.
The catalog and cache locations come from ``recommender.config`` (SHOPBOT_CATALOG, SHOPBOT_CACHE).
"""

from __future__ import annotations

import logging
import threading

from actions.vocabulary import Vocabulary
from recommender.search import ProductSearch

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_search: ProductSearch | None = None
_vocabulary: Vocabulary | None = None


def product_search() -> ProductSearch:
    """The process-wide ProductSearch (catalog + encoder + embeddings), built on the first call."""
    global _search
    with _lock:
        if _search is None:
            logger.info("loading the product search (catalog, embeddings, encoder)")
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


def use(search: ProductSearch | None) -> None:
    """Replace the cached search (tests inject one), or forget it (None) to rebuild on next use."""
    global _search, _vocabulary
    with _lock:
        _search, _vocabulary = search, None
