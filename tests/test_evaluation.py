"""Ranking metrics against hand-computed values (issue 3)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recommender.cf.metrics import (auc, catalog_coverage, gini, hit_rate_at_k, mrr, ndcg_at_k,
                                    ranking_metrics_at_k, target_ranks, top_k)
from recommender.cf.sequences import from_histories, leave_one_out


def test_target_ranks_remove_history_and_count_ties_against():
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5],
                       [0.1, 0.5, 0.5, 0.9, 0.2]])
    ranks, cands = target_ranks(scores, np.array([2, 2]), [np.array([0]), np.array([3])])
    # row 0: item 0 removed; only item 1 beats the target -> rank 1 of 4 candidates
    # row 1: item 3 removed; item 1 ties with the target and counts above it -> rank 1
    assert ranks.tolist() == [1, 1] and cands.tolist() == [4, 4]
    _, _, ties = target_ranks(scores, np.array([2, 2]), [np.array([0]), np.array([3])], return_ties=True)
    assert ties.tolist() == [0, 1]


def test_auc_counts_a_tie_as_half():
    # constant scores: every other candidate ties with the target
    scores = np.zeros((1, 5))
    ranks, cands, ties = target_ranks(scores, np.array([0]), [np.array([], dtype=int)], return_ties=True)
    assert ranks.tolist() == [4] and ties.tolist() == [4]
    assert auc(ranks, cands, ties) == pytest.approx(0.5)
    assert auc(ranks, cands) == 0.0


def test_target_in_history_is_a_miss():
    ranks, cands = target_ranks(np.array([[0.1, 0.9, 0.3]]), np.array([1]), [np.array([1])])
    assert ranks.tolist() == [2] and cands.tolist() == [2]


def test_metrics_hand_computed():
    ranks = np.array([0, 1, 4, 30])
    assert hit_rate_at_k(ranks, 1) == 0.25
    assert hit_rate_at_k(ranks, 5) == 0.75
    assert ndcg_at_k(ranks, 5) == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(6) + 0) / 4)
    assert ndcg_at_k(ranks, 2) == pytest.approx((1 + 1 / math.log2(3)) / 4)
    assert mrr(ranks) == pytest.approx((1 + 1 / 2 + 1 / 5 + 1 / 31) / 4)
    assert auc(np.array([0, 5, 10]), np.array([11, 11, 11])) == pytest.approx((1 + 0.5 + 0) / 3)


def test_top_k_best_first_ties_by_index_excluded_skipped():
    scores = np.array([[0.2, 0.9, 0.5, 0.9, 0.1], [1.0, 0.0, 0.0, 0.0, 0.0]])
    assert top_k(scores, 3, [np.array([2]), np.array([0, 1, 2, 3])]).tolist() == [[1, 3, 0], [4, -1, -1]]


def test_coverage_and_gini():
    assert catalog_coverage(np.array([[0, 1], [1, -1]]), 4) == 0.5
    assert gini(np.array([3, 3, 3])) == 0.0
    assert gini(np.array([0, 0, 0, 8])) == pytest.approx(0.75)   # (n-1)/n for one item only
    assert gini(np.array([1, 3])) == pytest.approx(0.25)


class _FixedScorer:
    def __init__(self, table):
        self.table = np.asarray(table, dtype=float)

    def score_histories(self, histories, shoppers=None):
        return self.table[shoppers]


def test_ranking_metrics_at_k_end_to_end():
    inter = from_histories([("a", ["i0", "i1", "i2"]), ("b", ["i3", "i2", "i1"])])
    split = leave_one_out(inter)
    # test inputs: a -> [i0, i1] target i2; b -> [i3, i2] target i1
    scorer = _FixedScorer([[9, 8, 1, 5], [0, 2, 9, 3]])
    m = ranking_metrics_at_k(scorer, split, ks=(1, 2))
    # a: candidates i2, i3 -> i3 (5) beats i2 (1): rank 1.  b: candidates i0, i1 -> i1 first: rank 0
    assert m["hr@1"] == 0.5 and m["hr@2"] == 1.0
    assert m["ndcg@2"] == pytest.approx((1 / math.log2(3) + 1) / 2)
    assert m["mrr"] == pytest.approx(0.75) and m["auc"] == pytest.approx(0.5)
    assert m["coverage@1"] == 0.5 and m["n_shoppers"] == 2   # top-1 lists: i3 and i1

