"""Baseline scorers for the offline evaluation: popularity, item-kNN, and factor models from implicit.

Each implements the evaluation ``Scorer`` protocol: ``score_histories(histories, shoppers) -> (B, n_items)``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

logger = logging.getLogger(__name__)

__all__ = ["Popularity", "ItemKNN", "FactorScorer", "interaction_matrix"]


def interaction_matrix(histories: Sequence[np.ndarray], n_items: int) -> sp.csr_matrix:
    """Binary (len(histories), n_items) CSR matrix: 1 where the shopper interacted with the item."""
    rows = np.concatenate([np.full(len(h), r) for r, h in enumerate(histories)]) if len(histories) else []
    cols = np.concatenate(histories) if len(histories) else []
    m = sp.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(len(histories), n_items))
    m.data[:] = 1.0                                                  # repeats count once
    return m


class Popularity:
    """Scores every item by the number of training shoppers who interacted with it."""

    def __init__(self, train: Sequence[np.ndarray], n_items: int):
        self.counts = np.asarray(interaction_matrix(train, n_items).sum(axis=0)).ravel()

    def score_histories(self, histories, shoppers=None) -> np.ndarray:
        return np.tile(self.counts.astype(np.float32), (len(histories), 1))


class ItemKNN:
    """Item-based kNN: cosine similarity of item columns, each item keeping its ``k`` nearest neighbours.

    A shopper's score for an item is the sum of its similarities to the items in the history; items
    with equal scores (most often: no similarity at all) are ordered by popularity.
    """

    def __init__(self, train: Sequence[np.ndarray], n_items: int, k: int = 100, shrink: float = 0.0):
        x = interaction_matrix(train, n_items).tocsc()
        co = (x.T @ x).tocsr().astype(np.float32)                     # (n_items, n_items) co-occurrence
        co = (co - sp.diags(co.diagonal())).tocsr()                   # an item is not its own neighbour
        co.eliminate_zeros()
        norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel())
        co = sp.diags(1 / np.maximum(norms, 1e-9)) @ co @ sp.diags(1 / np.maximum(norms, 1e-9))
        if shrink:
            co.data = co.data * (co.data / (co.data + shrink))
        self.sim = self._top_k_rows(co.tocsr(), k)
        counts = np.asarray(x.sum(axis=0)).ravel()
        self.tie_break = 1e-6 * counts / max(counts.max(), 1)    # far below any similarity

    @staticmethod
    def _top_k_rows(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
        rows, cols, vals = [], [], []
        for r in range(m.shape[0]):
            start, end = m.indptr[r], m.indptr[r + 1]
            data, idx = m.data[start:end], m.indices[start:end]
            if len(data) > k:
                keep = np.argpartition(-data, k - 1)[:k]
                data, idx = data[keep], idx[keep]
            rows.append(np.full(len(data), r))
            cols.append(idx)
            vals.append(data)
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=m.shape)

    def score_histories(self, histories, shoppers=None) -> np.ndarray:
        h = interaction_matrix(histories, self.sim.shape[0])
        return np.asarray((h @ self.sim).todense(), dtype=np.float64) + self.tie_break


class FactorScorer:
    """Dot products of precomputed shopper and item factors (e.g. from implicit's ALS or BPR).

    ``user_factors`` has one row per shopper index of the split; ``score_histories`` uses the rows of
    ``shoppers``.
    """

    def __init__(self, user_factors: np.ndarray, item_factors: np.ndarray):
        self.user_factors, self.item_factors = user_factors, item_factors

    def score_histories(self, histories, shoppers=None) -> np.ndarray:
        if shoppers is None:
            raise ValueError("FactorScorer scores known shoppers only: pass their rows as shoppers")
        return self.user_factors[shoppers] @ self.item_factors.T
