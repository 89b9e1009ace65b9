"""The ranker's bridge to the collaborative model, across three id spaces.

Catalog positions (``Catalog.product_ids()`` order), embedding rows (``ProductEmbeddings.ids``: the
ranker's candidates) and the model's items (``CFRecommender.item_ids``) each number the products in
their own order; the bridge maps embedding rows to items, turns the model's scores into the ranker's
personal part, and asks the model for its reasons.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recommender.errors import CatalogMismatch, ProductNotFound
from recommender.ranking.reasons import shorten

if TYPE_CHECKING:
    from recommender.catalog.products import Catalog
    from recommender.cf.recommender import CFRecommender

logger = logging.getLogger(__name__)

__all__ = ["CFBridge", "load_recommender", "positions", "product_name"]

# The model's (scores over its items, history items) for one shopper and session.
Scored = tuple[np.ndarray, np.ndarray]


class CFBridge:
    """The collaborative model (or none) as the ranker sees it: by embedding row."""

    def __init__(self, recommender: CFRecommender | None, embedding_ids: Sequence[str]) -> None:
        self.recommender = recommender
        self._embedding_ids = embedding_ids
        self._cf_rows: np.ndarray | None = None
        self._cf_item_rows: np.ndarray | None = None

    def knows(self, shopper_id: str | None, session_items: Sequence[str] = ()) -> bool:
        """True when the collaborative model has a history to personalise with (known shopper or session)."""
        if self.recommender is None:
            return False
        return self.recommender.history_length(shopper_id, session_items) > 0

    def scores(self, shopper_id: str | None, session_items: Sequence[str]) -> Scored | None:
        """The collaborative model's (scores, history) for this shopper and session; None without a
        model or a history (no personal part)."""
        if self.recommender is None or (shopper_id is None and not session_items):
            return None
        scores, history = self.recommender.scores(shopper_id, session_items)
        return (scores, history) if len(history) else None

    def personal(self, rows: np.ndarray, scored: Scored | None) -> np.ndarray:
        """exp(cf - max cf) over the candidates (embedding ``rows``) from the model's ``scored``; zeros without."""
        personal = np.zeros(len(rows), dtype=np.float64)
        if scored is None:
            return personal
        cf_rows = self._cf_index()[rows]
        known = cf_rows >= 0
        if known.any():
            raw = scored[0][cf_rows[known]]
            personal[known] = np.exp(raw - raw.max())
        return personal

    def top_rows(self, scores: np.ndarray, k: int) -> np.ndarray:
        """Embedding rows of the collaborative model's ``k`` likeliest products (those with a vector)."""
        if self._cf_item_rows is None:
            cf = self._cf_index()
            item_rows = np.full(len(scores), -1, dtype=np.int64)
            item_rows[cf[cf >= 0]] = np.flatnonzero(cf >= 0)
            self._cf_item_rows = item_rows
        top = np.argpartition(-scores, k)[:k] if len(scores) > k else np.arange(len(scores))
        rows = self._cf_item_rows[top]
        return rows[rows >= 0]

    def history_reasons(self, ids: Sequence[str], scored: Scored | None) -> dict[str, tuple[str, ...]]:
        """product id -> the collaborative model's reasons that name a product of the history or session."""
        if not ids or self.recommender is None or scored is None:
            return {}
        recs = self.recommender.reasons_for(ids, scored=scored)
        return {pid: rec.history_reasons for pid, rec in recs.items() if rec.history_reasons}

    def together_reason(self, product_id: str, other_id: str) -> str | None:
        """The model's "often bought together with <product_id> (N shoppers)" for ``other_id``, if any."""
        return self.recommender.together_reason(product_id, other_id) if self.recommender is not None else None

    def _cf_index(self) -> np.ndarray:
        """Embedding row -> the collaborative model's item index (-1 for products it does not know)."""
        if self._cf_rows is None:
            index = self.recommender.index_of if self.recommender is not None else (lambda pid: None)
            self._cf_rows = np.array([-1 if (i := index(pid)) is None else i for pid in self._embedding_ids],
                                     dtype=np.int64)
        return self._cf_rows


def positions(rows: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The index in ``rows`` (ascending) of each of ``wanted`` (rows, -1 allowed), -1 where absent."""
    pos = np.searchsorted(rows, wanted)
    found = pos < len(rows)
    found[found] = rows[pos[found]] == wanted[found]
    return np.where(found, pos, -1)


def load_recommender(catalog: Catalog, path: Path) -> CFRecommender | None:
    """The collaborative model at ``path`` if it exists and was trained on this catalog, else None."""
    if not path.exists():
        logger.info("no collaborative model at %s: rankings are not personal (run 'shopbot setup')", path)
        return None
    from recommender.cf.recommender import CFRecommender

    try:
        return CFRecommender.load(path, fingerprint=catalog.fingerprint(),
                                  describe=lambda pid: product_name(catalog, pid))
    except CatalogMismatch as exc:
        logger.warning("%s; rankings are not personal until then", exc)
        return None


def product_name(catalog: Catalog, product_id: str) -> str:
    """How reasons name a product: its title, shortened."""
    try:
        return shorten(catalog.get_product(product_id).display_title, 60)
    except ProductNotFound:
        return product_id
