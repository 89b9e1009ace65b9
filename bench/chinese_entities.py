"""The filters Chinese messages set (issue 23): category, brand and price recall on held-out messages.

tests/nlu_heldout_zh/entities.tsv holds Chinese shopper messages never used in training, each with the
category, brand and price bounds it names (category and brand as the shipped catalog writes them). Each
message is parsed by the trained model (models/shopbot.tar.gz, as the Rasa server parses it) and its
filters are derived as the search action derives them (``actions.search.requested_filters`` and
``build_filters``: the NLU's entities, then the shop's Chinese aliases and the catalog's brands found
in the words). Recall: the share of the named values the filters hold; wrong: the share of messages
with a filter the message does not name or another value. Target (issue 23): recall >= 0.90 for each.

Usage: .venv/bin/python bench/chinese_entities.py [--out bench/results/chinese_entities.md]
       (run `shopbot setup` first: it trains the model and builds the shipped catalog)
"""

from __future__ import annotations

import csv
from pathlib import Path

import click

from _common import load_average, machine_header, parse_all  # bench/_common.py, next to this file
from bot.build import model_path
from recommender import config

RESULTS = Path(__file__).parent / "results"
MESSAGES = config.REPO_ROOT / "tests" / "nlu_heldout_zh" / "entities.tsv"
FIELDS = ("category", "brand", "price_min", "price_max")


def read_messages(path: Path = MESSAGES) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as rows:
        return list(csv.DictReader(rows, delimiter="\t"))


def derived_filters(parses: list[dict], catalog_path: Path) -> list[dict[str, object]]:
    """The filters the search action derives from each parse (empty slots: a first message)."""
    from rasa_sdk import Tracker

    from actions import slots
    from actions.search import build_filters, requested_filters
    from actions.vocabulary import Vocabulary
    from recommender import Catalog

    with Catalog.open(catalog_path) as catalog:
        vocabulary = Vocabulary.from_catalog(catalog)
    empty = {name: None for name in (*slots.FILTERS, slots.QUERY)}
    out = []
    for parse in parses:
        tracker = Tracker("bench", dict(empty), parse, [], False, None, {}, "action_listen")
        filters = build_filters(requested_filters(tracker, vocabulary, {}), vocabulary)
        out.append({"category": filters.category, "brand": filters.brand,
                    "price_min": filters.price_min, "price_max": filters.price_max})
    return out


def expected(row: dict[str, str], field: str) -> object:
    value = row[field].strip()
    return (float(value) if field.startswith("price") else value) if value else None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=RESULTS / "chinese_entities.md",
              show_default=True, help="the Markdown report")
def main(out: Path) -> None:
    """Category, brand and price recall of held-out Chinese messages, as the search action reads them."""
    rows = read_messages()
    found = derived_filters(parse_all(model_path(), [r["text"] for r in rows]), config.catalog_path())
    lines = [machine_header("Filters from held-out Chinese messages", f"load {load_average()}"), "",
             "Command: `.venv/bin/python bench/chinese_entities.py`. Messages: "
             f"{MESSAGES.relative_to(config.REPO_ROOT)} ({len(rows)}, never training data); model: "
             "models/shopbot.tar.gz; filters as the search action derives them on the shipped catalog.", "",
             "| filter | messages naming it | recall | messages with a wrong or extra value |",
             "|---|---|---|---|"]
    misses = []
    for field in FIELDS:
        named = [(expected(row, field), filters[field], row["text"]) for row, filters in zip(rows, found)]
        asked = [(want, got, text) for want, got, text in named if want is not None]
        right = sum(want == got for want, got, _ in asked)
        wrong = sum(got is not None and got != want for want, got, _ in named)
        lines.append(f"| {field} | {len(asked)} | {right / len(asked):.3f} ({right}/{len(asked)}) "
                     f"| {wrong} of {len(rows)} |")
        misses += [f"- {field}: \"{text}\" -> {got!r} (named {want!r})" for want, got, text in named if got != want]
    lines += ["", f"Every miss ({len(misses)}):", "", *misses]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
