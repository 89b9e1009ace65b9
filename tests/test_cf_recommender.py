"""The collaborative recommender on synthetic data with a known answer (issue 3)."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
import torch

from recommender.cf.model import CFConfig, SASRec
from recommender.cf.recommender import CFRecommender
from recommender.errors import CatalogMismatch
from recommender.cf.train import TrainConfig, _sasrec_batches, score_histories
from recommender.cf.metrics import ranking_metrics_at_k
from recommender.cf.sequences import from_histories, leave_one_out

EVEN = [f"p{i}" for i in range(0, 10, 2)]
ODD = [f"p{i}" for i in range(1, 10, 2)]
CATALOG = [f"p{i}" for i in range(11)]          # p10 is an even product nobody has bought yet
KINDS = ["sasrec", "sasrec+text", "sasrec+filter", "sasrec+prefixes", "mf"]


class _Text:
    """Fake text embeddings: even products point one way, odd ones another, plus a little noise."""

    def __init__(self):
        rng = np.random.default_rng(1)
        self.ids = CATALOG
        parity = np.array([[1.0, 0.0] if int(p[1:]) % 2 == 0 else [0.0, 1.0] for p in CATALOG])
        self.matrix = (np.hstack([parity, np.zeros((len(CATALOG), 6))])
                       + 0.05 * rng.standard_normal((len(CATALOG), 8))).astype(np.float32)


def checkerboard(n_shoppers: int = 160, seed: int = 0) -> list[tuple[str, list[str]]]:
    """Each shopper buys all five products of one parity, in a random order."""
    rng = np.random.default_rng(seed)
    return [(f"s{u}", list(rng.permutation(EVEN if u % 2 == 0 else ODD))) for u in range(n_shoppers)]


@functools.lru_cache(maxsize=None)
def _fit(kind: str, seed: int = 0) -> CFRecommender:
    cfg = CFConfig(kind="mf" if kind == "mf" else "sasrec", n_embd=16, max_len=8, dropout=0.1, id_dropout=0.3,
                   n_negatives=6 if kind.endswith("+text") else 0,     # sampled softmax on one of them
                   filter_alpha=0.7 if kind.endswith("+filter") else 0.0, filter_c=4)
    tc = TrainConfig(epochs=15, batch_size=4 if kind == "mf" else 32, lr=1e-2, seed=seed, patience=15, threads=1,
                     samples="prefixes" if kind.endswith("+prefixes") else "sequences")
    split = leave_one_out(from_histories(checkerboard(), item_ids=CATALOG))
    return CFRecommender(cfg, tc, describe=lambda pid: f"<{pid}>").fit(
        split, text=_Text() if kind.endswith("+text") else None,
        categories={p: "Even" if int(p[1:]) % 2 == 0 else "Odd" for p in CATALOG})


@pytest.fixture(params=KINDS)
def model(request):
    return request.param, _fit(request.param)


def test_checkerboard_held_out_product_comes_first(model):
    kind, rec = model
    split = leave_one_out(from_histories(checkerboard(), item_ids=CATALOG))
    for s in range(20):
        shopper, items = checkerboard()[s]
        top = rec.recommend(shopper, n=1, candidates=EVEN + ODD)
        assert top[0].product_id == items[-1], (kind, shopper, items, top)
    metrics = ranking_metrics_at_k(rec, split, ks=(1,))
    assert metrics["hr@1"] > 0.95


def test_new_shopper_gets_recommendations_from_session_items(model):
    kind, rec = model
    recs = rec.recommend(None, n=3, session_items=["p0", "p2"], candidates=EVEN + ODD)
    assert {r.product_id for r in recs} == {"p4", "p6", "p8"}
    recs = rec.recommend("somebody-new", n=3, session_items=["p1", "p3", "unknown-product"],
                         candidates=EVEN + ODD)
    assert {r.product_id for r in recs} == {"p5", "p7", "p9"}


def test_item_cold_start_through_text():
    rec = _fit("sasrec+text")
    recs = rec.recommend(None, n=10, session_items=["p0", "p2", "p4"])
    ranked = [r.product_id for r in recs]
    assert ranked.index("p10") < min(ranked.index(p) for p in ODD)   # never bought, still ranked as even


def test_reasons_only_name_products_from_history_or_session(model):
    kind, rec = model
    for shopper, session in [("s0", []), ("s1", ["p0"]), (None, ["p3", "p5"]), ("s4", ["p7"])]:
        history = set(rec.item_ids[i] for i in rec._history(shopper, session)[0])
        for r in rec.recommend(shopper, n=5, session_items=session, exclude_seen=False):
            assert set(r.because) <= history
            named = set(re.findall(r"<(p\d+)>", " ".join(r.reasons)))
            assert named <= set(r.because), (r, history)


def test_because_you_liked_is_the_largest_real_contribution():
    rec = _fit("sasrec")
    recs = rec.recommend("s0", n=3)
    contributions = dict(rec.explain(recs[0].product_id, "s0"))
    liked = [r for r in recs[0].reasons if r.startswith("because you liked")]
    if liked:
        top_product, top_drop = max(contributions.items(), key=lambda kv: kv[1])
        assert liked == [f"because you liked <{top_product}>"] and top_drop > 0
    assert set(contributions) == {rec.item_ids[i] for i in rec._history("s0", [])[0]}


def test_popular_in_category_is_true():
    rec = _fit("mf")
    for r in rec.recommend("s0", n=5, exclude_seen=False):
        for reason in r.reasons:
            if reason.startswith("popular in"):
                i = rec.item_ids.index(r.product_id)
                same = [j for j, c in enumerate(rec.categories) if c == rec.categories[i]]
                assert rec._stats.popularity[i] >= np.quantile(rec._stats.popularity[same], 0.9)


def test_candidates_and_exclusions(model):
    kind, rec = model
    recs = rec.recommend("s0", n=5, candidates=["p1", "p3", "p8"], exclude=["p3"])
    assert {r.product_id for r in recs} <= {"p1", "p8"}
    seen = set(checkerboard()[0][1][:-1])
    assert not seen & {r.product_id for r in rec.recommend("s0", n=10)}


def test_save_load_round_trip_gives_identical_scores(model, tmp_path):
    kind, rec = model
    path = rec.save(tmp_path / "cf.pt")
    again = CFRecommender.load(path, fingerprint=rec.fingerprint, describe=rec.describe)
    histories = [np.array([0, 2]), np.array([1, 3, 5])]
    np.testing.assert_array_equal(rec.score_histories(histories, np.array([0, 1])),
                                  again.score_histories(histories, np.array([0, 1])))
    assert rec.recommend("s2", n=4, session_items=["p4"]) == again.recommend("s2", n=4, session_items=["p4"])
    with pytest.raises(CatalogMismatch, match="retrain it on the current catalog"):
        CFRecommender.load(path, fingerprint="0" * 64)


def test_the_frequency_filter_is_causal_and_averages_the_last_real_items():
    cfg = CFConfig(n_items=20, max_len=10, n_embd=8, dropout=0.0, filter_alpha=0.7, filter_c=5)  # window 2
    model = SASRec(cfg).eval()
    block_filter = model.blocks[0].filter
    x = torch.randn(2, 5, 8)
    valid = torch.tensor([[False, False, True, True, True], [True] * 5])
    with torch.no_grad():
        block_filter.beta.zero_()                                       # the low-pass alone
        low = block_filter(x, valid)
        assert torch.allclose(low[1, 3], (x[1, 2] + x[1, 3]) / 2)
        assert torch.allclose(low[0, 2], x[0, 2])                       # the padding before it weighs nothing
        block_filter.beta.fill_(1.0)                                    # beta 1: the input itself
        assert torch.allclose(block_filter(x, valid), x, atol=1e-6)
        seq, later = torch.tensor([[0, 3, 4, 5, 6]]), torch.tensor([[0, 3, 4, 5, 9]])
        first, second = (model.encode(model.items()[s], s > 0) for s in (seq, later))
    assert torch.allclose(first[:, :4], second[:, :4]) and not torch.allclose(first[:, 4], second[:, 4])


def test_training_is_repeatable_on_cpu():
    a, b = _fit("sasrec", seed=3), _fit.__wrapped__("sasrec", seed=3)
    histories = [np.array([0, 2, 4])]
    np.testing.assert_array_equal(a.score_histories(histories), b.score_histories(histories))


def test_similar_items_stay_in_parity():
    rec = _fit("sasrec")
    assert {r.product_id for r in rec.similar_items("p0", n=4, candidates=EVEN + ODD)} == {"p2", "p4", "p6", "p8"}


def test_together_reason_counts_shoppers_who_bought_one_right_after_the_other(tmp_path):
    rec = _fit("sasrec")
    pair = {rec.index_of("p0"), rec.index_of("p2")}
    n = sum(any({int(a), int(b)} == pair for a, b in zip(h, h[1:])) for h in rec.histories)
    assert n >= 2 and rec.bought_together("p0", "p2") == n
    assert rec.together_reason("p0", "p2") == f"often bought together with <p0> ({n} shoppers)"
    assert rec.together_reason("p0", "p1") is None                 # never bought one after the other
    assert rec.together_reason("p0", "p10") is None                # known to the model, never bought
    assert rec.together_reason("p0", "nope") is None and rec.together_reason("nope", "p0") is None
    for r in rec.similar_items("p0", n=4, candidates=EVEN + ODD):
        assert r.reasons == (rec.together_reason("p0", r.product_id),) and r.because == ("p0",)
    renamed = CFRecommender.load(rec.save(tmp_path / "cf.pt"), describe=str.upper)
    assert renamed.together_reason("p0", "p2") == f"often bought together with P0 ({n} shoppers)"


def test_fit_on_plain_histories_and_popularity_for_strangers():
    from recommender.errors import ModelNotFitted
    with pytest.raises(ModelNotFitted, match=r"call fit\(\)"):
        CFRecommender().recommend("s0")
    rec = CFRecommender(CFConfig(n_embd=8, max_len=8, n_negatives=0),
                        TrainConfig(epochs=2, batch_size=32, threads=1)).fit(checkerboard(40))
    assert rec.item_ids == sorted(EVEN + ODD) and rec.log.epochs == [1, 2]
    recs = rec.recommend("nobody", n=3)             # no history, no session: most bought products
    assert [r.score for r in recs] == [20.0, 20.0, 20.0]
    assert recs[0].reasons == ("popular: 20 shoppers bought it",) and recs[0].because == ()


def test_the_cosine_schedule_learns_the_checkerboard_and_bad_schedules_are_refused():
    split = leave_one_out(from_histories(checkerboard(), item_ids=CATALOG))
    cfg = CFConfig(n_embd=16, max_len=8, dropout=0.1, n_negatives=0)
    rec = CFRecommender(cfg, TrainConfig(epochs=15, batch_size=32, lr=2e-2, lr_schedule="cosine", warmup_epochs=1,
                                         patience=15, threads=1)).fit(split)
    assert ranking_metrics_at_k(rec, split, ks=(1,))["hr@1"] > 0.95
    with pytest.raises(ValueError, match="lr_schedule"):
        CFRecommender(CFConfig(n_embd=8), TrainConfig(epochs=1, lr_schedule="step", threads=1)).fit(split)


def test_serving_computes_the_item_table_once_and_follows_new_weights():
    import torch

    from recommender.cf.model import build_model

    cfg = CFConfig(kind="sasrec", n_items=30, n_embd=8, max_len=4, text_dim=6)
    model = build_model(cfg, torch.randn(30, 6)).eval()
    with torch.no_grad():
        table = model.items()
        assert model.items() is table                                  # kept while serving
        score_histories(model, [np.array([1, 2])])                     # scoring switches to eval() again
        assert model.items() is table                                  # ... and keeps the table
        other = build_model(cfg, torch.randn(30, 6)).state_dict()
        model.load_state_dict(other)                                   # new weights: computed again
        assert torch.equal(model.items(), model.items._rows(None))
        assert not torch.equal(model.items(), table)
    model.train()
    assert not model.items._kept
    with torch.no_grad():
        model.eval()
        assert torch.equal(model.items(), model.items._rows(None))     # the same numbers as uncached
    assert model.items() is not model.items()                          # with grad on: never kept


def test_prefix_samples_give_each_next_item_as_the_target_of_the_last_position():
    train = [np.array([0, 1, 2]), np.array([3, 4]), np.array([5])]    # catalog indices; rows are + 1
    (inputs, targets), = _sasrec_batches(train, CFConfig(max_len=5), 10, np.random.default_rng(0), prefixes=True)
    samples = sorted((tuple(x[x > 0].tolist()), int(y[-1])) for x, y in zip(inputs, targets))
    assert samples == [((1,), 2), ((1, 2), 3), ((4,), 5)] and not targets[:, :-1].any()
