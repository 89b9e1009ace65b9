"""One encoder's side of the ranker: a query's vector and its cosines with the products.

The ranker has one for the catalog's language (all-MiniLM-L6-v2) and, when the catalog has them, one
for the shoppers who write in another language (the multilingual encoder's product vectors:
``ProductSearch`` module docstring, "Other languages"). Each keeps the vectors of its last
``cache_size`` distinct query texts, so "show me more", a new filter on the same words, or a query
many shoppers type costs no encoding (the encoder is most of a new query's time).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from recommender.text.encoder import Encoder

__all__ = ["Semantic"]

_BLOCK = 16_384  # rows per block when cosines are taken over some rows only (25 MB at 384 dimensions)


class Semantic:
    """Query vectors of one encoder and their cosines with the products' vectors of that encoder."""

    def __init__(self, encoder: Encoder, matrix: np.ndarray, *, cache_size: int, by_dim: bool,
                 blocks: bool) -> None:
        """``matrix``: (products, dim) unit vectors in the ranker's row order. ``by_dim``: keep a copy
        one row per dimension (a query's cosines with every product read it ~1.9x faster than the
        product-major matrix here, OpenBLAS's gemv; for catalogs below the vector index's size).
        ``blocks``: on a large catalog, take the cosines of a few rows from those rows only."""
        self.encoder = encoder
        self.matrix = matrix
        self.reference: float | None = None  # the relevance floor's reference cosine, set by the ranker
        self._by_dim = np.ascontiguousarray(matrix.T) if by_dim else None  # (dim, products)
        self._blocks = blocks
        self._cache_size = cache_size
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()  # query text -> vector, oldest first
        self._lock = threading.Lock()

    def vector(self, text: str) -> np.ndarray:
        """The query's unit vector: kept from a recent query with this text, or encoded (and kept)."""
        with self._lock:
            vector = self._recent.get(text)
            if vector is not None:
                self._recent.move_to_end(text)
                return vector
        vector = self.encoder.encode([text])[0]
        if self._cache_size > 0:
            with self._lock:
                self._recent[text] = vector
                while len(self._recent) > self._cache_size:
                    self._recent.popitem(last=False)
        return vector

    def cosines(self, vector: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
        """max(cos(vector, product), 0) of each row's product; zeros without a vector."""
        if vector is None:
            return np.zeros(len(rows), dtype=np.float32)
        matrix = self.matrix
        if self._blocks and 0 < len(rows) * 4 <= len(matrix):  # large catalog, few rows: theirs only
            sims = np.concatenate([matrix[rows[i:i + _BLOCK]] @ vector for i in range(0, len(rows), _BLOCK)])
        elif self._by_dim is not None:
            sims = (vector @ self._by_dim)[rows]  # one pass over all vectors, no copy of the candidates' rows
        else:
            sims = (matrix @ vector)[rows]
        return np.clip(sims, 0.0, 1.0)
