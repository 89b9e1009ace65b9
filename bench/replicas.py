"""Replicas under load (issue 19): 32 conversations at once against one Rasa server and one action server,
and against two of each, all on one PostgreSQL server (the conversations and the shopper store) and one
Redis lock store, as docs/deployment.md deploys them.

Each configuration starts on new databases of a throwaway PostgreSQL server (tests/postgres_server.py:
Debian's initdb and pg_ctl) and a throwaway redis-server, with the load balancer before the action servers
played by this process (tests/cluster.py: round-robin). The conversations are bench/rest_latency.py's
shopping dialogues (search with a budget, a brand, "show me more", "the second one", the cart), each its own
sender, each sending its next message as soon as the last reply came (no pause: the worst case); with two
Rasa servers, each message goes to the next one, as a balancer without sticky sessions sends them. Untimed
warm-up conversations first. Per configuration: turns, p50 and p95 latency, replies per second, errors;
then the 2 + 2 figures over the 1 + 1 ones, each the median over the repeats.

This machine has 2 cores, which every replica shares: the ratio is what more processes on the same cores
give, with what the coordination costs (the tracker read from and written to PostgreSQL each turn, the
conversation lock in Redis, the store's write lock), not the gain more machines would bring.

Usage: .venv/bin/python bench/replicas.py [--conversations 32] [--repeats 2] [--out bench/results/replicas.md]
       (run `shopbot setup` first; needs Debian's postgresql and redis-server: `make postgres redis`)
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import click

from _common import load_average, machine_header  # bench/_common.py, next to this file
from rest_latency import dialogue, row, run_level, table, warm_up
from bot import build
from tests.cluster import cluster_running, redis_running
from tests.postgres_server import PostgresServer

SHAPES = ((1, 1), (2, 2))  # (Rasa servers, action servers)


def _name(shape: tuple[int, int]) -> str:
    return f"{shape[0]} Rasa + {shape[1]} action"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--conversations", default=32, show_default=True, help="Conversations in flight at once.")
@click.option("--repeats", default=2, show_default=True, help="Runs of each configuration (figures: medians).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("bench/results/replicas.md"),
              show_default=True)
def main(conversations: int, repeats: int, out: Path) -> None:
    """Time 32 concurrent conversations against 1 + 1 and 2 + 2 replicas on PostgreSQL and Redis."""
    started = time.perf_counter()
    rows: dict[tuple[int, int], list[dict]] = {shape: [] for shape in SHAPES}
    with tempfile.TemporaryDirectory(prefix="shopbot-replicas-") as folder, PostgresServer.running() as postgres, \
            redis_running(Path(folder)) as lock_store:
        os.environ["PGPASSWORD"] = postgres.password
        port = lock_store.connection_pool.connection_kwargs["port"]
        for repeat in range(repeats):
            for shape in SHAPES:
                logs = Path(folder) / f"{shape[0]}x{shape[1]}-{repeat}"
                logs.mkdir()
                with cluster_running(build.model_path(), logs, postgres, port, *shape) as cluster:
                    warm_up(cluster.rasa, 4)
                    samples, seconds = run_level(cluster.rasa, conversations, 1, dialogue, f"r{repeat}")
                    result = row(f"{_name(shape)}, run {repeat + 1}", samples, seconds)
                    result["served"] = dict(cluster.balancer.served)
                rows[shape].append(result)
                click.echo("\n".join(table([result])[2:]) + f"  action calls per server {result['served']}", err=True)
    medians = {shape: {key: statistics.median(r[key] for r in runs) for key in ("p50", "p95", "rps")}
               for shape, runs in rows.items()}
    one, two = medians[SHAPES[0]], medians[SHAPES[1]]
    lines = [
        machine_header("Replicas under load on PostgreSQL and Redis", load_average()),
        "",
        f"`.venv/bin/python bench/replicas.py --conversations {conversations} --repeats {repeats}` "
        "(method in its docstring). Every configuration on new databases of one PostgreSQL server (tracker "
        "store and shopper store) and one Redis lock store; each turn to the next Rasa server; the action "
        "calls round-robin over the action servers.",
        "",
        *table([r for runs in rows.values() for r in runs], "configuration"),
        "",
        "Action calls each action server answered: "
        + "; ".join(f"{r['name']}: {r['served']}" for runs in rows.values() for r in runs) + ".",
        "",
        f"Medians over {repeats} runs, {_name(SHAPES[1])} over {_name(SHAPES[0])}: replies per second "
        f"{two['rps']:.1f} / {one['rps']:.1f} = **{two['rps'] / one['rps']:.2f}x**, p50 "
        f"{two['p50']:.0f} / {one['p50']:.0f} ms = {two['p50'] / one['p50']:.2f}x, p95 {two['p95']:.0f} / "
        f"{one['p95']:.0f} ms = {two['p95'] / one['p95']:.2f}x. Every replica shares this machine's 2 cores: "
        "the ratio is what more processes on the same cores give, coordination included, not what more "
        "machines would give.",
        "",
        f"Run time {time.perf_counter() - started:.0f} s.",
    ]
    out.write_text("\n".join(lines) + "\n")
    click.echo(f"Wrote {out}", err=True)


if __name__ == "__main__":
    main()
