"""Chinese requests over the shipped English catalog (issue 23, item 3): search precision@5 per leaf
category, what the relevance floor does with products the shop does not sell, and the latency.

Queries, written for this bench (bench/data): for every leaf category with at least
``--min-products`` products, how Chinese shoppers name it:

- its everyday name (bench/data/zh_category_names.tsv, "洗发水" for Shampoos), the name the shop's
  category alias file gives it (data/products/amazon-beauty/category_aliases.csv, made from these,
  ``shopbot catalog build --category-aliases``), except for six leaves whose name spans unrelated
  products ("Face", "Eyes", "Creams", "Gels", "Lotions", "Sets & Kits"): no alias;
- another name for it, not in the alias file (bench/data/zh_category_queries.tsv, ``other_name``:
  "洗发露" for Shampoos): what the multilingual vectors alone find;
- the name with an attribute ("控油去屑洗发水"), and a sentence ("推荐一款控油的洗发水").

Each Chinese query runs as the assistant runs it: a category alias the text names becomes the
category filter (``Vocabulary.category_in``, as the search action does), and the text is read by the
multilingual encoder (``ProductSearch``, "Other languages"). Rows "words alone" give the same query
without the alias filter. A result is relevant when it is in that category or below it; empty places
count as misses. The English row is the category's name typed in English (as bench/quality.py).

Out of catalog: 40 Chinese requests for what other shops sell (bench/data/zh_out_of_catalog.txt):
the share for which search lists nothing (the relevance floor: the best cosine over the reference
cosine of the encoder that reads the query, against ``SearchConfig.relevance_floor_multilingual``).

Latency: the median of ``search`` over the queries, Chinese against English, each query after a
first run (the query vector cache off: every run encodes).

Usage: .venv/bin/python bench/cross_lingual.py [--out bench/results/cross_lingual.md]
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import click
import numpy as np

from _common import catalog_options, load_average, machine_header, read_tsv  # bench/_common.py, next to this file
from actions.vocabulary import Vocabulary
from quality import category_queries
from recommender import Filters, ProductSearch, SearchConfig

DATA = Path(__file__).parent / "data"
RESULTS = Path(__file__).parent / "results"


def precision(search: ProductSearch, query: str, relevant: set[str], filters: Filters, k: int = 5) -> float:
    return sum(r.product.id in relevant for r in search.search(query, filters, n=k).results) / k


def timed(search: ProductSearch, queries: list[str], repeats: int = 3) -> float:
    """Median milliseconds of one search over the queries (each encoded every time)."""
    times = []
    for _ in range(repeats):
        for q in queries:
            started = time.perf_counter()
            search.search(q, n=5)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


@click.command()
@catalog_options
@click.option("--min-products", default=20, show_default=True, help="leaf categories with at least this many")
@click.option("--out", type=click.Path(dir_okay=False), default=str(RESULTS / "cross_lingual.md"), show_default=True)
def main(catalog_path: str | None, cache_dir: str | None, min_products: int, out: str) -> None:
    """Print the cross-lingual search table and write it with its figure.

    Example: .venv/bin/python bench/cross_lingual.py --out /tmp/cross_lingual.md
    """
    started = time.perf_counter()
    search = ProductSearch.from_paths(catalog_path, cache_dir, progress=False,
                                      config=SearchConfig(query_cache_size=0))
    catalog = search.catalog
    vocabulary = Vocabulary.from_catalog(catalog)
    aliases: dict[str, list[str]] = {}
    for alias, category in catalog.shop().category_aliases.items():
        aliases.setdefault(category, []).append(alias)
    names, others = read_tsv(DATA / "zh_category_names.tsv"), read_tsv(DATA / "zh_category_queries.tsv")
    leaves = [name for name, count in catalog.categories() if count >= min_products and name in others]

    def as_assistant(text: str) -> Filters:
        return Filters(category=vocabulary.category_in(text))

    columns = {  # row name -> (query of a leaf, filters of a query)
        "English name, words alone": (lambda leaf: category_queries(leaf)[0], lambda q: Filters()),
        "Chinese name, words alone": (lambda leaf: names[leaf]["name"], lambda q: Filters()),
        "Chinese name, as the assistant (aliases)": (lambda leaf: names[leaf]["name"], as_assistant),
        "another Chinese name (not an alias)": (lambda leaf: others[leaf]["other_name"], as_assistant),
        "Chinese name with an attribute": (lambda leaf: others[leaf]["with_attribute"], as_assistant),
        "Chinese sentence": (lambda leaf: names[leaf]["sentence"], as_assistant),
    }
    table: dict[str, list[float]] = {}
    worst: dict[str, list[tuple[float, str, str]]] = {}
    for row, (query_of, filters_of) in columns.items():
        scores = []
        for leaf in leaves:
            query = query_of(leaf)
            scores.append(precision(search, query, set(catalog.filter_ids(category=leaf)), filters_of(query)))
        table[row] = scores
        worst[row] = sorted(zip(scores, leaves, map(query_of, leaves)))[:8]
    outside = (DATA / "zh_out_of_catalog.txt").read_text(encoding="utf-8").split("\n")
    outside = [line.strip() for line in outside if line.strip()]
    listed = {q: search.search(q, as_assistant(q), n=1).results for q in outside}
    nothing = float(np.mean([not r for r in listed.values()]))
    english = [category_queries(leaf)[0] for leaf in leaves]
    chinese = [others[leaf]["with_attribute"] for leaf in leaves]
    timed(search, english[:5] + chinese[:5], repeats=1)  # load both encoders first
    ms_en, ms_zh = timed(search, english), timed(search, chinese)

    lines = [machine_header("Cross-lingual search: Chinese requests over the English catalog",
                            f"{catalog.count_products():,} products"), "",
             f"`bench/cross_lingual.py` (issue 23; method in its docstring). Load {load_average()}.", "",
             f"## Precision@5 over {len(leaves)} leaf categories with >= {min_products} products", "",
             "| query | mean p@5 | leaves >= 0.9 |", "|---|---|---|"]
    lines += [f"| {row} | {np.mean(s):.3f} | {np.mean(np.array(s) >= 0.9):.1%} |" for row, s in table.items()]
    for row in list(columns)[3:]:
        lines += ["", f"Worst of '{row}': " + ", ".join(f"{q} ({leaf}) {p:.1f}" for p, leaf, q in worst[row])]
    lines += ["", f"## Out of catalog ({len(outside)} Chinese requests)", "",
              f"{nothing:.1%} list nothing; still listed: "
              + (", ".join(f"{q} -> {r[0].product.display_title[:40]!r}" for q, r in listed.items() if r) or "none")
              + ".", "", "## Latency", "",
              f"Median search: English {ms_en:.1f} ms, Chinese {ms_zh:.1f} ms ({ms_zh / ms_en:.2f}x), "
              f"{len(leaves)} queries each, 3 runs, every query encoded.", "",
              f"Figure: `{Path(out).stem}.png`. Run time {time.perf_counter() - started:.0f} s."]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    figure(table, Path(out).with_suffix(".png"))
    click.echo("\n".join(lines))


def figure(table: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    for row, scores in table.items():
        ax.plot(sorted(scores), label=f"{row} ({np.mean(scores):.2f})")
    ax.axhline(0.9, color="k", lw=0.7)
    ax.set(title="Search precision@5 per leaf category", xlabel="leaf categories, sorted", ylim=(0, 1.02))
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
