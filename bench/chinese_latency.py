"""A Chinese turn against an English one over REST, in the same run (issue 23: median <= 1.2x).

Starts the assistant as bench/rest_latency.py does (action server and `rasa run` on free local ports,
a temporary shopper store and conversations file), warms it up, then runs twin conversations one at
a time, English and Chinese alternating: for each shopping need of rest_latency's ``SHOPPING`` (a kind
of product, a brand, a budget), "show me shampoo under $10" -> "only Suave" -> "show me more" ->
"tell me about the second one" -> "add the first one to my cart" -> "what's in my cart?", and the same
six turns in Chinese ("10美元以下的洗发水" -> "只要Suave的" -> ...; the product names are the shipped
category aliases, the brands as the catalog writes them). Each turn is timed from the client's send
to the last reply. So that the two languages are seen doing the same work, the table also gives the
share of search, refine and "more" turns whose reply lists products.

Usage: .venv/bin/python bench/chinese_latency.py [--rounds 2] [--out bench/results/chinese_latency.md]
       (run `shopbot setup` first)
"""

from __future__ import annotations

import random
import re
import statistics
import time
from collections import defaultdict
from pathlib import Path

import click

from _common import load_average, machine_header, p95  # bench/_common.py, next to this file
from rest_latency import SHOPPING, Turn, state_apart, warm_up

RESULTS = Path(__file__).parent / "results"
CHINESE = {"shampoo": "洗发水", "mascara": "睫毛膏", "lipstick": "口红", "nail polish": "指甲油", "foundation": "粉底液",
           "eye shadow": "眼影", "conditioner": "护发素", "eyeliner": "眼线笔"}  # the shipped category aliases
LISTING = ("search", "refine", "more")  # turns whose reply should list products


def twins(n: int) -> tuple[list[Turn], list[Turn]]:
    """The n-th shopping need as an English conversation and its Chinese twin."""
    word, brand, budget = SHOPPING[n % len(SHOPPING)]
    english = [("search", f"show me {word} under ${budget}"), ("refine", f"only {brand}"), ("more", "show me more"),
               ("details", "tell me about the second one"), ("cart", "add the first one to my cart"),
               ("cart", "what's in my cart?")]
    chinese = [("search", f"{budget}美元以下的{CHINESE[word]}"), ("refine", f"只要{brand}的"), ("more", "再给我看看更多"),
               ("details", "介绍一下第二个"), ("cart", "把第一个加入购物车"), ("cart", "我的购物车里有什么")]
    return english, chinese


def converse(url: str, sender: str, turns: list[Turn]) -> list[tuple[str, float, bool]]:
    """(kind, milliseconds, whether the reply lists products) of each turn, in order."""
    from bot.servers import post_message

    out = []
    for kind, text in turns:
        started = time.perf_counter()
        replies = post_message(url, sender, text, timeout=120)
        ms = (time.perf_counter() - started) * 1000
        out.append((kind, ms, any(re.search(r"\n\d+\. ", r.get("text") or "") for r in replies)))
    return out


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--rounds", type=click.IntRange(1, 20), default=2, show_default=True,
              help="Times every shopping need is run in each language.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=RESULTS / "chinese_latency.md",
              show_default=True, help="Write the results as Markdown to this file.")
def main(rounds: int, out: Path) -> None:
    """Time twin English and Chinese REST conversations, one at a time, and print their medians.

    Example: .venv/bin/python bench/chinese_latency.py --rounds 1 --out /tmp/chinese_latency.md
    """
    from bot import build
    from bot.servers import Assistant

    load, started = load_average(), time.perf_counter()
    samples: dict[str, list[tuple[str, float, bool]]] = defaultdict(list)
    with state_apart() as folder, Assistant(build.model_path(), log_dir=folder / "servers") as bot:
        warm_up(bot.rest_url, 3)
        for language, turns in zip(("English", "Chinese"), twins(0)):  # the first of each: not counted
            converse(bot.rest_url, f"bench-warm-{language}", turns)
        order = [(r, n) for r in range(rounds) for n in range(len(SHOPPING))]
        random.Random(7).shuffle(order)
        for r, n in order:
            for language, turns in zip(("English", "Chinese"), twins(n)):
                samples[language] += converse(bot.rest_url, f"bench-{language}-{r}-{n}", turns)
    median = {language: statistics.median(ms for _, ms, _ in turns) for language, turns in samples.items()}
    lines = [machine_header("A Chinese turn against an English one, over REST"), "",
             f"`bench/chinese_latency.py --rounds {rounds}` (issue 23; method in its docstring). "
             f"Load average at start: {load}.", "",
             "| turns | n | p50 ms | p95 ms | search, refine, more listing products |", "|---|---|---|---|---|"]
    for language, turns in samples.items():
        listed = [shown for kind, _, shown in turns if kind in LISTING]
        lines.append(f"| {language} | {len(turns)} | {median[language]:.0f} | {p95([ms for _, ms, _ in turns]):.0f} "
                     f"| {sum(listed)} of {len(listed)} |")
    lines += ["", "Per kind of turn (p50 ms, English / Chinese): " + ", ".join(
        f"{kind} {statistics.median(ms for k, ms, _ in samples['English'] if k == kind):.0f} / "
        f"{statistics.median(ms for k, ms, _ in samples['Chinese'] if k == kind):.0f}"
        for kind in dict.fromkeys(k for k, _, _ in samples["English"])) + ".", "",
        f"Chinese / English median: **{median['Chinese'] / median['English']:.2f}x** (target <= 1.2x). "
        f"Whole command: {time.perf_counter() - started:.0f} s."]
    click.echo("\n".join(lines))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
