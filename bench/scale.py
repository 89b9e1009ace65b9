"""Scale: synthetic catalogs of 100k and 1M products made from the shipped ones.

Each size N is the 12,101 shipped products and variants of them (product k is shipped product
k mod 12,101, variant k // 12,101: the same brand and category, the title plus a variant phrase such
as "(travel size)", the price moved by up to +-20 %). For each size it measures:

- import: the real importer (`recommender.importer.import_catalog`) from a CSV into a new SQLite
  catalog, in products per second, and the file's size;
- embedding: the real MiniLM encoder on a sample of the synthetic products' texts, in texts per second,
  and what encoding all N would take at that rate;
- search by meaning, per query (one at a time, as a shopper asks), against the exact scan the ranker
  does today (one mat-vec over all N vectors) as the baseline: an inverted-file index (faiss-cpu
  IndexIVFFlat, inner product), for several `nprobe`; its recall@10 against the exact top 10; median
  and p95 latency; the 50 ms target at p95 with recall@10 >= 0.95;
- memory: the vectors, the index, and the process's peak resident memory.

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
import platform
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import click
import faiss
import numpy as np

from recommender import config
from recommender.catalog import Catalog, Product
from recommender.embeddings import ProductEmbeddings, product_text
from recommender.encoder import TextEncoder
from recommender.importer import import_catalog

TARGET_P95_MS = 50.0
TARGET_RECALL = 0.95
NPROBES = (8, 16, 32, 64, 128, 256)
VARIANTS = ("travel size", "2-pack", "refill", "value size", "3-pack", "mini", "gift set", "limited edition",
            "unscented", "salon size", "sample", "deluxe", "trial kit", "family size", "twin pack")


def variant(product: Product, v: int, rng: random.Random) -> dict[str, object]:
    """Variant `v` of a shipped product as a catalog CSV row (variant 0 is the product itself)."""
    if v == 0:
        title, product_id, price = product.title, product.id, product.price
    else:
        phrase = VARIANTS[v % len(VARIANTS)] + (f" {v // len(VARIANTS) + 1}" if v >= len(VARIANTS) else "")
        title = f"{product.display_title} ({phrase})"
        product_id = f"{product.id}-v{v}"
        price = round(product.price * rng.uniform(0.8, 1.2), 2) if product.price else None
    return {"id": product_id, "title": title, "brand": product.brand or "",
            "category": " > ".join(product.category_path), "price": "" if price is None else price}


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


def p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, round(0.95 * len(samples)) - 1)]


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Row:
    """One search method at one size."""

    method: str
    median_ms: float
    p95_ms: float
    recall: float


def timed_searches(search, queries: np.ndarray) -> tuple[list[float], np.ndarray]:
    """Run `search` on each query alone; return the milliseconds and the top-10 ids per query."""
    times, found = [], []
    for q in queries:
        start = time.perf_counter()
        found.append(search(q[None, :]))
        times.append((time.perf_counter() - start) * 1000)
    return times, np.vstack(found)


def exact_top10(matrix: np.ndarray):
    def search(q: np.ndarray) -> np.ndarray:
        scores = matrix @ q[0]                                         # (N,)
        top = np.argpartition(-scores, 10)[:10]
        return top[np.argsort(-scores[top])][None, :]
    return search


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))


def bench_size(size: int, products: list[Product], base: np.ndarray, scale: float, queries: np.ndarray,
               encoder: TextEncoder, work: Path, echo) -> dict[str, object]:
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

    nlist = int(2 * np.sqrt(size))
    quantizer = faiss.IndexFlatIP(vectors.shape[1])
    index = faiss.IndexIVFFlat(quantizer, vectors.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    faiss.omp_set_num_threads(2)  # building uses both cores; searching, one (below)
    start = time.perf_counter()
    train = vectors[np.random.default_rng(1).choice(size, min(size, 40 * nlist), replace=False)]
    index.train(train)
    index.add(vectors)
    build_s = time.perf_counter() - start
    faiss.omp_set_num_threads(1)
    echo(f"  IVF index, {nlist} lists: built in {build_s:.1f} s")
    for nprobe in NPROBES:
        index.nprobe = nprobe
        times, found = timed_searches(lambda q: index.search(q, 10)[1], queries)
        rows.append(Row(f"IVF, nprobe {nprobe}", statistics.median(times), p95(times), recall_at_10(found, truth)))
        echo(f"  {rows[-1].method}: median {rows[-1].median_ms:.2f} ms, p95 {rows[-1].p95_ms:.2f} ms, "
             f"recall@10 {rows[-1].recall:.3f}")
    memory = {"vectors_mb": vectors.nbytes / 1e6, "index_mb": faiss.serialize_index(index).nbytes / 1e6,
              "peak_rss_mb": peak_rss_mb()}
    csv_path.unlink()
    db_path.unlink()
    return {"size": size, "import_s": import_s, "import_rate": report.products / import_s,
            "db_mb": db_mb, "encode_rate": encode_rate, "build_s": build_s, "nlist": nlist, "rows": rows,
            **memory}


def markdown(results: list[dict[str, object]], cosine: float, scale: float, queries: int) -> str:
    lines = [f"# Scale: synthetic catalogs ({date.today().isoformat()})", "",
             f"`.venv/bin/python bench/scale.py`, {platform.processor() or platform.machine()}. {queries} "
             "queries, each searched alone on one thread (as the action server asks; the other core serves "
             "Rasa); latency is the vector search only (top 10 of all products), the ranker's filters and "
             "reasons not included. The index is built on both cores.",
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
                  f"{r['peak_rss_mb']:,.0f} MB", "",
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
                          else "no setting reached the recall")), ""]
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
        embeddings = ProductEmbeddings.load_or_build(catalog, encoder, config.cache_dir() / "embeddings")
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
            results.append(bench_size(size, products, base, scale, query_vectors, encoder, Path(work), click.echo))
    text = markdown(results, cosine, scale, queries)
    click.echo(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")


if __name__ == "__main__":
    main()
