"""Per-query latency of the recommender alone (no Rasa, no HTTP) on the shipped catalog.

Loads the ranker the action server uses (`ProductSearch.from_paths`: catalog, MiniLM encoder,
product embeddings, collaborative model), then times each kind of call the actions make, over
queries built from the catalog (its top categories and brands, shipped shoppers' ids):

- search: a free-text query without filters, with category/brand/price filters, and personalised
  for a shipped shopper (the collaborative model scores every candidate);
- browse: no query words, a category filter (ranked by popularity);
- similar: products like one product;
- stock: the filtered searches again on a copy of the catalog where 1 product in 10 is sold out, in stock
  only, as the assistant searches such a shop (the ranking runs twice: with the stock filter, and without
  it to count what the page left out): what a shop with stock pays.

Baseline in the same run: encoding the query text alone (the floor of any search by meaning), so
the ratio shows what ranking, filtering, keyword search and reasons add. A second row encodes through
sentence-transformers' eager modules instead of the encoder's compiled transformer (what the
compiled path saves). Each kind is timed
`--repeats` times after a warm-up; it prints median, p95 and max, the p95 of all calls against the
20 ms target, the load average before and after (other programs on the machine slow every figure),
and (with `--out`) writes the same table as Markdown.

Two rankers share the catalog, encoder, vectors and model: one with the query-vector cache off, so
every search encodes its query as a new query would; one with the cache on (the default), timed on
the same queries after the warm-up pass: a query seen before ("show me more", the same words with
a new filter, a query many shoppers type). The two are reported apart.

Usage: .venv/bin/python bench/recommender_latency.py [--repeats 200] [--out bench/results/recommender_latency.md]
(run `shopbot setup` first)
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import click
import torch

from _common import load_average, machine_header, p95  # bench/_common.py, next to this file
from recommender import Catalog, Filters, ProductSearch, SearchConfig

TARGET_P95_MS = 20.0
BASELINE = "encode query (baseline)"
EAGER = "encode query, eager transformer"
SEEN = "query seen before:"
STOCKED = "search + filters, 1 in 10 sold out, in stock only"
PHRASES = ("shampoo for dry hair", "long lasting red lipstick", "vegan face moisturizer",
           "something for oily skin", "gentle cleanser for sensitive skin", "waterproof mascara",
           "a nice perfume for my mom", "nail polish that doesn't chip", "anti aging eye cream",
           "dry shampoo", "maybelline mascara", "hair mask for curly hair", "sunscreen for the face",
           "cheap foundation", "a gift set under $30", "lip balm")


def timed(calls: list[Callable[[], object]], repeats: int) -> list[float]:
    """Milliseconds per call, cycling through `calls` `repeats` times after one warm-up pass."""
    for call in calls:
        call()
    samples = []
    for call in itertools.islice(itertools.cycle(calls), repeats):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def sold_out_copy(search: ProductSearch, folder: Path) -> ProductSearch:
    """``search`` over a copy of its catalog in ``folder`` where every tenth product is out of stock (the others
    have 5), with the same encoder, vectors and model (stock is not part of the vectors' fingerprint)."""
    copy = folder / "catalog.db"
    shutil.copyfile(search.catalog.path, copy)
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE products SET stock = CASE WHEN rowid % 10 = 0 THEN 0 ELSE 5 END")
    db.close()
    return ProductSearch(Catalog.open(copy), search.encoder, search.embeddings, search.config, search.recommender)


def workloads(search: ProductSearch, seen: ProductSearch,
              stocked: ProductSearch) -> dict[str, list[Callable[[], object]]]:
    """name -> the calls of that kind, built from the catalog's own categories, brands and shoppers;
    ``search`` encodes every query, ``seen`` keeps recent query vectors, ``stocked`` is ``sold_out_copy``."""
    categories = [name for name, _ in search.catalog.categories()[:8]]
    brands = [name for name, _ in search.catalog.brands()[:8]]
    shoppers = [shopper for shopper, _ in itertools.islice(search.catalog.iter_histories(), 16)]
    products = search.catalog.product_ids()[::997][:16]
    filters = [Filters(category=c, price_max=20) for c in categories] + [Filters(brand=b) for b in brands]
    model = search.encoder._model()  # sentence-transformers' own modules, not compiled

    def eager(text: str) -> object:
        with torch.inference_mode():
            return model(model.preprocess([text]))["sentence_embedding"]

    return {
        BASELINE: [lambda p=p: search.encoder.encode([p]) for p in PHRASES],
        EAGER: [lambda p=p: eager(p) for p in PHRASES],
        "search": [lambda p=p: search.search(p) for p in PHRASES],
        "search + filters": [lambda p=p, f=f: search.search(p, f) for p, f in zip(PHRASES, itertools.cycle(filters))],
        STOCKED: [lambda p=p, f=f: stocked.search(p, replace(f, in_stock=True))
                  for p, f in zip(PHRASES, itertools.cycle(filters))],
        "search, personal": [lambda p=p, s=s: search.search(p, shopper_id=s) for p, s in zip(PHRASES, shoppers)],
        f"{SEEN} search": [lambda p=p: seen.search(p) for p in PHRASES],
        f"{SEEN} search + filters": [lambda p=p, f=f: seen.search(p, f) for p, f in zip(PHRASES, itertools.cycle(filters))],
        f"{SEEN} search, personal": [lambda p=p, s=s: seen.search(p, shopper_id=s) for p, s in zip(PHRASES, shoppers)],
        "browse category": [lambda c=c: search.search("", Filters(category=c)) for c in categories],
        "similar products": [lambda i=i: search.similar(i) for i in products],
    }


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--repeats", type=click.IntRange(20, 10_000), default=200, show_default=True,
              help="Timed calls per kind.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the table as Markdown to this file.")
def main(repeats: int, out: Path | None) -> None:
    """Time the recommender's calls on the shipped catalog against encoding the query alone.

    Example:

        .venv/bin/python bench/recommender_latency.py --repeats 200 --out bench/results/recommender_latency.md
    """
    load_before = load_average()
    start = time.perf_counter()
    search = ProductSearch.from_paths(progress=False, config=SearchConfig(query_cache_size=0))
    load = time.perf_counter() - start
    seen = ProductSearch(search.catalog, search.encoder, search.embeddings, SearchConfig(), search.recommender)
    with tempfile.TemporaryDirectory() as folder:
        stocked = sold_out_copy(search, Path(folder))
        results = {name: timed(calls, repeats) for name, calls in workloads(search, seen, stocked).items()}
        stocked.close()
    load_after = load_average()
    base = statistics.median(results[BASELINE])
    new = [ms for name, samples in results.items()
           if name not in (BASELINE, EAGER) and not name.startswith(SEEN) for ms in samples]
    repeated = [ms for name, samples in results.items() if name.startswith(SEEN) for ms in samples]
    stock_ratio = statistics.median(results[STOCKED]) / statistics.median(results["search + filters"])
    rows = [f"| {name} | {statistics.median(s):.1f} | {p95(s):.1f} | {max(s):.1f} | "
            f"{statistics.median(s) / base:.1f}x |" for name, s in results.items()]

    def verdict(samples: list[float]) -> str:
        return f"p95 **{p95(samples):.1f} ms** over {len(samples)} calls (target <= {TARGET_P95_MS:.0f} ms: " + \
            ("met)" if p95(samples) <= TARGET_P95_MS else "NOT met)")
    lines = [
        machine_header("Recommender latency", f"{search.catalog.count_products():,} products"),
        "",
        f"`bench/recommender_latency.py --repeats {repeats}`: milliseconds per call, in one process,",
        f"after loading the ranker ({load:.1f} s). Ratio = median / median of encoding the query alone.",
        f"Load average before: {load_before}; after: {load_after}.",
        "",
        "| call | median ms | p95 ms | max ms | vs encode |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"New queries (every call but the two encode rows and the seen-before rows): {verdict(new)}.",
        f"Queries seen before (their vectors kept): {verdict(repeated)}.",
        f"Browse and similar (no query to encode) are in both: {verdict(results['browse category'] + results['similar products'])}.",
        f"A shop with products out of stock: the filtered searches take {stock_ratio:.2f}x as long "
        "(medians; two rankings per search).",
    ]
    click.echo("\n".join(lines))
    if out is not None:
        out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
