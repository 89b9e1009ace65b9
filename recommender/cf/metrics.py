"""Offline ranking metrics, as plain functions over target ranks and top-k lists.

Protocol (S3-Rec and later papers on Beauty): every item of the catalog is ranked, the items already
in the shopper's input history are removed from the ranking, and the held-out item's 0-based rank
decides every metric. Ties are counted against the model (an item scored equal to the target ranks
above it), so a constant scorer cannot look good; only AUC counts a tie as half. A target that is itself in the history (a repeat
purchase) is removed with the history and counts as a miss, as in the S3-Rec code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from recommender.cf.sequences import Split

logger = logging.getLogger(__name__)

__all__ = ["Scorer", "target_ranks", "hit_rate_at_k", "ndcg_at_k", "mrr", "auc", "top_k", "catalog_coverage",
           "gini", "ranking_metrics_at_k"]


class Scorer(Protocol):
    """Anything that scores every item for a batch of shoppers given their input histories."""

    def score_histories(self, histories: Sequence[np.ndarray],
                        shoppers: np.ndarray | None = None) -> np.ndarray:  # (B, n_items), higher = better
        ...


def _exclusion_mask(shape: tuple[int, int], exclude: Sequence[np.ndarray]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for row, items in enumerate(exclude):
        mask[row, np.asarray(items, dtype=np.int64)] = True
    return mask


def target_ranks(scores: np.ndarray, targets: np.ndarray, exclude: Sequence[np.ndarray],
                 return_ties: bool = False):
    """0-based rank of each target among the items not excluded, and how many items were ranked.

    Args:
        scores: (B, n_items) scores, higher is better.
        targets: (B,) item index of each held-out item.
        exclude: per row, item indices removed from the ranking (the shopper's history).
        return_ties: also return how many other candidates scored exactly the target's score.

    Returns:
        ranks (B,) int64, where a target found in ``exclude`` gets rank = n_candidates (a miss);
        n_candidates (B,) int64, the number of items not excluded (the target counted when not excluded);
        with ``return_ties``, ties (B,) int64 (already counted in ranks).
    """
    scores = np.asarray(scores, dtype=np.float64)
    rows = np.arange(len(targets))
    mask = _exclusion_mask(scores.shape, exclude)
    target_scores = scores[rows, targets][:, None]
    ranks = ((scores > target_scores) & ~mask).sum(axis=1).astype(np.int64)
    ties = ((scores == target_scores) & ~mask).sum(axis=1).astype(np.int64) - 1   # minus the target itself
    ranks += ties
    n_candidates = (~mask).sum(axis=1).astype(np.int64)
    excluded_target = mask[rows, targets]
    ranks[excluded_target] = n_candidates[excluded_target]
    ties[excluded_target] = 0
    return (ranks, n_candidates, ties) if return_ties else (ranks, n_candidates)


def hit_rate_at_k(ranks: np.ndarray, k: int) -> float:
    """Share of targets ranked in the top k (HR@k; equals recall@k with one target per shopper)."""
    return float(np.mean(np.asarray(ranks) < k)) if len(ranks) else 0.0


def ndcg_at_k(ranks: np.ndarray, k: int) -> float:
    """Mean NDCG@k with one relevant item: 1/log2(rank + 2) when rank < k, else 0."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if not len(ranks):
        return 0.0
    return float(np.mean(np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)))


def mrr(ranks: np.ndarray) -> float:
    """Mean reciprocal rank over the full ranking (not truncated at k)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return float(np.mean(1.0 / (ranks + 1.0))) if len(ranks) else 0.0


def auc(ranks: np.ndarray, n_candidates: np.ndarray, ties: np.ndarray | None = None) -> float:
    """Mean AUC: the share of the other candidate items ranked below the target, a tie counting half.

    ``ranks`` count ties against the target (as ``target_ranks`` does); ``ties`` gives half of them back.
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    if ties is not None:
        ranks = ranks - 0.5 * np.asarray(ties, dtype=np.float64)
    others = np.maximum(np.asarray(n_candidates, dtype=np.float64) - 1.0, 1.0)
    return float(np.mean(np.clip(1.0 - ranks / others, 0.0, 1.0))) if len(ranks) else 0.0


def top_k(scores: np.ndarray, k: int, exclude: Sequence[np.ndarray] = ()) -> np.ndarray:
    """(B, k) item indices of the best-scored items per row, best first, excluded items skipped.

    Ties are broken by the lower item index. Rows with fewer than k candidates are padded with -1.
    """
    scores = np.array(scores, dtype=np.float64)
    if len(exclude):
        scores[_exclusion_mask(scores.shape, exclude)] = -np.inf
    k_eff = min(k, scores.shape[1])
    out = np.full((scores.shape[0], k), -1, dtype=np.int64)
    if k_eff == 0:
        return out
    kth = -np.partition(-scores, k_eff - 1, axis=1)[:, k_eff - 1]   # k-th best score of each row
    for r in range(scores.shape[0]):
        cand = np.flatnonzero(scores[r] >= kth[r])                   # the top k plus any ties at the cut
        best = cand[np.lexsort((cand, -scores[r, cand]))][:k_eff]
        best = best[~np.isneginf(scores[r, best])]
        out[r, :len(best)] = best
    return out


def catalog_coverage(recommended: np.ndarray, n_items: int) -> float:
    """Share of the catalog that appears in at least one recommendation list (-1 padding ignored)."""
    items = np.unique(np.asarray(recommended).ravel())
    return float(np.sum(items >= 0) / n_items) if n_items else 0.0


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of how often each item is recommended (0 = all equally, 1 = one item only).

    Pass one count per catalog item, zeros included.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(np.sum((2 * i - n - 1) * x) / (n * total))


def ranking_metrics_at_k(model: Scorer, split: Split, ks: Sequence[int] = (5, 10, 20), *,
                         stage: str = "test", batch_size: int = 1024,
                         max_shoppers: int | None = None, lists: bool = True) -> dict[str, float]:
    """Evaluate a scorer with leave-one-out over all items, the input history removed from the ranking.

    Returns ``{"hr@5", "ndcg@5", ..., "mrr", "auc", "coverage@k", "gini@k", "n_shoppers"}``.
    ``max_shoppers`` evaluates only the first shoppers and ``lists=False`` skips coverage and Gini
    (both for quick validation during training).
    """
    shoppers, histories, targets = split.inputs(stage)
    if max_shoppers is not None:
        shoppers, histories, targets = shoppers[:max_shoppers], histories[:max_shoppers], targets[:max_shoppers]
    n_items, k_max = split.interactions.n_items, max(ks)
    all_ranks, all_cands, all_ties, all_top = [], [], [], []
    for start in range(0, len(shoppers), batch_size):
        sl = slice(start, start + batch_size)
        scores = model.score_histories(histories[sl], shoppers[sl])
        ranks, cands, ties = target_ranks(scores, targets[sl], histories[sl], return_ties=True)
        all_ranks.append(ranks)
        all_cands.append(cands)
        all_ties.append(ties)
        if lists:
            all_top.append(top_k(scores, k_max, histories[sl]))
    ranks = np.concatenate(all_ranks) if all_ranks else np.zeros(0, dtype=np.int64)
    cands = np.concatenate(all_cands) if all_cands else np.zeros(0, dtype=np.int64)
    ties = np.concatenate(all_ties) if all_ties else np.zeros(0, dtype=np.int64)
    tops = np.vstack(all_top) if all_top else np.zeros((0, k_max), dtype=np.int64)
    out: dict[str, float] = {}
    for k in ks:
        out[f"hr@{k}"] = hit_rate_at_k(ranks, k)
        out[f"ndcg@{k}"] = ndcg_at_k(ranks, k)
    out["mrr"] = mrr(ranks)
    out["auc"] = auc(ranks, cands, ties)
    for k in ks if lists else ():
        top = tops[:, :k]
        out[f"coverage@{k}"] = catalog_coverage(top, n_items)
        out[f"gini@{k}"] = gini(np.bincount(top[top >= 0].ravel(), minlength=n_items))
    out["n_shoppers"] = int(len(ranks))
    return out
