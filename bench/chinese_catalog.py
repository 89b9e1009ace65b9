"""Keyword search of a catalog written in Chinese (issue 23, item 3): which index, and what it adds to
the ranker.

The catalog is the project's Chinese shop fixture (tests/fixtures/catalogs/zh_shop: 160 products, 18
leaf categories, prices in CNY), imported as a shop would (``--currency CNY --facet colour=colour``).
Its queries (queries.tsv) are 60 searches a shopper types into such a shop, each with the leaf category
a right result is in, and 10 for what it does not sell.

Keyword indexes compared, each over title, brand and category path, bm25 of the OR of the query's
words (FTS5):

- ``whole runs``: FTS5's unicode61 tokenizer alone (the index before this change): a run of Han
  characters between spaces is one word ("空气炸锅"), so a query matches only a whole run;
- ``trigram``: FTS5's trigram tokenizer: any substring of 3 characters or more matches; a query word
  of fewer than 3 characters cannot (most Chinese product words have two: "手机", "耳机");
- ``Han characters and pairs (shipped)``: unicode61 plus a column of the runs' characters and
  overlapping pairs, a Han query word looked up as its pairs (``Catalog.keyword_search``;
  catalog/keyword_index.py).

Then the ranker as it serves the shop (``ProductSearch`` with MiniLM and USE multilingual vectors,
built here in a temp folder; a catalog written in Chinese is read by the multilingual ones), against
the same ranker with its keyword part off (``w_kw=0``: the vectors order the products; the relevance
floor still asks the keyword index). precision@5 counts empty places as misses; p@1 is the first
result. Out of catalog: the share of the 10 queries for which nothing is listed.

Usage: .venv/bin/python bench/chinese_catalog.py [--out bench/results/chinese_catalog.md]
"""

from __future__ import annotations

import csv
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import click
import numpy as np

from _common import load_average, machine_header  # bench/_common.py, next to this file
from recommender import ProductSearch, SearchConfig
from recommender.catalog.formats import ColumnMapping
from recommender.catalog.importer import import_catalog
from recommender.catalog.products import Catalog, query_terms
from recommender.text.embeddings import ProductEmbeddings
from recommender.text.encoder import TextEncoder
from recommender.text.multilingual import MultilingualEncoder

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "catalogs" / "zh_shop"
RESULTS = Path(__file__).parent / "results"
K = 5

Search = Callable[[str], list[str]]  # query -> product ids, best first (at most K)


def fts_search(db: sqlite3.Connection, tokenizer: str) -> Search:
    """A search over a copy of the catalog's text in an FTS5 table with ``tokenizer``."""
    db.execute(f"CREATE VIRTUAL TABLE temp.t_{tokenizer} USING fts5(id UNINDEXED, title, brand, category_path, "
               f"tokenize='{tokenizer}')")
    db.execute(f"INSERT INTO temp.t_{tokenizer} SELECT id, title, brand, category_path FROM products")

    def search(query: str) -> list[str]:
        terms = [t for t in query_terms(query) if tokenizer != "trigram" or len(t) >= 3]
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        rows = db.execute(f"SELECT id FROM temp.t_{tokenizer} WHERE t_{tokenizer} MATCH ? "
                          f"ORDER BY bm25(t_{tokenizer}) LIMIT {K}", [match]).fetchall()
        return [r[0] for r in rows]
    return search


def scores(search: Search, queries: list[tuple[str, str]], category: dict[str, str | None]) -> tuple[float, float]:
    """(mean precision@K, mean precision@1) over queries (query, right leaf category)."""
    at_k, at_1 = [], []
    for query, leaf in queries:
        found = search(query)
        at_k.append(sum(category[pid] == leaf for pid in found) / K)
        at_1.append(float(bool(found) and category[found[0]] == leaf))
    return float(np.mean(at_k)), float(np.mean(at_1))


@click.command()
@click.option("--out", type=click.Path(dir_okay=False), default=str(RESULTS / "chinese_catalog.md"), show_default=True)
def main(out: str) -> None:
    """Print the Chinese catalog's search table and write it with its figure.

    Example: .venv/bin/python bench/chinese_catalog.py --out /tmp/chinese_catalog.md
    """
    started = time.perf_counter()
    with (FIXTURE / "queries.tsv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    queries = [(r["query"], r["category"]) for r in rows if r["category"] != "-"]
    outside = [r["query"] for r in rows if r["category"] == "-"]
    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "catalog.db"
        import_catalog(FIXTURE / "products.csv", db_path, currency="CNY", progress=False,
                       mapping=ColumnMapping().with_facets({"colour": "colour"}))
        catalog = Catalog.open(db_path)
        category = dict(catalog.db.execute("SELECT id, category FROM products").fetchall())
        table: dict[str, tuple[float, float, float]] = {}
        with closing(sqlite3.connect(db_path)) as db:
            for name, tokenizer in (("whole runs (unicode61)", "unicode61"), ("trigram", "trigram")):
                search = fts_search(db, tokenizer)
                table[f"keywords: {name}"] = (*scores(search, queries, category),
                                              float(np.mean([not search(q) for q in outside])))

        def pairs(query: str) -> list[str]:
            return [pid for pid, _, _ in catalog.keyword_search(query, K)]
        table["keywords: Han characters and pairs (shipped)"] = (*scores(pairs, queries, category),
                                                  float(np.mean([not pairs(q) for q in outside])))
        text, other = TextEncoder(), MultilingualEncoder()
        cache = Path(folder) / "cache"
        vectors = ProductEmbeddings.load_or_build(catalog, text, cache, progress=False)
        multilingual = (other, ProductEmbeddings.load_or_build(catalog, other, cache, progress=False))
        timings: dict[str, float] = {}
        for name, config in (("ranker (shipped)", SearchConfig(query_cache_size=0)),
                             ("ranker, keyword part off (w_kw=0)", SearchConfig(w_kw=0.0, query_cache_size=0))):
            ranker = ProductSearch(catalog, text, vectors, config, multilingual=multilingual)

            def ranked(query: str, ranker: ProductSearch = ranker) -> list[str]:
                return [r.product.id for r in ranker.search(query, n=K).results]
            ranked(queries[0][0])  # load the encoders
            times = []
            for query, _ in queries:
                t0 = time.perf_counter()
                ranked(query)
                times.append((time.perf_counter() - t0) * 1000)
            timings[name] = statistics.median(times)
            table[name] = (*scores(ranked, queries, category), float(np.mean([not ranked(q) for q in outside])))
        catalog.close()

    lines = [machine_header("Keyword search of a catalog written in Chinese",
                            "tests/fixtures/catalogs/zh_shop: 160 products, 18 leaf categories, CNY"), "",
             f"`bench/chinese_catalog.py` (issue 23; method in its docstring). Load {load_average()}.", "",
             f"{len(queries)} queries with a right leaf category, {len(outside)} for what the shop does not sell.", "",
             "| search | p@5 | p@1 | out of catalog: nothing listed |", "|---|---|---|---|"]
    lines += [f"| {name} | {k:.3f} | {one:.3f} | {none:.0%} |" for name, (k, one, none) in table.items()]
    lines += ["", "Median search time: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in timings.items()) + ".",
              "", f"Figure: `{Path(out).stem}.png`. Run time {time.perf_counter() - started:.0f} s."]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    figure(table, Path(out).with_suffix(".png"))
    click.echo("\n".join(lines))


def figure(table: dict[str, tuple[float, float, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(table)
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for i, (label, offset) in enumerate((("p@5", -0.2), ("p@1", 0.2))):
        ax.barh(y + offset, [table[n][i] for n in names], height=0.38, label=label)
    ax.set(yticks=y, yticklabels=names, xlim=(0, 1), title="Searching a Chinese catalog: right leaf category")
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
