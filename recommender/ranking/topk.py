"""Top-k and diversity over score arrays: candidate indexes in, candidate indexes out."""

from __future__ import annotations

import numpy as np

__all__ = ["diversify", "top_k"]


def top_k(scores: np.ndarray, rows: np.ndarray, id_rank: np.ndarray, k: int) -> list[int]:
    """Candidate indexes of the k best ``scores``, best first; ties broken by ``id_rank[rows[i]]``
    (candidate i's rank by product id: deterministic whatever the order of the rows)."""
    if k <= 0 or len(scores) == 0:
        return []
    if len(scores) > 4 * k:
        # Keep every candidate tied with the k-th score, so the id tie-break stays exact.
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        pool = np.flatnonzero(scores >= kth)
    else:
        pool = np.arange(len(scores))
    return pool[np.lexsort((id_rank[rows[pool]], -scores[pool]))][:k].tolist()


def diversify(pool: list[int], scores: np.ndarray, vectors: np.ndarray, n: int, diversity: float,
              similarity_floor: float) -> list[int]:
    """Greedy re-ranking of ``pool`` (candidate indexes, best first; ``vectors``: their unit vectors,
    one row each) that pushes near-duplicates down: each next pick maximises
    ``score - diversity * redundancy`` (the ranker's module docstring)."""
    if diversity <= 0 or n <= 1 or len(pool) <= 1:
        return pool[:n]
    gain = scores[pool].astype(np.float64)
    redundancy = np.zeros(len(pool))
    picked = [0]
    while len(picked) < min(n, len(pool)):
        cos = vectors @ vectors[picked[-1]]
        redundancy = np.maximum(redundancy, np.clip((cos - similarity_floor) / (1 - similarity_floor), 0, 1))
        adjusted = gain - diversity * redundancy
        adjusted[picked] = -np.inf
        picked.append(int(np.argmax(adjusted)))                   # first of equals: pool order breaks ties
    return [pool[k] for k in picked]
