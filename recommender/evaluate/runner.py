"""Offline evaluation of the recommenders against baselines (issue 3): the engine of ``shopbot evaluate``.

Protocol: leave-one-out (each shopper's last item is the test item, the one before it validation),
every item ranked, the shopper's input history removed from the ranking. Our models pick their epoch
and implicit's ALS/BPR their hyperparameters on validation NDCG@10; the report keeps both stages.

    report = run_benchmark(BenchmarkConfig(interactions=path, name="mine", text=False))
    paths = write_report(report, out_dir)       # recommender.evaluate.report: <name>.json, .md, _*.png
"""

from __future__ import annotations

import itertools
import logging
import platform
import resource
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import logsumexp
from threadpoolctl import threadpool_limits

from recommender.cf.baselines import FactorScorer, ItemKNN, Popularity, interaction_matrix
from recommender.cf.metrics import Scorer, ranking_metrics_at_k
from recommender.cf.sequences import Split, from_histories, leave_one_out, load_histories
from recommender.config import REPO_ROOT, SHIPPED_SEQUENCES, cache_dir, catalog_path
from recommender.errors import BadOverride, CatalogNotFound, InteractionsFormatError, UnknownModel

logger = logging.getLogger(__name__)

__all__ = ["BenchmarkConfig", "Fitted", "KS", "MODELS", "BASELINES", "OWN_MODELS", "DEFAULT_OUT_DIR",
           "parse_models", "parse_overrides", "load_split", "fit_implicit", "run_benchmark"]

KS = (5, 10, 20)
DEFAULT_OUT_DIR = REPO_ROOT / "bench" / "results"
FORMAT_DOC = "docs/interactions-format.md"


@dataclass(frozen=True)
class Preset:
    """One of our models as the benchmark trains it (tuned on Beauty validation)."""

    model: dict[str, Any]       # CFConfig overrides
    train: dict[str, Any]       # TrainConfig overrides (max_minutes is its budget cap, for all its members)
    text: bool = False          # fuse the catalog's product text embeddings
    members: int = 1            # an ensemble of this many models, seeds seed, seed + 1, ... (``Ensemble``)


_SASREC = {"kind": "sasrec", "n_negatives": 1024, "neg_power": 0.75, "dropout": 0.3, "id_dropout": 0.3}
_SASREC_TEXT_TRAIN = {"lr": 2e-3, "lr_schedule": "cosine", "epochs": 24, "warmup_epochs": 1.0, "patience": 24,
                      "samples": "prefixes", "max_minutes": 18.0}
OWN_MODELS = {
    "mf": Preset({"kind": "mf", "n_negatives": 1024, "neg_power": 0.75, "dropout": 0.3},
                 {"lr": 2e-3, "max_minutes": 6.0}),
    "sasrec": Preset(_SASREC, {"lr": 1e-3, "max_minutes": 14.0}),
    # 2048 negatives, lr 2e-3 cosine-annealed to 0 over 24 epochs (1 of warm-up), best validation epoch kept,
    # every prefix of a history its own sample (loss at its last position): valid NDCG@10 0.0760 (3 seeds)
    # against 0.0666 with a loss at every position of whole histories (bench/README.md, "Third round")
    "sasrec-text": Preset({**_SASREC, "n_negatives": 2048}, _SASREC_TEXT_TRAIN, text=True),
    # three of those (seeds seed, seed + 1, seed + 2), their log-probabilities averaged; each member gets a third
    # of the budget (--max-minutes 19.5: 6.5 min each, a member takes ~5 min alone)
    "sasrec-text-x3": Preset({**_SASREC, "n_negatives": 2048}, {**_SASREC_TEXT_TRAIN, "max_minutes": 19.5}, text=True,
                             members=3),
}
BASELINES = ("popularity", "itemknn", "als", "bpr")
MODELS = BASELINES + tuple(OWN_MODELS)

# implicit's ALS and BPR, chosen on validation NDCG@10. On Beauty the first grids' best settings sat at
# their edge (ALS: 128 factors, alpha 10; BPR: learning rate 0.05), so these reach past it. They drop
# what lost at every setting there (ALS alpha 1, BPR regularization 0.01), at the best learning rate
# (BPR 64 factors) or changed little (ALS regularization 0.1 vs 1; BPR 256 vs 128 factors), so that
# both grids take ~5 min on Beauty here (bench/README.md).
ALS_GRID = {"factors": [64, 128, 256], "regularization": [1.0], "alpha": [10.0, 40.0]}
BPR_GRID = {"factors": [128], "learning_rate": [0.02, 0.05, 0.1], "regularization": [0.001]}
ALS_ITERATIONS, BPR_ITERATIONS = 15, 100

PUBLISHED = {  # data/products/amazon-beauty/PROVENANCE.md: same data and protocol
    "SASRec (S3-Rec paper, BCE)": {"hr@5": .0387, "ndcg@5": .0249, "hr@10": .0605, "ndcg@10": .0318,
                                   "hr@20": .0902, "ndcg@20": .0394},
    "SASRec + sampled softmax (eSASRec paper)": {"hr@10": .0921, "ndcg@10": .0531},
    "eSASRec": {"hr@10": .0928, "ndcg@10": .0523},
    "BSARec": {"hr@5": .0736, "ndcg@5": .0523, "hr@10": .1008, "ndcg@10": .0611},
    "WEARec": {"hr@10": .1041, "ndcg@10": .0614},
}
PROTOCOL = ("Leave-one-out; all items ranked; the input history removed; ties count against the model; "
            "hyperparameters and epochs chosen on validation NDCG@10.")


@dataclass
class BenchmarkConfig:
    interactions: Path = SHIPPED_SEQUENCES   # shopper histories, either format of docs/interactions-format.md
    name: str = "beauty"                     # base name of the result files
    models: Sequence[str] = MODELS           # run in this order
    model_overrides: dict[str, Any] = field(default_factory=dict)   # CFConfig fields, all our models
    train_overrides: dict[str, Any] = field(default_factory=dict)   # TrainConfig fields, all our models
    max_minutes: float = 18.0                # cap on each of our models' training budget
    text: bool = True                        # give text-fused models the catalog's product embeddings
    grid: bool = True                        # tune ALS/BPR over their grids (else 64 factors, defaults)
    seed: int = 0
    threads: int = 2                         # CPU threads for training
    save_dir: Path | None = None             # save our trained models here


@dataclass
class Fitted:
    """A fitted model: its scorers for the validation and test stages, and what to report about it."""

    valid: Scorer
    test: Scorer
    info: dict[str, Any]


def parse_models(text: str | Sequence[str]) -> list[str]:
    """``"popularity, als"`` -> ``["popularity", "als"]``; raises UnknownModel naming the strangers."""
    names = text.split(",") if isinstance(text, str) else text
    wanted = [m.strip() for m in names if m.strip()]
    unknown = [m for m in wanted if m not in MODELS]
    if unknown or not wanted:
        what = f"unknown models {unknown}" if unknown else f"no model in {text!r}"
        raise UnknownModel(f"{what}; expected some of {list(MODELS)}")
    return list(dict.fromkeys(wanted))


def parse_overrides(pairs: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``["dropout=0.2", "lr=0.002"]`` -> (CFConfig overrides, TrainConfig overrides), values typed."""
    if not pairs:
        return {}, {}
    from recommender.cf.model import CFConfig
    from recommender.cf.train import TrainConfig

    out: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
    known = {f.name: (n, cls) for n, cls in enumerate((CFConfig, TrainConfig)) for f in fields(cls)}
    for pair in pairs:
        key, _, value = (part.strip() for part in pair.partition("="))
        if key not in known:
            raise BadOverride(f"{key!r} is not a CFConfig or TrainConfig field; expected one of {sorted(known)}")
        n, cls = known[key]
        kind = type(getattr(cls(), key))
        try:
            out[n][key] = kind(value)
        except ValueError:
            raise BadOverride(f"{pair!r}: {key} takes a {kind.__name__}, got {value!r}") from None
    return out


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _undecodable_line(path: Path) -> int:
    with open(path, "rb") as f:
        for line, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return line
    return 0


def load_split(path: Path) -> Split:
    """Read an interactions file (either documented format) and split it leave-one-out.

    Raises InteractionsFormatError (with the line number where there is one) when the file cannot be
    read or leaves no shopper to test.
    """
    try:
        histories = load_histories(path)
    except UnicodeDecodeError:
        raise InteractionsFormatError(f"{path}, line {_undecodable_line(path)}: not UTF-8 text; "
                                      f"expected a text file as described in {FORMAT_DOC}") from None
    split = leave_one_out(from_histories(histories))  # the reader has refused repeated shoppers
    if not (split.test >= 0).any():
        raise InteractionsFormatError(
            f"{path}: no shopper has two or more items, so nothing can be held out for testing; expected "
            f"'<shopper> <item> <item> ...' lines or a shopper_id<TAB>item_id<TAB>order table ({FORMAT_DOC})")
    return split


# ---- models --------------------------------------------------------------------------------------


def _fit_counting(model: str, split: Split) -> Fitted:
    started = time.perf_counter()
    n_items = split.interactions.n_items
    scorer = Popularity(split.train, n_items) if model == "popularity" else ItemKNN(split.train, n_items)
    return Fitted(scorer, scorer, {"fit_seconds": time.perf_counter() - started})


def _stage_matrix(split: Split, stage: str):
    """(n_shoppers, n_items) CSR of each evaluated shopper's input history at ``stage`` (others empty)."""
    shoppers, histories, _ = split.inputs(stage)
    rows = [np.zeros(0, dtype=np.int64)] * split.interactions.n_shoppers
    for s, h in zip(shoppers, histories):
        rows[s] = h
    return interaction_matrix(rows, split.interactions.n_items)


def _implicit_model(kind: str, params: dict[str, Any], seed: int, threads: int):
    if kind == "als":
        from implicit.cpu.als import AlternatingLeastSquares
        return AlternatingLeastSquares(iterations=ALS_ITERATIONS, random_state=seed, num_threads=threads, **params)
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    return BayesianPersonalizedRanking(iterations=BPR_ITERATIONS, random_state=seed, num_threads=threads, **params)


def _user_factors(kind: str, model, inputs) -> np.ndarray:
    """ALS folds each stage's input history in; BPR keeps the shopper vectors it trained."""
    with threadpool_limits(1, "blas"):
        if kind == "als":
            return np.asarray(model.recalculate_user(np.arange(inputs.shape[0]), inputs))
    return np.asarray(model.user_factors)


def fit_implicit(kind: str, split: Split, *, seed: int = 0, threads: int = 2, grid: bool = True) -> Fitted:
    """Fit implicit's ALS or BPR on the training part, each grid point scored on validation NDCG@10."""
    space = ALS_GRID if kind == "als" else BPR_GRID
    candidates = [dict(zip(space, values)) for values in itertools.product(*space.values())] if grid \
        else [{"factors": 64}]
    train = interaction_matrix(split.train, split.interactions.n_items)
    valid_in = _stage_matrix(split, "valid")
    search, best = [], None
    for params in candidates:
        started = time.perf_counter()
        with threadpool_limits(1, "blas"):      # implicit's advice: a BLAS thread pool slows it down
            model = _implicit_model(kind, params, seed, threads)
            model.fit(train, show_progress=False)
        seconds = time.perf_counter() - started
        scorer = FactorScorer(_user_factors(kind, model, valid_in), np.asarray(model.item_factors))
        ndcg = ranking_metrics_at_k(scorer, split, (10,), stage="valid", lists=False)["ndcg@10"]
        search.append({"params": params, "valid_ndcg@10": ndcg, "fit_seconds": seconds})
        logger.info("%s %s: valid NDCG@10 %.4f (%.1f s)", kind, params, ndcg, seconds)
        if best is None or ndcg > best[0]:
            best = (ndcg, params, model, scorer, seconds)
    _, params, model, valid_scorer, seconds = best
    test_scorer = FactorScorer(_user_factors(kind, model, _stage_matrix(split, "test")), np.asarray(model.item_factors))
    return Fitted(valid_scorer, test_scorer, {"params": params, "fit_seconds": seconds, "search": search,
                                              "library": f"implicit {metadata.version('implicit')}"})


def load_text_features():
    """The catalog's cached product text embeddings (built on first use, as the search does)."""
    from recommender.catalog.products import Catalog
    from recommender.text.embeddings import ProductEmbeddings
    from recommender.text.encoder import TextEncoder

    path = catalog_path()
    if not path.exists():
        raise CatalogNotFound(f"No catalog at {path} for the text-fused models: run 'shopbot setup' "
                              "(or 'shopbot catalog build') first, or pass --no-text")
    with Catalog.open(path) as catalog:
        return ProductEmbeddings.load_or_build(catalog, TextEncoder(), cache_dir(), progress=False)


def _fit_own(name: str, split: Split, text, cfg: BenchmarkConfig) -> Fitted:
    from recommender.cf.model import CFConfig
    from recommender.cf.recommender import CFRecommender
    from recommender.cf.train import TrainConfig

    preset = OWN_MODELS[name]
    budget = min(cfg.max_minutes, preset.train.get("max_minutes", cfg.max_minutes)) / preset.members
    started = time.perf_counter()
    members = []
    for member in range(preset.members):
        tc = TrainConfig(**{**preset.train, "seed": cfg.seed + member, "max_minutes": budget, "threads": cfg.threads,
                            **cfg.train_overrides})
        rec = CFRecommender(CFConfig(**{**preset.model, **cfg.model_overrides}), tc)
        rec.fit(split, text=text if preset.text else None)
        if cfg.save_dir is not None:
            rec.save(cfg.save_dir / (f"{name}.pt" if preset.members == 1 else f"{name}-{member}.pt"))
        members.append(rec)
    seconds = time.perf_counter() - started
    info = {"config": asdict(rec.config), "train_config": asdict(tc), "fit_seconds": seconds,
            "log": asdict(members[0].log), "peak_rss_mb": _peak_mb()}
    if preset.members == 1:
        return Fitted(rec, rec, info)
    info["member_logs"] = [asdict(m.log) for m in members]  # "log" is the first member's (plots, report)
    ensemble = Ensemble(members)
    return Fitted(ensemble, ensemble, info)


class Ensemble:
    """Several models as one ``Scorer``: the mean of their log-probabilities over every item (the geometric
    mean of their softmax distributions), so a model whose scores spread wider does not outvote the others."""

    def __init__(self, members: Sequence[Scorer]) -> None:
        self.members = list(members)

    def score_histories(self, histories: Sequence[np.ndarray], shoppers: np.ndarray | None = None) -> np.ndarray:
        total = None
        for member in self.members:
            scores = np.asarray(member.score_histories(histories, shoppers), dtype=np.float64)
            scores = scores - logsumexp(scores, axis=1, keepdims=True)  # (B, n_items) log-probabilities
            total = scores if total is None else total + scores
        return total / len(self.members)


def _fit(name: str, split: Split, text, cfg: BenchmarkConfig) -> Fitted:
    if name in OWN_MODELS:
        return _fit_own(name, split, text, cfg)
    if name in ("als", "bpr"):
        return fit_implicit(name, split, seed=cfg.seed, threads=cfg.threads, grid=cfg.grid)
    return _fit_counting(name, split)


def run_benchmark(cfg: BenchmarkConfig) -> dict[str, Any]:
    """Fit every model of ``cfg.models`` and evaluate it; returns the report (plain JSON-able data).

    BLAS uses at most ``cfg.threads`` threads (implicit's fits one), torch ``cfg.threads``.
    """
    models = parse_models(cfg.models)
    with threadpool_limits(cfg.threads, "blas"):
        return _run(cfg, models)


def _run(cfg: BenchmarkConfig, models: list[str]) -> dict[str, Any]:
    split = load_split(cfg.interactions)
    inter = split.interactions
    wants_text = cfg.text and any(OWN_MODELS[m].text for m in models if m in OWN_MODELS)
    text = load_text_features() if wants_text else None
    report: dict[str, Any] = {
        "dataset": {"name": cfg.name, "file": str(cfg.interactions), "shoppers": inter.n_shoppers,
                    "items": inter.n_items, "interactions": inter.n_interactions},
        "protocol": PROTOCOL, "machine": {"python": platform.python_version(), "cpus": cfg.threads},
        "models": {}}
    if Path(cfg.interactions).resolve() == SHIPPED_SEQUENCES.resolve():
        report["published"] = PUBLISHED
    logger.info("%s: %d shoppers, %d items, %d interactions", cfg.name, inter.n_shoppers, inter.n_items,
                inter.n_interactions)
    for name in models:
        if name in OWN_MODELS and OWN_MODELS[name].text and text is None:
            logger.warning("%s runs on ids only: no product texts (--no-text)", name)
        fitted = _fit(name, split, text, cfg)
        info = fitted.info
        info["valid"] = ranking_metrics_at_k(fitted.valid, split, KS, stage="valid", lists=False)
        info["test"] = ranking_metrics_at_k(fitted.test, split, KS, stage="test")
        report["models"][name] = info
        logger.info("%s: test HR@10 %.4f NDCG@10 %.4f (valid NDCG@10 %.4f, fit %.0f s)", name,
                    info["test"]["hr@10"], info["test"]["ndcg@10"], info["valid"]["ndcg@10"], info["fit_seconds"])
    report["peak_rss_mb"] = _peak_mb()
    return report
