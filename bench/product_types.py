"""Product types derived from titles (`recommender.catalog.types.derive_types`) on three real catalogs.

- UK online gift shop (UCI "Online Retail", CC BY 4.0; `shared/data/online-retail-uk-gifts`): one
  product per StockCode (codes starting with five digits; POST, M, D, ... are not products), titled by
  its most frequent Description (the first seen on a tie). No categories: coverage, the largest types,
  and how often the type is right on a seeded random sample of 60 products checked by hand
  (`VERDICTS` below: product code -> (type judged, verdict); a sample product whose type has changed
  since is reported as not judged, so the figure never silently covers another method).
- IKEA UAE (`shared/data/ikea-uae-home/ikea3.csv`, no licence: figures only, no title or row is written
  out) and the shipped Amazon Beauty titles: coverage and agreement with the real (leaf) category.

Agreement, two honest measures over the products that get a type and have a category:
- word match: the type's head (its last word) is a word of the real category name, singular or
  plural alike ("sofa" in "Corner sofas"); strict: "nail lacquer" in "Nail Polish" counts as wrong;
- purity: each type mapped to the real category most of its products have; the share of typed
  products in their type's category (more, smaller types raise it; reported with the type count).

Baselines on the same measures: "last word" (the title's last word, lowercased, when `min_products`
titles share it) and "position only" (this method without the learnt head rates: the last content word
of the first clause, i.e. the EM switched off). Figure: coverage and agreement against `min_products`.

Usage: .venv/bin/python bench/product_types.py [--data ../shared/data] [--out bench/results]
"""

from __future__ import annotations

import csv
import math
import random
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import click

from _common import load_average, machine_header  # bench/_common.py, next to this file
from recommender.catalog import types as product_types
from recommender.catalog.formats import parse_categories
from recommender.catalog.types import DEFAULT_MIN_PRODUCTS, derive_types, singular_key

SEED = 16  # the number
SAMPLE = 60
SPEED_TITLES = 100_000
SWEEP = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20)
BEAUTY = Path(__file__).resolve().parents[1] / "data/products/amazon-beauty/Amazon_Beauty.item"
RETAIL = "online-retail-uk-gifts/online_retail_customers_id_mod10.csv"
IKEA = "ikea-uae-home/ikea3.csv"
RETAIL_NAME = "UK gift shop"
Sample = list[tuple[str, str, str | None, str]]  # (product code, title, derived type, verdict)
ATTRIBUTION = (
    "Online Retail data: D. Chen, UCI Machine Learning Repository (dataset 352), CC BY 4.0; titles quoted as"
    " published (via the CRAN package `onlineretail` 0.1.2)."
)

# The hand check (min_products = 3). right: the type says what the product is ("bag" for a jumbo bag,
# a true qualifier allowed: "metal bowl"); wrong: it names a design, theme, material, part or another
# thing ("rabbit" for an egg cosy with a rabbit on it, "circus parade"). Products without a type are
# counted apart and need no verdict.
VERDICTS: dict[str, tuple[str, str]] = {
    "22814": ("game", "right"),
    "23304": ("cutlery", "right"),
    "23351": ("roll wrap", "right"),
    "22478": ("garden marker", "right"),
    "23070": ("photo frame", "right"),
    "22200": ("frying pan", "right"),
    "23200": ("bag", "right"),
    "15058C": ("garden parasol", "right"),
    "23036": ("t-light holder", "right"),
    "22355": ("charlotte bag", "right"),
    "22260": ("rabbit", "wrong"),  # an egg cosy
    "22181": ("fridge magnet", "right"),
    "16161U": ("friends", "wrong"),  # wrapping paper
    "22531": ("circus parade", "wrong"),  # a drawing slate
    "22556": ("plasters tin", "right"),
    "22697": ("teacup saucer", "right"),
    "85136C": ("helicopter", "right"),
    "21684": ("metal bowl", "right"),
    "84510A": ("coaster", "right"),
    "20657": ("luggage tag", "right"),
    "22170": ("picture frame", "right"),
    "84519B": ("coaster", "right"),
    "22331": ("party bag", "right"),
    "20618": ("passport cover", "right"),
    "21754": ("block word", "right"),
    "84559B": ("stickers", "right"),
    "85145": ("jar", "right"),
    "20698": ("soft toy", "right"),
    "23286": ("spot beaker", "right"),
    "23242": ("tin", "right"),
    "84452": ("ladder", "wrong"),  # an Easter decoration
    "84875D": ("compact mirror", "right"),
    "22530": ("dolly girl", "wrong"),  # a drawing slate
    "22190": ("mug", "right"),
    "22587": ("feltcraft hairband", "right"),
    "22815": ("card", "right"),
    "22352": ("lunch box", "right"),
    "23084": ("night light", "right"),
    "21239": ("cup", "right"),
    "22750": ("doll", "right"),
    "23416": ("hook", "right"),
    "23099": ("lantern", "right"),
    "23524": ("wall art", "right"),
    "84997B": ("childrens cutlery", "right"),
    "21889": ("box", "wrong"),  # dominoes
    "51014C": ("feather pen", "right"),
    "22515": ("spade", "right"),
    "20867": ("fabric mirror", "right"),
    "22469": ("heart wicker", "wrong"),  # a wicker heart
    "21217": ("cake tin", "right"),
    "16008": ("scissor", "right"),
    "22879": ("tile font", "wrong"),  # a number tile
    "22245": ("hanger", "wrong"),  # a hook
}


@dataclass(frozen=True)
class Figures:
    """One method on one catalog."""

    products: int
    typed: int
    types: int
    categories: int  # distinct real categories among the products (0 when the catalog has none)
    word_match: float | None
    purity: float | None

    @property
    def coverage(self) -> float:
        return self.typed / self.products


def _words(text: str) -> set[str]:
    return {singular_key(w) for w in re.findall(r"[^\W\d_][\w'-]*", text.lower())}


def figures(types: Sequence[str | None], categories: Sequence[str | None] | None = None) -> Figures:
    """Coverage, type count and, when real categories are given, word match and purity."""
    typed = [t for t in types if t]
    if categories is None:
        return Figures(len(types), len(typed), len(set(typed)), 0, None, None)
    pairs = [(t, c) for t, c in zip(types, categories) if t and c]
    by_type: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for t, c in pairs:
        by_type[t][c] += 1
    word = sum(singular_key(t.split()[-1]) in _words(c) for t, c in pairs) / len(pairs)
    purity = sum(c.most_common(1)[0][1] for c in by_type.values()) / len(pairs)
    return Figures(len(types), len(typed), len(set(typed)), len({c for c in categories if c}), word, purity)


def last_word_types(titles: Sequence[str | None], min_products: int = DEFAULT_MIN_PRODUCTS) -> list[str | None]:
    """The baseline: the title's last word, lowercased and stripped of punctuation, when enough titles share it."""
    last = [(re.sub(r"^\W+|\W+$", "", t.split()[-1].lower()) or None) if t and t.split() else None for t in titles]
    counts = Counter(last)
    return [w if w and counts[w] >= min_products else None for w in last]


def position_only_types(titles: Sequence[str | None], min_products: int = DEFAULT_MIN_PRODUCTS) -> list[str | None]:
    """The ablation: derive_types with no EM round, so each head is the last content word of the first clause."""
    with mock.patch.object(product_types, "_EM_ROUNDS", 0):
        return derive_types(titles, min_products=min_products)


def load_retail(data: Path) -> dict[str, str]:
    """StockCode -> title (most frequent Description, first seen on a tie), product codes only."""
    seen: dict[str, Counter[str]] = {}
    with open(data / RETAIL, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            seen.setdefault(row["StockCode"], Counter())[row["Description"]] += 1
    return {code: c.most_common(1)[0][0] for code, c in sorted(seen.items()) if re.match(r"\d{5}", code)}


def load_ikea(data: Path) -> tuple[list[str | None], list[str | None]]:
    """Titles and categories (None when empty); kept in memory only."""
    with open(data / IKEA, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["Title"] or None for r in rows], [r["Category"] or None for r in rows]


def load_beauty() -> tuple[list[str | None], list[str | None]]:
    """The shipped titles and their leaf categories."""
    with open(BEAUTY, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_MINIMAL))
    leaves = [(parse_categories(r["categories:token_seq"]) or (None,))[-1] for r in rows]
    return [r["title:token"] or None for r in rows], leaves


def hand_check(retail: dict[str, str], types: dict[str, str | None]) -> Sample:
    """The seeded sample: (code, title, type, verdict), verdict "none", "not judged" or the stored one."""
    rows = []
    for code in random.Random(SEED).sample(sorted(retail), SAMPLE):
        judged_type, verdict = VERDICTS.get(code, (None, "not judged"))
        derived = types[code]
        if derived is None:
            verdict = "none"
        elif judged_type != derived:
            verdict = "not judged"
        rows.append((code, retail[code], derived, verdict))
    return rows


def timed_100k(titles: Sequence[str | None]) -> tuple[float, float]:
    """Median wall and CPU seconds of derive_types over SPEED_TITLES titles (the given ones, cycled), 3 runs."""
    many = [titles[i % len(titles)] for i in range(SPEED_TITLES)]
    wall, cpu = [], []
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        derive_types(many)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of k successes in n trials."""
    p, half = k / n, z * math.sqrt(k * (n - k) / n + z * z / 4) / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    return centre - half / (1 + z * z / n), centre + half / (1 + z * z / n)


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def plot(sweep: dict[str, list[Figures]], path: Path) -> None:
    """Coverage (left) and agreement (right) against min_products, one colour per catalog."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, rows in sweep.items():
        (line,) = left.plot(SWEEP, [r.coverage for r in rows], marker="o", label=name)
        if rows[0].word_match is not None:
            colour = line.get_color()
            right.plot(SWEEP, [r.word_match for r in rows], marker="o", color=colour, label=f"{name}: word match")
            right.plot(SWEEP, [r.purity for r in rows], marker="s", ls="--", color=colour, label=f"{name}: purity")
    for ax, title in ((left, "share of products with a type"), (right, "agreement with the real category")):
        ax.set_xlabel("min_products")
        ax.set_xticks(SWEEP)
        ax.set_title(title)
        ax.set_ylim(0, 1)
        ax.axvline(DEFAULT_MIN_PRODUCTS, color="grey", lw=0.8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary_lines(results: dict[tuple[str, str], Figures], methods: Sequence[str], verdicts: Counter[str],
                  speed: tuple[float, float]) -> list[str]:
    """The result's head: the figures per catalog, the baselines and the speed."""
    judged = verdicts["right"] + verdicts["wrong"]
    lines = [
        machine_header("Product types derived from titles", f"load {load_average()}"), "",
        "`recommender.catalog.types.derive_types` (method in its docstring), `min_products` = "
        f"{DEFAULT_MIN_PRODUCTS}. Made by `bench/product_types.py`; measures defined in its docstring.", "",
        "| catalog | products | with a type | types | real categories | hand-checked right | type word in category"
        " | purity |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(c for c, _ in results):
        f = results[name, "derive_types"]
        hand = "n/a"
        if name == RETAIL_NAME and judged:
            low, high = wilson(verdicts["right"], judged)
            hand = (f"{verdicts['right']} of {judged} typed: {pct(verdicts['right'] / judged)} (95 % CI {pct(low)}"
                    f" to {pct(high)}); {verdicts['none']} of {SAMPLE} untyped")
        lines.append(f"| {name} | {f.products:,} | {pct(f.coverage)} | {f.types:,} | {f.categories or 'none'} | {hand}"
                     f" | {pct(f.word_match)} | {pct(f.purity)} |")
    lines += ["", "Against the baselines (coverage / type word in category / purity):", "",
              "| catalog | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for name in dict.fromkeys(c for c, _ in results):
        cells = [f"{pct(r.coverage)} / {pct(r.word_match)} / {pct(r.purity)} ({r.types:,} types)"
                 for r in (results[name, m] for m in methods)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    wall, cpu = speed
    lines += ["", f"Speed: {SPEED_TITLES:,} titles (the three catalogs' titles, cycled) in {wall:.1f} s wall,"
              f" {cpu:.1f} s CPU (medians of 3; the machine is shared, see the load above)."]
    return lines


def detail_lines(retail: dict[str, str], retail_types: dict[str, str | None], sample: Sample, verdicts: Counter[str],
                 beauty_types: list[str | None]) -> list[str]:
    """The result's body: the largest types, the hand-checked sample, the IKEA note."""
    lines = ["", "![coverage and agreement against min_products](product_types.png)", "",
             f"## {RETAIL_NAME}: the 25 largest types", "", ATTRIBUTION, "",
             "| type | products | first title with it |", "|---|---|---|"]
    example: dict[str | None, str] = {}
    for code, t in retail_types.items():
        example.setdefault(t, retail[code])
    largest = Counter(t for t in retail_types.values() if t).most_common(25)
    lines += [f"| {t} | {n} | {example[t]} |" for t, n in largest]
    lines += ["", f"## {RETAIL_NAME}: hand-checked sample ({SAMPLE} products, `random.Random({SEED})`)", "",
              f"right {verdicts['right']}, wrong {verdicts['wrong']}, no type {verdicts['none']},"
              f" not judged {verdicts['not judged']}.", "", "| code | title | type | verdict |", "|---|---|---|---|"]
    lines += [f"| {code} | {title} | {t or '-'} | {v} |" for code, title, t, v in sample]
    lines += ["", "## Amazon Beauty: the 25 largest types (shipped titles)", "", "| type | products |", "|---|---|"]
    lines += [f"| {t} | {n} |" for t, n in Counter(t for t in beauty_types if t).most_common(25)]
    lines += ["", "IKEA UAE: figures only (the data has no licence; no title, row or type list is reproduced).", ""]
    return lines


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=Path(__file__).resolve().parents[2] / "shared" / "data", show_default=True,
              help="The shared data folder (online-retail-uk-gifts/, ikea-uae-home/).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("bench/results"),
              show_default=True)
def main(data: Path, out: Path) -> None:
    """Coverage, hand-checked accuracy and agreement of derived product types; writes product_types.md/.png."""
    retail = load_retail(data)
    ikea_titles, ikea_categories = load_ikea(data)
    beauty_titles, beauty_leaves = load_beauty()
    catalogs: dict[str, tuple[list[str | None], list[str | None] | None]] = {
        RETAIL_NAME: (list(retail.values()), None),
        "IKEA UAE": (ikea_titles, ikea_categories),
        "Amazon Beauty": (beauty_titles, beauty_leaves),
    }
    methods: dict[str, Callable[..., list[str | None]]] = {
        "last word": last_word_types, "position only": position_only_types, "derive_types": derive_types,
    }
    results = {(c, m): figures(fn(titles), cats) for c, (titles, cats) in catalogs.items() for m, fn in methods.items()}
    sweep = {c: [figures(derive_types(titles, min_products=k), cats) for k in SWEEP]
             for c, (titles, cats) in catalogs.items()}
    retail_types = dict(zip(retail, derive_types(list(retail.values()))))
    sample = hand_check(retail, retail_types)
    verdicts = Counter(v for *_, v in sample)
    speed = timed_100k([t for titles, _ in catalogs.values() for t in titles])

    summary = summary_lines(results, list(methods), verdicts, speed)
    details = detail_lines(retail, retail_types, sample, verdicts, derive_types(beauty_titles))
    out.mkdir(parents=True, exist_ok=True)
    (out / "product_types.md").write_text("\n".join(summary + details), encoding="utf-8")
    plot(sweep, out / "product_types.png")
    click.echo("\n".join(summary))
    for code, title, t, v in sample:
        click.echo(f"  {code:8} {title:42} -> {t or '-':24} {v}")
    click.echo(f"Wrote {out / 'product_types.md'} and {out / 'product_types.png'}")


if __name__ == "__main__":
    main()
