"""Fit implicit's ALS and BPR and write their factors, for bench/evaluate.py.

It imports only numpy, scipy and implicit, so it runs in any virtualenv that has implicit (the
benchmark runs it in var/bench-venv when the project's venv lacks implicit).

    python bench/implicit_baselines.py IN.npz OUT.npz

IN.npz holds CSR matrices (shoppers x items; ``<name>_data/_indices/_indptr/_shape``): ``train``
(what the models fit on), ``valid_in`` and ``test_in`` (each shopper's input history at that stage),
plus ``valid_rows``/``valid_targets`` (for choosing hyperparameters on validation NDCG@10),
``seed``, ``threads`` and ``grid`` (0 = implicit's defaults with 64 factors only).
OUT.npz holds, per model ``als`` and ``bpr``: ``<m>_items`` (n_items, f), ``<m>_users_valid`` and
``<m>_users_test`` (n_shoppers, f), and ``<m>_params``/``<m>_seconds``/``<m>_search`` as JSON strings.
ALS folds each stage's input history in (``recalculate_user``); BPR uses its trained shopper vectors.
"""

from __future__ import annotations

import itertools
import json
import sys
import time

import numpy as np
import scipy.sparse as sp

ALS_GRID = {"factors": [64, 128], "regularization": [0.1, 1.0], "alpha": [1.0, 10.0]}
BPR_GRID = {"factors": [64, 128], "learning_rate": [0.01, 0.05], "regularization": [0.001, 0.01]}


def _csr(z, name: str) -> sp.csr_matrix:
    return sp.csr_matrix((z[f"{name}_data"], z[f"{name}_indices"], z[f"{name}_indptr"]),
                         shape=tuple(z[f"{name}_shape"]))


def _ndcg10(users: np.ndarray, items: np.ndarray, inputs: sp.csr_matrix, targets: np.ndarray,
            chunk: int = 1024) -> float:
    gains = []
    for start in range(0, len(targets), chunk):
        sl = slice(start, start + chunk)
        scores = users[sl] @ items.T
        scores[inputs[sl].nonzero()] = -np.inf
        target = scores[np.arange(len(scores)), targets[sl]]
        ranks = (scores >= target[:, None]).sum(axis=1) - 1
        gains.append(np.where(ranks < 10, 1 / np.log2(ranks + 2), 0.0))
    return float(np.mean(np.concatenate(gains)))


def _fit(kind: str, params: dict, train: sp.csr_matrix, seed: int, threads: int):
    if kind == "als":
        from implicit.cpu.als import AlternatingLeastSquares
        model = AlternatingLeastSquares(iterations=15, random_state=seed, num_threads=threads, **params)
    else:
        from implicit.cpu.bpr import BayesianPersonalizedRanking
        model = BayesianPersonalizedRanking(iterations=100, random_state=seed, num_threads=threads, **params)
    model.fit(train, show_progress=False)
    return model


def _stage_users(kind: str, model, inputs: sp.csr_matrix) -> np.ndarray:
    if kind == "als":
        return np.asarray(model.recalculate_user(np.arange(inputs.shape[0]), inputs))
    return np.asarray(model.user_factors)


def main(src: str, dst: str) -> None:
    z = np.load(src)
    train, valid_in, test_in = _csr(z, "train"), _csr(z, "valid_in"), _csr(z, "test_in")
    rows, targets = z["valid_rows"], z["valid_targets"]
    seed, threads, grid = int(z["seed"]), int(z["threads"]), bool(z["grid"])
    out = {}
    for kind, space in (("als", ALS_GRID), ("bpr", BPR_GRID)):
        candidates = [dict(zip(space, values)) for values in itertools.product(*space.values())] if grid \
            else [{"factors": 64}]
        search, best = [], None
        for params in candidates:
            started = time.perf_counter()
            model = _fit(kind, params, train, seed, threads)
            seconds = time.perf_counter() - started
            users = _stage_users(kind, model, valid_in)
            score = _ndcg10(users[rows], np.asarray(model.item_factors), valid_in[rows], targets)
            search.append({"params": params, "valid_ndcg@10": score, "fit_seconds": seconds})
            print(f"{kind} {params} valid ndcg@10 {score:.4f} ({seconds:.1f} s)", file=sys.stderr, flush=True)
            if best is None or score > best[0]:
                best = (score, params, model, users, seconds)
        _, params, model, users, seconds = best
        out[f"{kind}_items"] = np.asarray(model.item_factors)
        out[f"{kind}_users_valid"] = users
        out[f"{kind}_users_test"] = _stage_users(kind, model, test_in)
        out[f"{kind}_params"] = json.dumps(params)
        out[f"{kind}_seconds"] = json.dumps(seconds)
        out[f"{kind}_search"] = json.dumps(search)
    np.savez(dst, **out)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2)
    main(sys.argv[1], sys.argv[2])
