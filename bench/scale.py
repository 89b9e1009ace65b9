"""Scale: synthetic catalogs of 100k and 1M products made from the shipped ones.

Each size N is the 12,101 shipped products and variants of them (product k is shipped product
k mod 12,101, variant k // 12,101: the same brand and category, the title plus a variant phrase such
as "(travel size)", the price moved by up to +-20 %). For each size it measures:

- import: the real importer (`recommender.catalog.importer.import_catalog`) from a CSV into a new SQLite
  catalog, in products per second, and the file's size;
- embedding: the real MiniLM encoder on a sample of the synthetic products' texts, in texts per second,
  and what encoding all N would take at that rate;
- search by meaning, per query (one at a time, as a shopper asks), against the exact scan the ranker
  does today (one mat-vec over all N vectors) as the baseline: an inverted-file index (faiss-cpu
  IndexIVFFlat, inner product), for several `nprobe`; its recall@10 against the exact top 10; median
  and p95 latency; the 50 ms target at p95 with recall@10 >= 0.95;
- the ranker (`ProductSearch.search`, top 10, no filters, then with a category filter) with the vector
  index (`recommender.text.vector_index`, the "Large catalogs" path of `recommender.ranking.ranker`) against the
  exact ranker: median and p95 latency, and recall@10 against the exact ranker's top 10;
- memory: the vectors, the index, the bench process's peak resident memory, and the action server's:
  the resident memory of a fresh process (multiprocessing, spawn) that opens the catalog and holds a
  ready `ProductSearch` (the real encoder, the vectors and their ids, the index), after a few queries.

The vectors of the variants are not encoded (it would take hours on this CPU, see "embedding"): a
variant's vector is its shipped product's real vector plus Gaussian noise scaled so that, on average,
it has the same cosine to the shipped one as the encoder gives a real title and the same title with a
variant phrase (measured on a sample in the same run). Queries are short shopper phrases cut from the
shipped titles, encoded by the real encoder.

Usage: .venv/bin/python bench/scale.py [--sizes 100000,1000000] [--queries 200] [--out bench/results/scale.md]
(run `shopbot setup` first: it uses the shipped catalog and its cached embeddings)
"""

from __future__ import annotations

import csv
import multiprocessing
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from _common import machine_header, p95  # bench/_common.py, next to this file
from recommender import config
from recommender.catalog.products import Catalog, Product
from recommender.text.embeddings import ProductEmbeddings, product_text
from recommender.text.encoder import TextEncoder
from recommender.catalog.importer import import_catalog
from recommender import Filters, ProductSearch, SearchConfig
from recommender.text.vector_index import VectorIndex

TARGET_P95_MS = 50.0
TARGET_RECALL = 0.95
NPROBES = (8, 16, 32, 64, 128, 256)
VARIANTS = ("travel size", "2-pack", "refill", "value size", "3-pack", "mini", "gift set", "limited edition",
            "unscented", "salon size", "sample", "deluxe", "trial kit", "family size", "twin pack")


def variant(product: Product, v: int, rng: random.Random) -> dict[str, object]:
    """Variant `v` of a shipped product as a catalog CSV row (variant 0 is the product itself)."""
    product_id = variant_id(product, v)
    if v == 0:
        title, price = product.title, product.price
    else:
        phrase = VARIANTS[v % len(VARIANTS)] + (f" {v // len(VARIANTS) + 1}" if v >= len(VARIANTS) else "")
        title = f"{product.display_title} ({phrase})"
        price = round(product.price * rng.uniform(0.8, 1.2), 2) if product.price else None
    return {"id": product_id, "title": title, "brand": product.brand or "",
            "category": " > ".join(product.category_path), "price": "" if price is None else price}


def variant_id(product: Product, v: int) -> str:
    """The id of variant `v` of a shipped product."""
    return product.id if v == 0 else f"{product.id}-v{v}"


def catalog_ids(products: list[Product], size: int) -> list[str]:
    """The ids of the `size` products `write_catalog_csv` writes, in its order."""
    return [variant_id(products[k % len(products)], k // len(products)) for k in range(size)]


def write_catalog_csv(products: list[Product], size: int, path: Path) -> None:
    """Write `size` products (the shipped ones, then their variants) as CSV."""
    rng = random.Random(size)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=["id", "title", "brand", "category", "price"])
        writer.writeheader()
        for k in range(size):
            writer.writerow(variant(products[k % len(products)], k // len(products), rng))


def noise_scale(encoder: TextEncoder, products: list[Product], sample: int, dim: int) -> tuple[float, float]:
    """The per-dimension noise that gives variants the encoder's own mean cosine to their product."""
    rng = random.Random(0)
    chosen = rng.sample(products, sample)
    rows = [variant(p, 1 + i % 40, rng) for i, p in enumerate(chosen)]
    base = encoder.encode([product_text(p) for p in chosen])
    variants = encoder.encode([product_text(Product(str(r["id"]), str(r["title"]), p.brand, p.category,
                                                    p.category_path, p.price)) for r, p in zip(rows, chosen)])
    cosine = float(np.mean(np.sum(base * variants, axis=1)))
    # a unit vector plus N(0, s^2) per dimension has cosine ~ 1 / sqrt(1 + dim s^2) to the original
    return float(np.sqrt((1 / cosine**2 - 1) / dim)), cosine


def synthetic_vectors(base: np.ndarray, size: int, scale: float) -> np.ndarray:
    """Vectors of `size` products: the shipped ones, then noisy copies (L2-normalised, float32)."""
    rng = np.random.default_rng(size)
    out = np.empty((size, base.shape[1]), dtype=np.float32)
    for start in range(0, size, 100_000):
        rows = np.arange(start, min(size, start + 100_000))
        block = base[rows % len(base)].copy()
        noisy = rows >= len(base)
        block[noisy] += rng.normal(0, scale, (int(noisy.sum()), base.shape[1])).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[rows] = block
    return out


def memory_mb(field: str = "VmHWM") -> float:
    """This process's resident memory (`VmRSS`) or its peak (`VmHWM`), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Row:
    """One search method at one size."""

    method: str
    median_ms: float
    p95_ms: float
    recall: float


def timed_searches(search, queries) -> tuple[list[float], list]:
    """Run `search` on each query alone; return the milliseconds and the top-10 ids per query."""
    times, found = [], []
    for q in queries:
        start = time.perf_counter()
        found.append(search(q))
        times.append((time.perf_counter() - start) * 1000)
    return times, found


def ranker_rows(catalog: Catalog, embeddings: ProductEmbeddings, index: VectorIndex, phrases: list[str],
                encoder: TextEncoder, echo) -> list[Row]:
    """`ProductSearch.search` (top 10) with the index against the exact ranker, without and with a filter;
    each query is asked once untimed first, so its vector is in the ranker's query cache."""
    config = SearchConfig()
    exact = ProductSearch(catalog, encoder, embeddings, config)
    approx = ProductSearch(catalog, encoder, embeddings, config, index=index)
    counts: dict[str, int] = {}
    for p in catalog.iter_products():
        counts[p.category] = counts.get(p.category, 0) + 1
    category = max(counts, key=counts.__getitem__)
    rows = []
    for label, filters in (("", Filters()), (f", category {category!r} ({counts[category]:,} products)",
                                              Filters(category=category))):
        top10 = {}
        for name, ranker in (("exact", exact), ("index", approx)):
            def search(q: str) -> list[str]:
                return [r.product.id for r in ranker.search(q, filters, n=10).results]
            timed_searches(search, phrases)                                  # encodes and caches the queries
            top10[name] = timed_searches(search, phrases)
        truth = top10["exact"][1]
        rows += [Row(f"ranker, exact{label}", statistics.median(top10["exact"][0]), p95(top10["exact"][0]), 1.0),
                 Row(f"ranker, large-catalog path (index: nprobe {config.index_nprobe}, "
                     f"{config.index_candidates} candidates){label}",
                     statistics.median(top10["index"][0]), p95(top10["index"][0]),
                     recall_at_10(top10["index"][1], truth))]
        for row in rows[-2:]:
            echo(f"  {row.method}: median {row.median_ms:.1f} ms, p95 {row.p95_ms:.1f} ms, recall@10 {row.recall:.3f}")
    return rows


def serving_memory(db_path: Path, vectors_path: Path, index_path: Path | None) -> dict[str, float]:
    """Run in a fresh process: open the catalog and hold a ready `ProductSearch` (the real encoder, the
    vectors, the index when given) as the action server does; its resident memory and peak, in MB."""
    catalog = Catalog.open(db_path)
    with np.load(vectors_path) as data:
        embeddings = ProductEmbeddings([str(x) for x in data["ids"]], data["matrix"])
    index = VectorIndex.load(index_path) if index_path else None
    search = ProductSearch(catalog, TextEncoder(), embeddings, SearchConfig(), index=index)
    for query in ("shampoo for dry hair", "red lipstick", "vitamin c serum"):
        search.search(query, n=5)
    figures = {"rss_mb": memory_mb("VmRSS"), "peak_mb": memory_mb("VmHWM")}
    catalog.close()
    return figures


def measure_serving(db_path: Path, vectors_path: Path, index_path: Path | None) -> dict[str, float]:
    """`serving_memory` in a fresh spawned process (nothing inherited from this one)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(serving_memory, (db_path, vectors_path, index_path))


def exact_top10(matrix: np.ndarray):
    def search(q: np.ndarray) -> np.ndarray:
        scores = matrix @ q                                            # (N,)
        top = np.argpartition(-scores, 10)[:10]
        return top[np.argsort(-scores[top])]
    return search


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))


def bench_size(size: int, products: list[Product], base: np.ndarray, scale: float, phrases: list[str],
               queries: np.ndarray, encoder: TextEncoder, work: Path, echo) -> dict[str, object]:
    """All the figures of one catalog size."""
    csv_path, db_path = work / f"catalog-{size}.csv", work / f"catalog-{size}.db"
    write_catalog_csv(products, size, csv_path)
    start = time.perf_counter()
    report = import_catalog(csv_path, db_path, progress=True)
    import_s, db_mb = time.perf_counter() - start, db_path.stat().st_size / 1e6
    echo(f"  import: {report.products:,} products in {import_s:.1f} s ({report.products / import_s:,.0f}/s), "
         f"{db_mb:,.0f} MB")

    with Catalog.open(db_path) as catalog:
        texts = [product_text(p) for _, p in zip(range(len(products) + 2000), catalog.iter_products())][-2000:]
    start = time.perf_counter()
    encoder.encode(texts, batch_size=64)
    encode_rate = len(texts) / (time.perf_counter() - start)
    echo(f"  embedding: {encode_rate:,.0f} texts/s; all {size:,} would take {size / encode_rate / 60:,.0f} min")

    vectors = synthetic_vectors(base, size, scale)
    exact_times, truth = timed_searches(exact_top10(vectors), queries)
    rows = [Row("exact scan (numpy mat-vec, baseline)", statistics.median(exact_times), p95(exact_times), 1.0)]
    echo(f"  {rows[0].method}: median {rows[0].median_ms:.1f} ms, p95 {rows[0].p95_ms:.1f} ms")

    start = time.perf_counter()
    index = VectorIndex.build(vectors)  # 2 sqrt(N) lists, trained on a sample; both cores, then one to search
    build_s, nlist = time.perf_counter() - start, index.nlist
    echo(f"  IVF index, {nlist} lists: built in {build_s:.1f} s")
    for nprobe in NPROBES:
        times, found = timed_searches(lambda q: index.search(q, 10, nprobe)[0], queries)
        rows.append(Row(f"IVF, nprobe {nprobe}", statistics.median(times), p95(times), recall_at_10(found, truth)))
        echo(f"  {rows[-1].method}: median {rows[-1].median_ms:.2f} ms, p95 {rows[-1].p95_ms:.2f} ms, "
             f"recall@10 {rows[-1].recall:.3f}")

    ids = catalog_ids(products, size)
    embeddings = ProductEmbeddings(ids, vectors)
    with Catalog.open(db_path) as catalog:
        ranker = ranker_rows(catalog, embeddings, index, phrases, encoder, echo)
    vectors_path, index_path = work / f"vectors-{size}.npz", work / f"ivf-{size}.faiss"
    np.savez(vectors_path, ids=np.array(ids, dtype=str), matrix=vectors)
    index.save(index_path)
    memory = {"vectors_mb": vectors.nbytes / 1e6, "index_mb": index_path.stat().st_size / 1e6,
              "peak_rss_mb": memory_mb("VmHWM")}
    serving = {"exact": measure_serving(db_path, vectors_path, None),
               "index": measure_serving(db_path, vectors_path, index_path)}
    for name, figures in serving.items():
        echo(f"  action-server-like process ({name}): {figures['rss_mb']:,.0f} MB resident, "
             f"peak {figures['peak_mb']:,.0f} MB")
    for path in (csv_path, db_path, vectors_path, index_path):
        path.unlink()
    return {"size": size, "import_s": import_s, "import_rate": report.products / import_s,
            "db_mb": db_mb, "encode_rate": encode_rate, "build_s": build_s, "nlist": nlist, "rows": rows,
            "ranker": ranker, "serving": serving, **memory}


def markdown(results: list[dict[str, object]], cosine: float, scale: float, queries: int) -> str:
    lines = [machine_header("Scale: synthetic catalogs"), "",
             f"`.venv/bin/python bench/scale.py`. {queries} "
             "queries, each searched alone on one thread (as the action server asks; the other core serves "
             "Rasa). The first table is the vector search only (top 10 of all products); the second the "
             "whole ranker (`ProductSearch.search`, top 10 with reasons: vectors, keyword search, popularity, "
             "diversity), exact and with the index, recall@10 against the exact ranker's top 10 (query "
             "vectors cached, as for a repeated query: the encoder not timed). The index is built on both "
             "cores.",
             f"Variants' vectors: shipped vector + N(0, {scale:.4f}^2) per dimension, which gives the mean "
             f"cosine {cosine:.3f} the encoder gives a title and the same title with a variant phrase.", ""]
    for r in results:
        lines += [f"## {r['size']:,} products", "",
                  f"- import: {r['import_s']:.1f} s, {r['import_rate']:,.0f} products/s, a "
                  f"{r['db_mb']:,.0f} MB catalog file",
                  f"- embedding: {r['encode_rate']:,.0f} texts/s on this CPU; all {r['size']:,} would take "
                  f"{r['size'] / r['encode_rate'] / 60:,.0f} min",
                  f"- memory: vectors {r['vectors_mb']:,.0f} MB, IVF index {r['index_mb']:,.0f} MB "
                  f"({r['nlist']} lists, built in {r['build_s']:.1f} s); peak RSS of this process "
                  f"{r['peak_rss_mb']:,.0f} MB",
                  "- action-server-like process (a fresh process holding the catalog, the encoder, the vectors "
                  "and a ready `ProductSearch`): " + "; ".join(
                      f"{name} {m['rss_mb']:,.0f} MB resident (peak {m['peak_mb']:,.0f} MB)"
                      for name, m in r["serving"].items()), "",
                  "| method | median ms | p95 ms | recall@10 | vs exact p95 |", "|---|---|---|---|---|"]
        exact = r["rows"][0].p95_ms
        for row in r["rows"]:
            lines.append(f"| {row.method} | {row.median_ms:.2f} | {row.p95_ms:.2f} | {row.recall:.3f} | "
                         f"{exact / row.p95_ms:.1f}x |")
        ok = [row for row in r["rows"][1:] if row.recall >= TARGET_RECALL]
        best = min(ok, key=lambda row: row.p95_ms) if ok else None
        lines += ["", (f"Target (p95 <= {TARGET_P95_MS:.0f} ms with recall@10 >= {TARGET_RECALL}): "
                       + (f"{best.method}, p95 {best.p95_ms:.2f} ms, recall@10 {best.recall:.3f}: "
                          f"{'met' if best.p95_ms <= TARGET_P95_MS else 'NOT met'}" if best
                          else "no setting reached the recall")), "",
                  "| ranker | median ms | p95 ms | recall@10 vs exact ranker | vs exact ranker p95 |",
                  "|---|---|---|---|---|"]
        for exact_row, index_row in zip(r["ranker"][::2], r["ranker"][1::2]):
            for row in (exact_row, index_row):
                lines.append(f"| {row.method} | {row.median_ms:.2f} | {row.p95_ms:.2f} | {row.recall:.3f} | "
                             f"{exact_row.p95_ms / row.p95_ms:.1f}x |")
        lines += ["", "With the category filter the candidates are below `index_min_share` of the catalog: the "
                  "large-catalog path scores them all, its cosines over their rows only.", ""]
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--sizes", default="100000,1000000", show_default=True, help="Catalog sizes, comma-separated.")
@click.option("--queries", type=click.IntRange(20, 5000), default=200, show_default=True,
              help="Queries timed per method.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the results as Markdown here.")
def main(sizes: str, queries: int, out: Path | None) -> None:
    """Import, embedding and vector-search figures for synthetic catalogs of the given sizes.

    Example:

        .venv/bin/python bench/scale.py --sizes 100000,1000000 --out bench/results/scale.md
    """
    encoder = TextEncoder()
    with Catalog.open(config.catalog_path()) as catalog:
        products = list(catalog.iter_products())
        embeddings = ProductEmbeddings.load_or_build(catalog, encoder, config.cache_dir())
    base = embeddings.matrix[embeddings.row_numbers([p.id for p in products])].astype(np.float32)
    scale, cosine = noise_scale(encoder, products, 500, base.shape[1])
    click.echo(f"variants: mean cosine {cosine:.3f} to their product -> noise {scale:.4f} per dimension")
    rng = random.Random(7)
    phrases = [" ".join(p.display_title.split()[:4]) for p in rng.sample(products, queries)]
    query_vectors = encoder.encode(phrases).astype(np.float32)
    results = []
    with tempfile.TemporaryDirectory(prefix="shopbot-scale-") as work:
        for size in (int(s) for s in sizes.split(",")):
            click.echo(f"{size:,} products")
            results.append(bench_size(size, products, base, scale, phrases, query_vectors, encoder, Path(work),
                                      click.echo))
    text = markdown(results, cosine, scale, queries)
    click.echo(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")


if __name__ == "__main__":
    main()
