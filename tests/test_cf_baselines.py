"""Baselines of the offline evaluation on data with a known answer (issue 3)."""

from __future__ import annotations

import numpy as np

from recommender.cf.baselines import FactorScorer, ItemKNN, Popularity, interaction_matrix
from recommender.cf.metrics import ranking_metrics_at_k
from recommender.cf.sequences import from_histories, leave_one_out


def _checkerboard(n_shoppers=60, seed=0):
    rng = np.random.default_rng(seed)
    even, odd = [f"p{i}" for i in range(0, 10, 2)], [f"p{i}" for i in range(1, 10, 2)]
    return [(f"s{u}", list(rng.permutation(even if u % 2 == 0 else odd))) for u in range(n_shoppers)]


def test_interaction_matrix_counts_repeats_once():
    m = interaction_matrix([np.array([0, 2, 2]), np.array([1])], 3)
    assert m.toarray().tolist() == [[1, 0, 1], [0, 1, 0]]


def test_popularity_scores_are_shopper_counts():
    pop = Popularity([np.array([0, 1]), np.array([1, 1]), np.array([2, 1])], 4)
    assert pop.score_histories([np.array([0])]).tolist() == [[1, 3, 1, 0]]


def test_item_knn_checkerboard_held_out_item_first():
    split = leave_one_out(from_histories(_checkerboard()))
    knn = ItemKNN(split.train, split.interactions.n_items, k=3)
    assert ranking_metrics_at_k(knn, split, ks=(1,))["hr@1"] == 1.0


def test_factor_scorer_dot_products():
    scorer = FactorScorer(np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[1.0, 1.0], [3.0, 0.0], [0.0, 1.0]]))
    assert scorer.score_histories([None], np.array([1])).tolist() == [[2.0, 0.0, 2.0]]
