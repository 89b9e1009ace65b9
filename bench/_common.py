"""What the bench scripts share: the p95 they report and the header naming the machine a result came from.

The scripts run as ``python bench/<script>.py``, which puts this folder on ``sys.path``: they import
``from _common import ...``.
"""

from __future__ import annotations

import asyncio
import csv
import os
import platform
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import click

__all__ = ["p95", "machine_header", "load_average", "catalog_options", "parse_all"]


def p95(samples: Sequence[float]) -> float:
    """The 95th percentile as every bench result reports it: the sample of rank round(0.95 n), at least 1.

    Not ``numpy.percentile(samples, 95, method="inverted_cdf")`` (rank ceil(0.95 n)): that gives another
    sample for 950 of the sizes 1..2000 (n = 11..19, 30, ...), so results would stop matching the committed ones.
    """
    return sorted(samples)[max(0, round(0.95 * len(samples)) - 1)]


def machine_header(title: str, *details: str) -> str:
    """``# <title> (<date>, <machine>, <N> cores[, <details>])``: the first line of a result."""
    facts = [date.today().isoformat(), platform.machine(), f"{os.cpu_count()} cores", *details]
    return f"# {title} ({', '.join(facts)})"


def read_tsv(path: Path) -> dict[str, dict[str, str]]:
    """The rows of a tab-separated file of bench/data/, by their ``category``."""
    with path.open(encoding="utf-8", newline="") as f:
        return {row["category"]: row for row in csv.DictReader(f, delimiter="\t")}


def load_average() -> str:
    """``1.52 / 1.20 / 0.98 (1 / 5 / 15 min)``: on a shared machine other jobs slow every figure."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def catalog_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The --catalog and --cache options of the scripts that read a built catalog and its embeddings."""
    command = click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default=None,
                           help="folder of the embedding cache (default: $SHOPBOT_CACHE or var/)")(command)
    return click.option("--catalog", "catalog_path", type=click.Path(dir_okay=False), default=None,
                        help="catalog file (default: the shipped one, $SHOPBOT_CATALOG)")(command)


def parse_all(model: Path, texts: Sequence[str]) -> list[dict[str, Any]]:
    """The Rasa model's parse of each text, as the Rasa server makes it."""
    from rasa.core.agent import Agent

    from bot import rasa_patches

    if not model.is_file():
        raise click.ClickException(f"no trained model at {model}: run `make setup` first")
    rasa_patches.apply()
    agent = Agent.load(str(model))

    async def parse() -> list[dict[str, Any]]:
        return [await agent.parse_message(text) for text in texts]

    return asyncio.run(parse())
