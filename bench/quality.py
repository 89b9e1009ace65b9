"""What shoppers see (issue 18): similar products, search precision on what they name, and queries
the shop cannot answer, on the shipped catalog (read through ``ProductSearch.from_paths``; the
catalog, embeddings and collaborative model set-up built are only read).

(a) Similar products over ``--products`` random products (seeded): the share of the top 5 in the
    source's leaf category (``similar(n=5)``, the chat's page), and the co-purchase hit rate: one of
    the products shoppers really bought right after the source (consecutive items of the catalog's
    histories) among the top 10 (``n=10``). Rows: the blend before issue 18 (``similar_kind_share=0``,
    ``similar_w_bought=0.3``: its formula and diversity step exactly), text only (cosine and the
    diversity step), co-purchase only (``CFRecommender.similar_items``), the blend with the whole list
    given to the same kind (``similar_kind_share=1``), and the blend as shipped.
    The served model was trained on every history, so the hit rate is in-sample for every row that
    uses it (it says how well the list reflects what is bought together, not a forecast).
(b) Search precision@5 per leaf category with at least ``--min-products`` products: the category's
    name queried as shoppers type it, variants made generically from the name (lowercase, "&" as
    "and", the last word singular <-> plural, "show me <name>", "do you sell <other form>"); a result
    is relevant when it is in that category or below (``Catalog.filter_ids(category=...)``); empty
    places count as misses. Without filters (the words alone), the same without the ranker's part for
    the categories and brands a query names (``SearchConfig.w_named=0``: the ranker before it), and
    with the category filter (``Filters(category=...)``, as when the NLU finds the category). The same
    for brands with at least ``--min-products`` products ("<brand>", lowercase, "<brand> products",
    "anything from <brand>"; relevant = that brand), and for other names shoppers give those categories
    (bench/data/en_category_synonyms.tsv, written for the project: "nail varnish" for Nail Polish, "shower
    gel" for Body Washes; the name, its other number, "show me <name>"), which name no category.
(c) Out-of-catalog requests (``relevance_floor.OUT``: products other shops sell): the share for
    which search lists nothing (the relevance floor, ``SearchConfig.relevance_floor``).

Usage: .venv/bin/python bench/quality.py [--quick] [--out bench/results/quality.md]
"""

from __future__ import annotations

import copy
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import click
import numpy as np

from _common import catalog_options, load_average, machine_header, read_tsv  # bench/_common.py, next to this file
from recommender import Filters, ProductSearch, SearchConfig
from recommender.catalog.products import Product
from recommender.catalog.types import other_number
from relevance_floor import OUT

RESULTS = Path(__file__).parent / "results"
SEED = 18
SYNONYMS = Path(__file__).parent / "data" / "en_category_synonyms.tsv"
Lister = Callable[[str, int], list[str]]  # (product id, n) -> ids of the similar products, best first


# ---- (a) similar products ------------------------------------------------------------------------


def next_purchases(search: ProductSearch) -> dict[str, set[str]]:
    """product id -> the products shoppers bought right after it (consecutive items of their histories)."""
    after: dict[str, set[str]] = defaultdict(set)
    for _, history in search.catalog.iter_histories():
        for a, b in zip(history, history[1:]):
            if a != b:
                after[a].add(b)
    return after


def similar_rows(search: ProductSearch) -> dict[str, Lister]:
    """The rows of table (a): how each lists the products similar to one."""
    def ranker(config: SearchConfig) -> Lister:
        other = ProductSearch(search.catalog, search.encoder, search.embeddings, config, search.recommender)
        return lambda pid, n: [r.product.id for r in other.similar(pid, n=n).results]

    shipped = search.config
    rows = {
        "before (issue 18): text + 0.3 co-purchase model + popularity": ranker(
            replace(shipped, similar_kind_share=0.0, similar_w_bought=0.3)),
        "text only": ranker(replace(shipped, similar_kind_share=0.0, similar_w_bought=0.0, w_pop=0.0)),
    }
    if search.recommender is not None:
        model = search.recommender
        rows["co-purchase only (CF similar_items)"] = lambda pid, n: (
            [r.product_id for r in model.similar_items(pid, n=n)] if model.index_of(pid) is not None else [])
    rows["same kind only (share 1.0)"] = ranker(replace(shipped, similar_kind_share=1.0))
    rows[f"same kind first, then complements (shipped: share {shipped.similar_kind_share}, "
         f"co-purchase {shipped.similar_w_bought})"] = ranker(shipped)
    return rows


def similar_table(search: ProductSearch, sample: Sequence[str], products: dict[str, Product],
                  after: dict[str, set[str]]) -> list[tuple[str, float, float, float, float]]:
    """(row, same-leaf share of the top 5, co-purchase hit rate@10, ms per list, share with a reason)."""
    out = []
    bought = [pid for pid in sample if after.get(pid)]
    for name, lister in similar_rows(search).items():
        started = time.perf_counter()
        same = [np.mean([products[x].category == products[pid].category for x in lister(pid, 5)])
                if products[pid].category else np.nan for pid in sample]
        hits = [bool(set(lister(pid, 10)) & after[pid]) for pid in bought]
        ms = (time.perf_counter() - started) * 1000 / (len(sample) + len(bought))
        out.append((name, float(np.nanmean(same)), float(np.mean(hits)) if hits else float("nan"), ms, np.nan))
    reasoned = [bool(r.reasons) for pid in sample for r in search.similar(pid, n=5).results]
    out[-1] = (*out[-1][:4], float(np.mean(reasoned)))
    return out


# ---- (b) search precision ------------------------------------------------------------------------


def category_queries(name: str) -> list[str]:
    """How shoppers ask for a category, made from its name alone."""
    base = name.lower().replace("&", "and")
    other = other_number(base)
    return list(dict.fromkeys([base, other, f"show me {base}", f"do you sell {other}"]))


def synonym_queries(synonym: str) -> list[str]:
    return list(dict.fromkeys([synonym, other_number(synonym), f"show me {synonym}"]))


def brand_queries(brand: str) -> list[str]:
    return list(dict.fromkeys([brand, brand.lower(), f"{brand} products", f"anything from {brand}"]))


def precision(search: ProductSearch, queries: Sequence[str], relevant: set[str], filters: Filters,
              k: int = 5) -> float:
    """Mean precision@k over the queries (empty places are misses)."""
    return float(np.mean([sum(r.product.id in relevant for r in search.search(q, filters, n=k).results) / k
                          for q in queries]))


def precision_table(search: ProductSearch, names: Sequence[str], queries: Callable[[str], list[str]],
                    relevant: Callable[[str], set[str]], as_filter: Callable[[str], Filters]
                    ) -> list[tuple[str, float, float, float]]:
    """(name, precision@5 without filters, the same without the named part, with the name as a filter) per name."""
    unnamed = copy.copy(search)  # the same ranker, its caches shared, without the part for named categories and brands
    unnamed.config = replace(search.config, w_named=0.0)
    rows = []
    for name in names:
        qs, rel = queries(name), relevant(name)
        rows.append((name, precision(search, qs, rel, Filters()), precision(unnamed, qs, rel, Filters()),
                     precision(search, qs, rel, as_filter(name))))
    return rows


# ---- the report ----------------------------------------------------------------------------------


def precision_lines(title: str, rows: list[tuple[str, float, float, float]], worst: int = 10) -> list[str]:
    bare, unnamed, filtered = (np.array([r[i] for r in rows]) for i in (1, 2, 3))
    lines = [f"| {title} | names | mean p@5, words alone | (before: without the named part) | mean p@5, with the "
             "filter | names >= 0.95 alone (before) |", "|---|---|---|---|---|---|",
             f"| | {len(rows)} | {bare.mean():.3f} | ({unnamed.mean():.3f}) | {filtered.mean():.3f} | "
             f"{np.mean(bare >= 0.95):.1%} ({np.mean(unnamed >= 0.95):.1%}) |", "",
             f"Worst {worst} (words alone; before; with the filter):", ""]
    lines += [f"- {name!r}: {b:.2f}; {u:.2f}; {f:.2f}"
              for name, b, u, f in sorted(rows, key=lambda r: (r[1], r[2], r[0]))[:worst]]
    return lines


def figures(similar: list, categories: list, brands: list, nothing: float, out: Path) -> None:
    """One PNG per table: quality_similar.png, quality_search.png, quality_floor.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    names = [r[0].split(" (")[0].split(":")[0] for r in similar]
    x = np.arange(len(similar))
    ax.bar(x - 0.2, [r[1] for r in similar], 0.4, label="top 5 in the same leaf category")
    ax.bar(x + 0.2, [r[2] for r in similar], 0.4, label="next purchase in the top 10")
    ax.set_xticks(x, names, fontsize=8)
    ax.set(ylim=(0, 1), title="Similar products")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out.with_name(out.stem + "_similar.png"), dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, (what, rows) in zip(axes, [("leaf categories", categories), ("brands", brands)]):
        for col, label in [(2, "words alone, before (no named part)"), (1, "words alone"), (3, "with the filter")]:
            ax.plot(sorted(r[col] for r in rows), label=label)
        ax.axhline(0.95, color="k", lw=0.7)
        ax.set(title=f"Search precision@5: {what}", xlabel=f"{what}, sorted", ylim=(0, 1.02))
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out.with_name(out.stem + "_search.png"), dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar(["nothing listed", "products listed"], [nothing, 1 - nothing])
    ax.set(ylim=(0, 1), title="Out-of-catalog requests")
    fig.tight_layout()
    fig.savefig(out.with_name(out.stem + "_floor.png"), dpi=110)
    plt.close(fig)


@click.command()
@catalog_options
@click.option("--products", default=500, show_default=True, help="random products for the similar table")
@click.option("--min-products", default=20, show_default=True, help="categories and brands with at least this many")
@click.option("--quick", is_flag=True, help="a smoke run: 40 products, 10 categories, 10 brands, 20 requests")
@click.option("--out", type=click.Path(dir_okay=False), default=str(RESULTS / "quality.md"), show_default=True)
def main(catalog_path: str | None, cache_dir: str | None, products: int, min_products: int, quick: bool,
         out: str) -> None:
    """Print the three quality tables and write them with one figure each.

    Example: .venv/bin/python bench/quality.py --quick --out /tmp/quality.md
    """
    started = time.perf_counter()
    search = ProductSearch.from_paths(catalog_path, cache_dir, progress=False)
    catalog = search.catalog
    limit = 10 if quick else None
    everything = {p.id: p for p in catalog.get_products(catalog.product_ids())}
    sample = random.Random(SEED).sample(sorted(everything), min(40 if quick else products, len(everything)))
    similar = similar_table(search, sample, everything, next_purchases(search))

    leaves = [name for name, count in catalog.categories() if count >= min_products][:limit]
    categories = precision_table(search, leaves, category_queries, lambda n: set(catalog.filter_ids(category=n)),
                                 lambda n: Filters(category=n))
    synonyms = {name: row["synonym"] for name, row in read_tsv(SYNONYMS).items() if name in leaves}
    others = precision_table(search, list(synonyms), lambda n: synonym_queries(synonyms[n]),
                             lambda n: set(catalog.filter_ids(category=n)), lambda n: Filters(category=n))
    names = [name for name, count in catalog.brands() if count >= min_products][:limit]
    brands = precision_table(search, names, brand_queries, lambda n: set(catalog.filter_ids(brand=n)),
                             lambda n: Filters(brand=n))
    requests = OUT[:20] if quick else OUT
    listed = {q: search.search(q, n=1).results for q in requests}
    nothing = float(np.mean([not r for r in listed.values()]))

    lines = [machine_header("Quality: what shoppers see", f"{catalog.count_products():,} products"), "",
             f"`bench/quality.py{' --quick' if quick else ''}` (issue 18; method in its docstring). Times are "
             f"on a CPU shared with other jobs (load {load_average()}).", "",
             f"## (a) Similar products ({len(sample)} random products, seed {SEED})", "",
             "| row | top 5 in the same leaf category | next purchase in the top 10 | ms per list |",
             "|---|---|---|---|"]
    lines += [f"| {name} | {same:.3f} | {hit:.3f} | {ms:.1f} |" for name, same, hit, ms, _ in similar]
    lines += ["", f"Shipped blend: {similar[-1][4]:.1%} of the listed products carry at least one reason. The "
              "co-purchase model was trained on every history, so the hit rate is in-sample.", "",
              f"## (b) Search precision@5 (leaf categories and brands with >= {min_products} products)", ""]
    lines += precision_lines("leaf categories", categories) + [""] + precision_lines("brands", brands)
    lines += ["", f"Other names of the leaf categories ({SYNONYMS.name}: the category each names):", ""]
    lines += precision_lines("other names", [(f"{synonyms[name]} ({name})", *rest) for name, *rest in others])
    lines += ["", f"## (c) Out-of-catalog requests ({len(requests)}, from bench/relevance_floor.py)", "",
              f"{nothing:.1%} list nothing (relevance floor {search.config.relevance_floor}); still listed: "
              + (", ".join(f"{q!r} -> {r[0].product.display_title[:50]!r}" for q, r in listed.items() if r) or "none")
              + ".", "", f"Figures: `{Path(out).stem}_similar.png`, `{Path(out).stem}_search.png`, "
              f"`{Path(out).stem}_floor.png`. Run time {time.perf_counter() - started:.0f} s."]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    figures(similar, categories, brands, nothing, Path(out))
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
