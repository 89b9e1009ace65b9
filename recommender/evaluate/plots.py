"""The benchmark's charts: test HR/NDCG at each K and, for models trained by epochs, the training curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recommender.evaluate.runner import KS

__all__ = ["write_plots"]

Panel = tuple[str, dict[str, tuple[Sequence[float], Sequence[float]]]]   # y label, {legend: (xs, ys)}


def _save_panels(path: Path, panels: Sequence[Panel], *, xlabel: str, marker: str, legend_on: int,
                 xticks: Sequence[float] | None = None) -> Path:
    """One row of line charts sharing an x axis, saved as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (ylabel, lines) in zip(axes[0], panels):
        for label, (xs, ys) in lines.items():
            ax.plot(xs, ys, marker=marker, label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if xticks is not None:
            ax.set_xticks(xticks)
        ax.grid(alpha=0.3)
    axes[0][legend_on].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_plots(out_dir: Path, report: dict[str, Any]) -> list[Path]:
    """``<name>_metrics_at_k.png`` (test HR/NDCG at each K) and, when a model trained by epochs,
    ``<name>_training.png`` (training loss and validation NDCG@10 per epoch)."""
    name, models = report["dataset"]["name"], report["models"]
    at_k: list[Panel] = [(f"{m.upper()}@K (test)", {model: (KS, [r["test"][f"{m}@{k}"] for k in KS])
                                                     for model, r in models.items()}) for m in ("hr", "ndcg")]
    paths = [_save_panels(out_dir / f"{name}_metrics_at_k.png", at_k, xlabel="K", marker="o", legend_on=0,
                          xticks=KS)]
    logs = {model: r["log"] for model, r in models.items() if "log" in r}
    if logs:
        curves: list[Panel] = [(ylabel, {model: (log["epochs"], log[key]) for model, log in logs.items()})
                               for ylabel, key in (("training loss", "loss"), ("validation NDCG@10", "valid_ndcg10"))]
        paths.append(_save_panels(out_dir / f"{name}_training.png", curves, xlabel="epoch", marker=".", legend_on=1))
    return paths
