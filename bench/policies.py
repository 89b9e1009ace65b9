"""Answers from the shop's policy file (issue 21, item 2): is the right section found, and is a question
the file does not answer left unanswered? Asked of two kinds of shop.

Each shop has a policy file, its Chinese translation beside it, and shoppers' questions in English and
Chinese, each with the ``##`` section (English heading) of the file that answers it, or ``-`` when the
file does not:

- the demo shop: data/shop/policies.md and policies.zh.md, bench/data/policy_questions.tsv;
- Voltio, an electronics and home-appliance shop: bench/data/policies_electronics.md and
  policies_electronics.zh.md, bench/data/policy_questions_electronics.tsv.

English questions are asked of the English file, Chinese ones of its translation, and also of the
English file (a shop that wrote its policies in one language); a translation's sections are those of
the English file in the same order. For each shop, the assistant's way of answering (recommender/policies.py:
MiniLM, USE and e5 for English questions, USE and e5 for others) and each encoder alone in that way
(MiniLM, the Universal Sentence Encoder multilingual, multilingual-e5-small), and each relevance floor,
it prints: top-1 section accuracy on the answerable questions (an "I don't know" counts as wrong), the
share of unanswerable ones left unanswered, and the floor that maximises the lower of the two; and both at
the floor the assistant uses (``ENGLISH_FLOOR`` for English questions, ``MULTILINGUAL_FLOOR`` for others asked of
the translation, ``CROSS_LINGUAL_FLOOR`` asked of the English file).
Targets: >= 0.9 and >= 0.9, for both shops. It prints one table per shop and draws both shares against
the floor, one row of panels per shop.

Usage: .venv/bin/python bench/policies.py [--out bench/results/policies.md]
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from _common import load_average, machine_header  # bench/_common.py, next to this file
from recommender import config
from recommender.policies import (CROSS_LINGUAL_FLOOR, ENGLISH_FLOOR, MULTILINGUAL_FLOOR, Policies, Reader, readers,
                                  translation)
from recommender.text.encoder import TextEncoder
from recommender.text.multilingual import E5Encoder, MultilingualEncoder

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).parent / "data"
FLOORS = np.round(np.arange(0.20, 1.001, 0.005), 3)
ASSISTANT = "the assistant: MiniLM+USE+e5 (en), USE+e5 (zh)"
METHODS: dict[str, Callable[[str], list[Reader]]] = {  # a method's readers of a question in a language
    ASSISTANT: readers,
    "MiniLM alone": lambda language: [Reader(TextEncoder(), TextEncoder(), judges=True)],
    "USE alone": lambda language: [Reader(MultilingualEncoder(), MultilingualEncoder(), judges=True)],
    "e5 alone": lambda language: [Reader(E5Encoder(), E5Encoder(passages=True), judges=True)],
}


@dataclass(frozen=True)
class Shop:
    name: str
    kind: str
    policies: Path  # the English file; its Chinese translation beside it (``translation``)
    questions: Path


SHOPS = (Shop("The demo shop", "beauty products", config.SHIPPED_POLICIES, DATA / "policy_questions.tsv"),
         Shop("Voltio", "electronics and home appliances", DATA / "policies_electronics.md",
              DATA / "policy_questions_electronics.tsv"))


@dataclass(frozen=True)
class Asked:
    language: str
    question: str
    section: str | None  # None: the file does not answer it


def read_questions(path: Path) -> list[Asked]:
    with path.open(encoding="utf-8", newline="") as rows:
        return [Asked(r["language"], r["question"], None if r["section"] == "-" else r["section"])
                for r in csv.DictReader(rows, delimiter="\t")]


def found(policies: Policies, english: Policies, asked: list[Asked]) -> list[tuple[str | None, float]]:
    """(section, score) of the best section for each question, under its English heading."""
    heading = dict(zip((p.section for p in policies.passages), (p.section for p in english.passages)))
    out = []
    for a in asked:
        answer = policies.answer(a.question)
        out.append((heading.get(answer.section) if answer else None, answer.score if answer else -1.0))
    return out


def rates(results: list[tuple[str | None, float]], asked: list[Asked], floor: float) -> tuple[float, float]:
    """(accuracy on the answerable questions, share of the unanswerable ones left unanswered) at ``floor``."""
    right = [s == a.section and score >= floor for (s, score), a in zip(results, asked) if a.section]
    unknown = [score < floor for (_, score), a in zip(results, asked) if not a.section]
    return float(np.mean(right)), float(np.mean(unknown))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=RESULTS / "policies.md",
              show_default=True, help="the Markdown report (a figure is drawn beside it)")
def main(out: Path) -> None:
    """Section accuracy and "I don't know" rates of the policy answers, per shop, encoder and floor."""
    lines = [machine_header("Policy answers", f"load {load_average()}"), "",
             "Command: `.venv/bin/python bench/policies.py`. Accuracy: the right section, above the floor, among "
             "the answerable questions; unknown: the unanswerable questions below the floor. Best floor: the one "
             "with the highest lower of the two."]
    curves = {}
    with tempfile.TemporaryDirectory() as cache:
        for shop in SHOPS:
            asked = read_questions(shop.questions)
            source, chinese = shop.policies, translation(shop.policies, "zh")
            cases = {f"English -> {source.name}": ([a for a in asked if a.language == "en"], "en"),
                     f"Chinese -> {chinese.name}": ([a for a in asked if a.language == "zh"], "zh"),
                     f"Chinese -> {source.name}": ([a for a in asked if a.language == "zh"], "en")}
            lines += ["", f"## {shop.name} ({shop.kind}): {source.relative_to(config.REPO_ROOT)} and "
                      f"{chinese.relative_to(config.REPO_ROOT)}", "",
                      f"Questions: {shop.questions.relative_to(config.REPO_ROOT)} "
                      f"({sum(a.section is not None for a in asked)} answerable, "
                      f"{sum(a.section is None for a in asked)} not).", "",
                      "| method | questions -> file | top-1 accuracy (no floor) | best floor | accuracy | unknown "
                      "| the assistant's floor: accuracy / unknown | ms per question |",
                      "|---|---|---|---|---|---|---|---|"]
            for method, reading in METHODS.items():
                for case, (questions, language) in cases.items():  # language: the file's
                    asked_in = reading(questions[0].language)  # the readers of the questions' language
                    english = Policies.load_or_build(source, asked_in, Path(cache), floor=-1.0)
                    policies = Policies.load_or_build(translation(source, language), asked_in, Path(cache), floor=-1.0)
                    started = time.perf_counter()
                    results = found(policies, english, questions)
                    ms = (time.perf_counter() - started) * 1000 / len(questions)
                    table = [rates(results, questions, floor) for floor in FLOORS]
                    best = max(range(len(FLOORS)), key=lambda i: (min(table[i]), table[i][0]))
                    served = (ENGLISH_FLOOR if questions[0].language == "en" else
                              MULTILINGUAL_FLOOR if language == questions[0].language else CROSS_LINGUAL_FLOOR)
                    at_served = ("%.3f / %.3f at %.3f" % (*rates(results, questions, served), served)
                                 if method == ASSISTANT else "-")
                    lines.append(f"| {method} | {case} "
                                 f"| {rates(results, questions, -1.0)[0]:.3f} | {FLOORS[best]:.3f} "
                                 f"| {table[best][0]:.3f} | {table[best][1]:.3f} | {at_served} | {ms:.1f} |")
                    curves[(shop.name, method, case)] = table
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    click.echo("\n".join(lines))
    draw(curves, out.with_suffix(".png"))
    click.echo(f"wrote {out} and {out.with_suffix('.png')}")


def draw(curves: dict[tuple[str, str, str], list[tuple[float, float]]], path: Path) -> None:
    """Accuracy and unknown share against the floor: one row of panels per shop, one column per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shops = list(dict.fromkeys(shop for shop, _, _ in curves))
    methods = list(dict.fromkeys(name for _, name, _ in curves))
    fig, axes = plt.subplots(len(shops), len(methods), figsize=(5 * len(methods), 4 * len(shops)), sharey=True,
                             squeeze=False)
    for row, shop in zip(axes, shops):
        for ax, name in zip(row, methods):
            for (owner, encoder, case), table in curves.items():
                if (owner, encoder) == (shop, name):
                    line, = ax.plot(FLOORS, [t[0] for t in table], label=f"{case}: accuracy")
                    ax.plot(FLOORS, [t[1] for t in table], linestyle="--", color=line.get_color(),
                            label=f"{case}: unknown")
            ax.axhline(0.9, color="grey", linewidth=0.8)
            ax.set(title=f"{shop}: {name}", xlabel="confidence floor", ylim=(0, 1.02))
        row[0].set_ylabel("share of questions")
        row[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
