"""Offline evaluation of the recommenders against baselines, on the shipped Beauty data or any file.

Protocol: leave-one-out (each shopper's last item is the test item, the one before it validation),
every item ranked, the shopper's input history removed from the ranking. Our models and implicit's
pick their epoch / hyperparameters on validation NDCG@10; the table reports the test stage.
Writes <out-dir>/<name>.json, <name>.md, <name>_metrics_at_k.png and <name>_training.png.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, fields
from pathlib import Path

import click
import numpy as np

from recommender.cf_baselines import FactorScorer, ItemKNN, Popularity, interaction_matrix
from recommender.cf_model import CFConfig
from recommender.cf_recommender import CFRecommender
from recommender.cf_train import TrainConfig
from recommender.config import REPO_ROOT, SHIPPED_SEQUENCES, cache_dir, catalog_path
from recommender.evaluation import ranking_metrics_at_k
from recommender.sequences import Split, from_histories, leave_one_out, load_histories

logger = logging.getLogger("bench.evaluate")

KS = (5, 10, 20)
IMPLICIT_VERSION = "0.7.3"
_SASREC = {"kind": "sasrec", "n_negatives": 1024, "neg_power": 0.75, "dropout": 0.3, "id_dropout": 0.3}
OWN_MODELS = {  # name -> (CFConfig overrides, TrainConfig overrides, uses text); tuned on Beauty validation
    "mf": ({"kind": "mf", "n_negatives": 1024, "neg_power": 0.75, "dropout": 0.3},
           {"lr": 2e-3, "max_minutes": 6.0}, False),
    "sasrec": (_SASREC, {"lr": 1e-3, "max_minutes": 14.0}, False),
    "sasrec-text": (_SASREC, {"lr": 1e-3, "max_minutes": 18.0}, True),
}
BASELINES = ("popularity", "itemknn", "als", "bpr")
PUBLISHED = {  # PROVENANCE.md: same data and protocol
    "SASRec (S3-Rec paper, BCE)": {"hr@5": .0387, "ndcg@5": .0249, "hr@10": .0605, "ndcg@10": .0318,
                                   "hr@20": .0902, "ndcg@20": .0394},
    "SASRec + sampled softmax (eSASRec paper)": {"hr@10": .0921, "ndcg@10": .0531},
    "eSASRec": {"hr@10": .0928, "ndcg@10": .0523},
    "BSARec": {"hr@5": .0736, "ndcg@5": .0523, "hr@10": .1008, "ndcg@10": .0611},
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _implicit_python(venv: Path) -> str:
    """A Python that can import implicit: this one, or a second venv created under var/ on first use."""
    if importlib.util.find_spec("implicit") is not None:
        return sys.executable
    python = venv / "bin" / "python"
    if not python.exists():
        import scipy
        click.echo(f"implicit is not in this venv; creating {venv} (numpy {np.__version__}, scipy {scipy.__version__})")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"numpy=={np.__version__}",
                        f"scipy=={scipy.__version__}", f"implicit=={IMPLICIT_VERSION}", "threadpoolctl", "tqdm"],
                       check=True)
    return str(python)


def _csr_arrays(name: str, m) -> dict:
    return {f"{name}_data": m.data, f"{name}_indices": m.indices, f"{name}_indptr": m.indptr,
            f"{name}_shape": np.array(m.shape)}


def run_implicit(split: Split, seed: int, threads: int, grid: bool, venv: Path) -> dict:
    """ALS and BPR via bench/implicit_baselines.py; returns {name: (valid scorer, test scorer, info)}."""
    n_items = split.interactions.n_items
    stage_inputs = {}
    for stage in ("valid", "test"):
        shoppers, histories, _ = split.inputs(stage)
        full = [np.zeros(0, dtype=np.int64)] * len(split.train)
        for s, h in zip(shoppers, histories):
            full[s] = h
        stage_inputs[stage] = interaction_matrix(full, n_items)
    rows, _, targets = split.inputs("valid")
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, **_csr_arrays("train", interaction_matrix(split.train, n_items)),
                 **_csr_arrays("valid_in", stage_inputs["valid"]), **_csr_arrays("test_in", stage_inputs["test"]),
                 valid_rows=rows, valid_targets=targets, seed=seed, threads=threads, grid=int(grid))
        env = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
        subprocess.run([_implicit_python(venv), str(Path(__file__).with_name("implicit_baselines.py")),
                        str(src), str(dst)], check=True, env=env)
        z = np.load(dst)
        return {kind: (FactorScorer(z[f"{kind}_users_valid"], z[f"{kind}_items"]),
                       FactorScorer(z[f"{kind}_users_test"], z[f"{kind}_items"]),
                       {"params": json.loads(str(z[f"{kind}_params"])),
                        "fit_seconds": json.loads(str(z[f"{kind}_seconds"])),
                        "search": json.loads(str(z[f"{kind}_search"]))})
                for kind in ("als", "bpr")}


def load_text():
    """The catalog's cached product text embeddings (built by the search helper's embeddings module)."""
    from recommender.catalog import Catalog
    from recommender.embeddings import ProductEmbeddings
    from recommender.encoder import TextEncoder
    path = catalog_path()
    if not path.exists():
        raise click.ClickException(f"No catalog at {path}: import the products first, or pass --no-text")
    catalog = Catalog.open(path)
    try:
        return ProductEmbeddings.load_or_build(catalog, TextEncoder(), cache_dir(), progress=False)
    finally:
        catalog.close()


def _parse_sets(pairs: tuple[str, ...]) -> tuple[dict, dict]:
    cf, tc = {}, {}
    cf_fields = {f.name: f.type for f in fields(CFConfig)}
    tc_fields = {f.name: f.type for f in fields(TrainConfig)}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key in cf_fields:
            cf[key] = type(getattr(CFConfig(), key))(value)
        elif key in tc_fields:
            tc[key] = type(getattr(TrainConfig(), key))(value)
        else:
            raise click.BadParameter(f"{key!r} is not a CFConfig or TrainConfig field; expected one of "
                                     f"{sorted(cf_fields) + sorted(tc_fields)}", param_hint="--set")
    return cf, tc


def fit_own(name: str, split: Split, text, sets: tuple[dict, dict], seed: int, max_minutes: float,
            threads: int, save_dir: Path | None) -> tuple[CFRecommender, dict]:
    cf_over, tc_over, uses_text = OWN_MODELS[name]
    cfg = CFConfig(**{**cf_over, **sets[0]})
    budget = min(max_minutes, tc_over.get("max_minutes", max_minutes))
    tc = TrainConfig(**{**tc_over, "seed": seed, "max_minutes": budget, "threads": threads, **sets[1]})
    started = time.perf_counter()
    rec = CFRecommender(cfg, tc).fit(split, text=text if uses_text else None)
    seconds = time.perf_counter() - started
    if save_dir is not None:
        rec.save(save_dir / f"{name}.pt")
    return rec, {"config": asdict(rec.config), "train_config": asdict(tc), "fit_seconds": seconds,
                 "log": asdict(rec.log), "peak_rss_mb": _peak_mb()}


def write_markdown(path: Path, report: dict) -> None:
    cols = [f"{m}@{k}" for k in KS for m in ("hr", "ndcg")] + ["mrr", "auc", "coverage@10", "gini@10"]
    lines = [f"# Offline evaluation: {report['dataset']['name']}", "",
             f"{report['dataset']['shoppers']} shoppers, {report['dataset']['items']} items, "
             f"{report['dataset']['interactions']} interactions. {report['protocol']}", "",
             "| model | " + " | ".join(c.upper() for c in cols) + " | fit (s) |",
             "|---" * (len(cols) + 2) + "|"]
    for name, r in report["models"].items():
        vals = " | ".join(f"{r['test'][c]:.4f}" for c in cols)
        lines.append(f"| {name} | {vals} | {r.get('fit_seconds', 0):.0f} |")
    lines += ["", "Published on the same data and protocol (PROVENANCE.md):", "",
              "| model | HR@5 | NDCG@5 | HR@10 | NDCG@10 | HR@20 | NDCG@20 |", "|---|---|---|---|---|---|---|"]
    for name, r in PUBLISHED.items():
        lines.append(f"| {name} | " + " | ".join(f"{r[c]:.4f}" if c in r else "" for c in cols[:6]) + " |")
    path.write_text("\n".join(lines) + "\n")


def write_plots(out: Path, name: str, report: dict) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for model, r in report["models"].items():
        for ax, metric in zip(axes, ("hr", "ndcg")):
            ax.plot(KS, [r["test"][f"{metric}@{k}"] for k in KS], marker="o", label=model)
    for ax, metric in zip(axes, ("HR", "NDCG")):
        ax.set_xlabel("K")
        ax.set_ylabel(f"{metric}@K (test)")
        ax.set_xticks(KS)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / f"{name}_metrics_at_k.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    trained = {m: r["log"] for m, r in report["models"].items() if "log" in r}
    if trained:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for model, log in trained.items():
            axes[0].plot(log["epochs"], log["loss"], marker=".", label=model)
            axes[1].plot(log["epochs"], log["valid_ndcg10"], marker=".", label=model)
        axes[0].set_ylabel("training loss")
        axes[1].set_ylabel("validation NDCG@10")
        for ax in axes:
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
        axes[1].legend(fontsize=8)
        fig.tight_layout()
        paths.append(out / f"{name}_training.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog="""\b
Examples:
  .venv/bin/python bench/evaluate.py                        # Beauty, every model
  .venv/bin/python bench/evaluate.py --models popularity,sasrec-text --max-minutes 5
  .venv/bin/python bench/evaluate.py --interactions inter.tsv --name mine --no-text
  .venv/bin/python bench/evaluate.py --models sasrec-text --set dropout=0.2 --set lr=0.002

\b
Interactions formats (detected from the first line):
  one line per shopper:  <shopper> <item> <item> ...        (oldest first; the shipped user_sequence.txt)
  TSV with a header:     shopper_id<TAB>item_id<TAB>order    (order: number or ISO date; or `timestamp`)
""")
@click.option("--interactions", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=SHIPPED_SEQUENCES, show_default=True, help="Shopper histories to evaluate on.")
@click.option("--name", default="beauty", show_default=True, help="Base name of the result files.")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path),
              default=REPO_ROOT / "bench" / "results", show_default=True)
@click.option("--models", default=",".join(BASELINES + tuple(OWN_MODELS)), show_default=True,
              help="Comma-separated models to run.")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
              help="Override a CFConfig/TrainConfig field for our models (repeatable).")
@click.option("--max-minutes", type=float, default=18.0, show_default=True,
              help="Cap on the training budget of each of our models (wall clock, validation included; "
                   "presets: mf 6, sasrec 14, sasrec-text 18).")
@click.option("--text/--no-text", default=True, show_default=True,
              help="Give text-fused models the catalog's product embeddings.")
@click.option("--grid/--no-grid", default=True, show_default=True,
              help="Tune implicit's ALS/BPR on validation NDCG@10 over a small grid.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=int, default=2, show_default=True, help="CPU threads for training.")
@click.option("--save-models/--no-save-models", default=False, show_default=True,
              help="Save our trained models under <cache>/cf/<name>/.")
def main(interactions: Path, name: str, out_dir: Path, models: str, sets: tuple[str, ...], max_minutes: float,
         text: bool, grid: bool, seed: int, threads: int, save_models: bool) -> None:
    """Evaluate recommenders offline: leave-one-out, all items ranked, seen items removed."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    wanted = [m.strip() for m in models.split(",") if m.strip()]
    unknown = sorted(set(wanted) - set(BASELINES) - set(OWN_MODELS))
    if unknown:
        raise click.BadParameter(f"unknown models {unknown}; expected some of "
                                 f"{list(BASELINES) + list(OWN_MODELS)}", param_hint="--models")
    overrides = _parse_sets(sets)
    split = leave_one_out(from_histories(load_histories(interactions)))
    inter = split.interactions
    features = load_text() if text and any(OWN_MODELS[m][2] for m in wanted if m in OWN_MODELS) \
        else None
    save_dir = cache_dir() / "cf" / name if save_models else None
    report = {"dataset": {"name": name, "file": str(interactions), "shoppers": inter.n_shoppers,
                          "items": inter.n_items, "interactions": inter.n_interactions},
              "protocol": "Leave-one-out; all items ranked; the input history removed; ties count against "
                          "the model; hyperparameters and epochs chosen on validation NDCG@10.",
              "machine": {"python": platform.python_version(), "cpus": threads}, "models": {},
              "published": PUBLISHED}
    implicit_models = run_implicit(split, seed, threads, grid, cache_dir() / "bench-venv") \
        if {"als", "bpr"} & set(wanted) else {}
    for model in wanted:
        started = time.perf_counter()
        if model in OWN_MODELS:
            rec, info = fit_own(model, split, features, overrides, seed, max_minutes, threads, save_dir)
            scorers = (rec, rec)
        elif model in ("als", "bpr"):
            valid_scorer, test_scorer, info = implicit_models[model]
            scorers = (valid_scorer, test_scorer)
        else:
            scorer = Popularity(split.train, inter.n_items) if model == "popularity" else ItemKNN(split.train, inter.n_items)
            scorers, info = (scorer, scorer), {"fit_seconds": time.perf_counter() - started}
        info["valid"] = ranking_metrics_at_k(scorers[0], split, KS, stage="valid", lists=False)
        info["test"] = ranking_metrics_at_k(scorers[1], split, KS, stage="test")
        report["models"][model] = info
        click.echo(f"{model}: test HR@10 {info['test']['hr@10']:.4f} NDCG@10 {info['test']['ndcg@10']:.4f} "
                   f"(valid NDCG@10 {info['valid']['ndcg@10']:.4f}, fit {info['fit_seconds']:.0f} s)")
    report["peak_rss_mb"] = _peak_mb()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    write_markdown(out_dir / f"{name}.md", report)
    for path in [out_dir / f"{name}.json", out_dir / f"{name}.md", *write_plots(out_dir, name, report)]:
        click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
