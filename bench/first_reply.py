"""Start-up and reply latency of the assistant over the REST channel, with peak memory.

Starts the action server and `rasa run` on free local ports (as `shopbot serve` does), then times:
servers ready, the first search reply (which loads the catalog, embeddings and encoder in the
action server), and the median / p95 of later replies. The baseline in the same run is a reply
that calls no custom action ("hi"), so the ratio shows what the search action adds.

Usage: .venv/bin/python bench/first_reply.py [--repeats 20]   (run `shopbot setup` first)
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import click

from _common import p95  # bench/_common.py, next to this file
from bot import build
from bot.servers import Assistant

QUERIES = ("show me shampoo under $10", "any OPI nail polish", "maybelline mascara",
           "a moisturizer for dry skin under $20", "l'oreal shampoo between 5 and 15 dollars")


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a live process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(bot: Assistant, sender: str, text: str) -> float:
    start = time.perf_counter()
    replies = bot.send(sender, text)
    elapsed = time.perf_counter() - start
    if not replies:
        raise click.ClickException(f"no reply to {text!r}")
    return elapsed * 1000


def summary(name: str, samples: list[float]) -> str:
    return f"{name:<24} median {statistics.median(samples):7.1f} ms   p95 {p95(samples):7.1f} ms   n={len(samples)}"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--repeats", type=click.IntRange(1, 500), default=20, show_default=True,
              help="Replies timed per kind after the first.")
def main(repeats: int) -> None:
    """Time server start-up, the first reply and later replies; print peak memory.

    Example:

        .venv/bin/python bench/first_reply.py --repeats 20
    """
    start = time.perf_counter()
    with Assistant(build.model_path()) as bot:
        ready = time.perf_counter() - start
        actions, rasa = bot.processes
        first = timed(bot, "bench-first", QUERIES[0])
        greet = [timed(bot, f"bench-greet-{i}", "hi") for i in range(repeats)]
        search = [timed(bot, f"bench-search-{i}", QUERIES[i % len(QUERIES)]) for i in range(repeats)]
        click.echo(f"{'servers ready':<24} {ready:7.1f} s")
        click.echo(f"{'first search reply':<24} {first / 1000:7.1f} s  (loads catalog, embeddings, encoder)")
        click.echo(summary("reply, no action (base)", greet))
        click.echo(summary("search reply", search))
        click.echo(f"{'search / base ratio':<24} {statistics.median(search) / statistics.median(greet):7.1f} x")
        click.echo(f"{'peak memory':<24} rasa {peak_rss_mb(rasa.pid):.0f} MB, "
                   f"action server {peak_rss_mb(actions.pid):.0f} MB")


if __name__ == "__main__":
    main()
