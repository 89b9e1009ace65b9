"""Keyword search alone (`Catalog.keyword_search`) on the shipped catalog and on synthetic large ones.

Queries are the scale bench's shopper phrases (the first four words of sampled shipped titles), top
500 as the ranker asks without filters. Per catalog, each query alone on one thread:

- baseline: FTS5's own bm25 of the OR of the quoted terms (`ORDER BY -bm25(products_fts) LIMIT`),
  which is what keyword_search returns (checked: the same ids and scores for every query);
- keyword_search with nothing kept (`KEPT_POSTINGS_BYTES` = 0): every term is looked up as if
  seen for the first time (the cost of a new word);
- keyword_search with recent terms kept (the default), second pass over the same queries.

Synthetic catalogs are built as in `bench/scale.py` (shipped products and their variants) by the real
importer once, and kept under `var/bench/` for the next run.

Usage: .venv/bin/python bench/keyword_search.py [--sizes 0,1000000] [--queries 200]  (0: the shipped catalog)
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import click

from _common import load_average, machine_header, p95  # bench/_common.py and bench/scale.py, next to this file
from scale import timed_searches as timed, write_catalog_csv
from recommender.catalog import keyword_index
from recommender import config
from recommender.catalog.products import Catalog, Product, query_terms
from recommender.catalog.importer import import_catalog

LIMIT = 500  # SearchConfig.keyword_limit


def synthetic_catalog(products: list[Product], size: int, echo: Callable[[str], None]) -> Path:
    """The scale bench's catalog of `size` products, imported once into var/bench/."""
    db_path = Path("var/bench") / f"catalog-{size}.db"
    if not db_path.is_file():
        db_path.parent.mkdir(parents=True, exist_ok=True)
        csv_path = db_path.with_suffix(".csv")
        write_catalog_csv(products, size, csv_path)
        start = time.perf_counter()
        import_catalog(csv_path, db_path, progress=False)
        csv_path.unlink()
        echo(f"  imported {size:,} products into {db_path} in {time.perf_counter() - start:.0f} s")
    return db_path


def fts5_or_query(conn: sqlite3.Connection, query: str) -> list[tuple[str, float]]:
    """The baseline: FTS5's bm25 of the OR of the quoted terms, best first, ties by id."""
    phrases = " OR ".join('"' + t.replace('"', '""') + '"' for t in query_terms(query))
    return conn.execute(
        "SELECT p.id, -bm25(products_fts) AS score FROM products_fts JOIN products p ON p.rowid = products_fts.rowid"
        " WHERE products_fts MATCH ? ORDER BY score DESC, p.id LIMIT ?", [phrases, LIMIT]).fetchall()


def line(label: str, times: list[float]) -> str:
    return f"  {label}: median {statistics.median(times):.1f} ms, p95 {p95(times):.1f} ms, max {max(times):.1f} ms"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--sizes", default="0,1000000", show_default=True,
              help="Catalog sizes, comma-separated; 0 is the shipped catalog.")
@click.option("--queries", type=click.IntRange(10, 5000), default=200, show_default=True, help="Queries timed.")
def main(sizes: str, queries: int) -> None:
    """Median and p95 of keyword_search against FTS5's own bm25 OR query, per catalog size."""
    with Catalog.open(config.catalog_path()) as shipped:
        products = list(shipped.iter_products())
    rng = random.Random(7)
    phrases = [" ".join(p.display_title.split()[:4]) for p in rng.sample(products, queries)]
    click.echo(f"{machine_header('keyword_search against FTS5 bm25')}\nLoad average at start: {load_average()}.")
    for size in (int(s) for s in sizes.split(",")):
        path = config.catalog_path() if size == 0 else synthetic_catalog(products, size, click.echo)
        click.echo(f"{path} ({size or len(products):,} products), {queries} queries, top {LIMIT}")
        conn = sqlite3.connect(path)
        baseline, reference = timed(lambda q: fts5_or_query(conn, q), phrases)
        conn.close()
        click.echo(line("FTS5 bm25 OR query (baseline)", baseline))
        with Catalog.open(path) as catalog:
            catalog.keyword_search("warm up")  # reads the columns and the index's row lengths once
            kept = keyword_index.KEPT_POSTINGS_BYTES
            keyword_index.KEPT_POSTINGS_BYTES = 0
            try:
                cold, found = timed(lambda q: catalog.keyword_search(q, LIMIT), phrases)
            finally:
                keyword_index.KEPT_POSTINGS_BYTES = kept
            click.echo(line("keyword_search, every term seen first", cold))
            timed(lambda q: catalog.keyword_search(q, LIMIT), phrases)
            warm, _ = timed(lambda q: catalog.keyword_search(q, LIMIT), phrases)
            click.echo(line("keyword_search, terms kept (second pass)", warm))
        same = sum([(pid, score) for pid, score, _ in f] == [(pid, max(s, 1e-9)) for pid, s in r]
                   for f, r in zip(found, reference))
        click.echo(f"  same ids and scores as the baseline: {same}/{queries} queries")
    click.echo(f"Load average at the end: {load_average()}.")


if __name__ == "__main__":
    main()
