"""Time saving and reading a turn in the SQLite tracker store, against Rasa's own store in the same run.

A Rasa server saves the conversation after every turn, inside its event loop: while SQLite commits,
no other conversation moves. Baseline: Rasa's `SQLTrackerStore` on SQLite as it comes (a new
connection per save, rollback journal, an fsync per commit). Ours: `ForgettingSQLTrackerStore`
(connections kept, WAL, `synchronous = NORMAL`). Each store gets its own fresh file in a temporary
folder on the same disk as the project's var/ folder; turns rotate over `--senders` conversations;
each save appends one user message and one bot reply, as a real turn does. The two stores take turns
in `--rounds` rounds (machine noise hits both alike). Prints median and p95 milliseconds of `save` and
of `retrieve` (which is mostly Rasa replaying the conversation's events), and baseline / ours.

Usage: .venv/bin/python bench/tracker_store.py [--turns 800] [--senders 40] [--rounds 4] [--out bench/results/tracker_store.md]
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import click
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from _common import load_average, machine_header, p95  # bench/_common.py, next to this file
from bot.tracker_store import ForgettingSQLTrackerStore
from recommender.config import REPO_ROOT


async def timed_turns(store: SQLTrackerStore, domain: Domain, turns: range, senders: int,
                      times: dict[str, list[float]]) -> None:
    """Add the milliseconds of each `retrieve` and `save` of these turns (over `senders` conversations)."""
    for i in turns:
        sender = f"bench-{i % senders}"
        start = time.perf_counter()
        tracker = await store.retrieve(sender) or DialogueStateTracker(sender, domain.slots)
        times["retrieve"].append((time.perf_counter() - start) * 1000)
        tracker.update(UserUttered(f"shampoo for dry hair {i}", {"name": "search_products", "confidence": 1.0}), domain)
        tracker.update(ActionExecuted("action_search_products"), domain)
        tracker.update(BotUttered("Here are 5 shampoos ..."), domain)
        tracker.update(ActionExecuted("action_listen"), domain)
        start = time.perf_counter()
        await store.save(tracker)
        times["save"].append((time.perf_counter() - start) * 1000)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--turns", type=click.IntRange(20, 100_000), default=800, show_default=True, help="Turns per store.")
@click.option("--senders", type=click.IntRange(1, 1000), default=40, show_default=True,
              help="Conversations the turns rotate over.")
@click.option("--rounds", type=click.IntRange(1, 100), default=4, show_default=True,
              help="Rounds in which the two stores take turns.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the table as Markdown to this file.")
def main(turns: int, senders: int, rounds: int, out: Path | None) -> None:
    """Time a turn's save and retrieve: Rasa's SQLite tracker store against ours.

    Example:

        .venv/bin/python bench/tracker_store.py --turns 800 --out bench/results/tracker_store.md
    """
    domain = Domain.load(REPO_ROOT / "domain.yml")
    var = REPO_ROOT / "var"
    var.mkdir(exist_ok=True)
    kinds = {"Rasa's SQLTrackerStore (baseline)": SQLTrackerStore, "ForgettingSQLTrackerStore": ForgettingSQLTrackerStore}
    results: dict[str, dict[str, list[float]]] = {name: {"retrieve": [], "save": []} for name in kinds}
    with tempfile.TemporaryDirectory(dir=var) as folder:
        stores = {name: kind(domain=domain, dialect="sqlite", db=str(Path(folder) / f"{kind.__name__}.db"))
                  for name, kind in kinds.items()}
        per_round = -(-turns // rounds)
        for first in range(0, turns, per_round):
            for name, store in stores.items():
                asyncio.run(timed_turns(store, domain, range(first, min(turns, first + per_round)), senders,
                                        results[name]))
        for store in stores.values():
            store.engine.dispose()
    base, ours = results.values()
    rows = [f"| {name} | {call} | {statistics.median(ms):.2f} | {p95(ms):.2f} |"
            for name, times in results.items() for call, ms in times.items()]
    ratios = {call: statistics.median(base[call]) / statistics.median(ours[call]) for call in base}
    lines = [
        machine_header("SQLite tracker store"),
        "",
        f"`bench/tracker_store.py --turns {turns} --senders {senders} --rounds {rounds}`: milliseconds per call. "
        f"Load average at the end: {load_average()}.",
        "",
        "| store | call | median ms | p95 ms |",
        "|---|---|---|---|",
        *rows,
        "",
        "Baseline / ours, medians: " + ", ".join(f"{call} {ratio:.1f}x" for call, ratio in ratios.items()) + ".",
    ]
    click.echo("\n".join(lines))
    if out is not None:
        out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
