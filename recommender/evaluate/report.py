"""The benchmark's result files: the full report as JSON, the test-stage table as Markdown, and the plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recommender.evaluate.plots import write_plots
from recommender.evaluate.runner import DEFAULT_OUT_DIR, KS

__all__ = ["write_report", "write_markdown"]


def write_report(report: dict[str, Any], out_dir: Path | None = None) -> list[Path]:
    """Write ``<name>.json``, ``<name>.md`` and the plots into ``out_dir`` (default: bench/results/);
    returns the paths written."""
    out_dir = out_dir or DEFAULT_OUT_DIR
    name = report["dataset"]["name"]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    write_markdown(out_dir / f"{name}.md", report)
    return [out_dir / f"{name}.json", out_dir / f"{name}.md", *write_plots(out_dir, report)]


def _chosen(name: str, r: dict[str, Any]) -> str:
    if "params" in r:
        return f"{name}: " + ", ".join(f"{k} {v:g}" for k, v in r["params"].items())
    if "log" in r:
        return f"{name}: epoch {r['log']['best_epoch']} of {len(r['log']['epochs'])} ({r['log']['stopped']})"
    return ""


def write_markdown(path: Path, report: dict[str, Any]) -> None:
    """The test-stage table of every model (and, on Beauty, the published results)."""
    data = report["dataset"]
    cols = [f"{m}@{k}" for k in KS for m in ("hr", "ndcg")] + ["mrr", "auc", "coverage@10", "gini@10"]
    lines = [f"# Offline evaluation: {data['name']}", "",
             f"`{Path(data['file']).name}`: {data['shoppers']} shoppers, {data['items']} items, "
             f"{data['interactions']} interactions. {report['protocol']} Test stage:", "",
             "| model | " + " | ".join(c.upper() for c in cols) + " | fit (s) |",
             "|---" * (len(cols) + 2) + "|"]
    for name, r in report["models"].items():
        vals = " | ".join(f"{r['test'][c]:.4f}" for c in cols)
        lines.append(f"| {name} | {vals} | {r.get('fit_seconds', 0):.0f} |")
    chosen = [c for c in (_chosen(n, r) for n, r in report["models"].items()) if c]
    if chosen:
        lines += ["", "Chosen on validation NDCG@10: " + "; ".join(chosen) + "."]
    if report.get("published"):
        lines += ["", "Published on the same data and protocol (PROVENANCE.md):", "",
                  "| model | HR@5 | NDCG@5 | HR@10 | NDCG@10 | HR@20 | NDCG@20 |", "|---|---|---|---|---|---|---|"]
        for name, r in report["published"].items():
            lines.append(f"| {name} | " + " | ".join(f"{r[c]:.4f}" if c in r else "" for c in cols[:6]) + " |")
    path.write_text("\n".join(lines) + "\n")
