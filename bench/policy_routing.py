"""Policy questions through the whole assistant (issue 21, item 2): the trained NLU reads each of
bench/policies.py's questions, and the action its intent leads to answers it, or not. bench/policies.py
measures the policy file's answers alone, as if every question reached them; here a question reaches them
only through an intent whose action tries the file: ask_policy always; out_of_scope and nlu_fallback ("not
understood") since their actions try the file before their own reply (``answered_from_policies``). "before":
ask_policy alone, as the assistant was; "now": all three.

Each question of both shops (the demo shop's file and Voltio's, English questions asked of the English file and
Chinese ones of its translation, as in bench/policies.py) is parsed by the set-up's Rasa model and, when its
intent is one of those three, given to that action (the real one, on the shop's file: SHOPBOT_POLICIES) with the
question's language in the slot. An answerable question ends as: the right section quoted; another section
quoted; not answered from the file although its action tried ("I don't know", or the action's own reply); taken by
another of the assistant's skills about the shopper's own orders, data or a person (``SKILLS``: "can I cancel my
order" -> cancel_order; its answer is about their order, not the file, and is not counted right); or read as
something else (a product search, ...), the file never tried. An unanswerable question is either answered from the
file (wrong) or not. So is each message the NLU is taught as out of scope (data/nlu/out_of_scope.yml) or held
out as such (tests/nlu_heldout_zh/out_of_scope.txt): a quote from the file is a wrong answer there
(``recommender.policies.UNPLACED_MARGIN`` keeps them few).

Usage: .venv/bin/python bench/policy_routing.py [--out bench/results/policy_routing.md]   (set up first: make setup)
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import click
import yaml

from _common import load_average, machine_header, parse_all  # bench/_common.py, next to this file
from policies import SHOPS, Asked, Shop, read_questions  # bench/policies.py: its shops and questions
from bot.build import model_path
from recommender import config
from recommender.i18n.detect import HAN
from recommender.policies import UNPLACED_MARGIN, split_passages, translation

RESULTS = Path(__file__).parent / "results"
POLICY_INTENT, UNPLACED = ("ask_policy",), ("out_of_scope", "nlu_fallback")
# (name, the intents whose actions try the file, the margin the unplaced ones need above the floor)
WAYS = (("before", POLICY_INTENT, UNPLACED_MARGIN), ("now, no margin", POLICY_INTENT + UNPLACED, 0.0),
        (f"now (margin {UNPLACED_MARGIN})", POLICY_INTENT + UNPLACED, UNPLACED_MARGIN))
SKILLS = ("order_status", "return_item", "cancel_order", "human_handoff", "forget_me", "my_data")
SHORT = {"The demo shop": "demo"}  # a shop's name under its bars
OUTCOMES = ("right section", "wrong section", "not answered", "another skill", "read as something else")
OUT_OF_SCOPE = (config.REPO_ROOT / "data" / "nlu" / "out_of_scope.yml",
                config.REPO_ROOT / "tests" / "nlu_heldout_zh" / "out_of_scope.txt")


def quoted(intent: str, text: str, language: str) -> str | None:
    """The section (as headed in the file asked) that the action of ``intent`` quotes for ``text``, or None."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.account import ActionClarify
    from actions.policies import ActionAnswerPolicy
    from actions.shop import ActionOutOfScope

    action = {"ask_policy": ActionAnswerPolicy, "out_of_scope": ActionOutOfScope, "nlu_fallback": ActionClarify}[intent]
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": [], "intent_ranking": []}
    dispatcher = CollectingDispatcher()
    action().run(dispatcher, Tracker("bench", {"language": language}, latest, [], False, None, {}, "action_listen"), {})
    return next((m["section"] for m in dispatcher.messages if m.get("response") == "utter_policy_answer"), None)


def out_of_scope() -> list[Asked]:
    """The messages the NLU is taught, or held out, as out of scope (``OUT_OF_SCOPE``), in their language."""
    taught, held_out = OUT_OF_SCOPE
    texts = [line[2:].strip() for item in yaml.safe_load(taught.read_text(encoding="utf-8"))["nlu"]
             if item.get("intent") == "out_of_scope" for line in item["examples"].splitlines() if line.startswith("- ")]
    texts += [line.strip() for line in held_out.read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")]
    return [Asked("zh" if HAN.search(text) else "en", text, None) for text in dict.fromkeys(texts)]


@dataclass(frozen=True)
class Result:
    asked: Asked
    intent: str
    section: str | None  # the English heading of the section quoted when the action tried the file, or None


def ask_shop(shop: Shop, asked: list[Asked], intents: list[str], margin: float) -> list[Result]:
    """Each question, read as its intent, answered by that intent's action when the action tries the shop's file
    (an unplaced one above the floor by ``margin``)."""
    from actions import policies, services

    policies.UNPLACED_MARGIN = margin  # what the actions read: only the bench varies it
    os.environ["SHOPBOT_POLICIES"] = str(shop.policies)
    services.use()  # the policies of this shop's file
    english = [p.section for p in split_passages(shop.policies.read_text(encoding="utf-8"))]
    heading = {language: dict(zip((p.section for p in split_passages(
        translation(shop.policies, language).read_text(encoding="utf-8"))), english)) for language in ("en", "zh")}
    results = []
    for a, intent in zip(asked, intents):
        section = quoted(intent, a.question, a.language) if intent in POLICY_INTENT + UNPLACED else None
        results.append(Result(a, intent, heading[a.language].get(section) if section else None))
    return results


def outcome(result: Result, tried: tuple[str, ...]) -> str:
    """What became of an answerable question when the intents ``tried`` are those whose actions try the file."""
    if result.intent in tried:
        if result.section is None:
            return "not answered"
        return "right section" if result.section == result.asked.section else "wrong section"
    return "another skill" if result.intent in SKILLS else "read as something else"


Results = dict[tuple[str, str, float], list[Result]]  # (shop, language, margin) -> each question's result


def table(results: Results) -> list[str]:
    """One row per shop, language and way: the answerable questions' outcomes, and the unanswerable answered."""
    lines = ["| shop | questions | way | " + " | ".join(OUTCOMES) + " | unanswerable answered from the file |",
             "|---|---|---|" + "---|" * len(OUTCOMES) + "---|"]
    for shop, language in dict.fromkeys((shop, language) for shop, language, _ in results):
        for way, tried, margin in WAYS:
            answerable = [r for r in results[(shop, language, margin)] if r.asked.section]
            unanswerable = [r for r in results[(shop, language, margin)] if not r.asked.section]
            counts = Counter(outcome(r, tried) for r in answerable)
            wrong = sum(r.intent in tried and r.section is not None for r in unanswerable)
            lines.append(f"| {shop} | {language} ({len(answerable)} + {len(unanswerable)}) | {way} | "
                         + " | ".join(f"{counts[o] / len(answerable):.3f}" for o in OUTCOMES)
                         + f" | {wrong / len(unanswerable):.3f} ({wrong}) |")
    return lines


def intents_of_the_rest(results: Results) -> str:
    """The intents answerable questions were read as when no policy-trying action got them, most frequent first."""
    rest = Counter(r.intent for (_, _, margin), shop_results in results.items() if margin == UNPLACED_MARGIN
                   for r in shop_results if r.asked.section and outcome(r, WAYS[-1][1]) == "read as something else")
    return ", ".join(f"{intent} {n}" for intent, n in rest.most_common())


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=RESULTS / "policy_routing.md",
              show_default=True, help="the Markdown report (a figure is drawn beside it)")
def main(out: Path) -> None:
    """Policy questions through the trained NLU and the actions it leads to: answered right, or where they went."""
    asked = {shop.name: read_questions(shop.questions) for shop in SHOPS}
    unrelated = out_of_scope()
    parsed = [p["intent"]["name"] for p in parse_all(model_path(), [a.question for a in unrelated]
                                                     + [a.question for shop in SHOPS for a in asked[shop.name]])]
    unrelated_intents, parsed = parsed[:len(unrelated)], iter(parsed[len(unrelated):])
    results: Results = {}
    answered: dict[tuple[str, float], list[Result]] = {}  # out-of-scope messages answered from the file
    for shop in SHOPS:
        intents = [next(parsed) for _ in asked[shop.name]]
        for margin in (0.0, UNPLACED_MARGIN):
            shop_results = ask_shop(shop, asked[shop.name], intents, margin)
            for language in ("en", "zh"):
                results[(shop.name, language, margin)] = [r for r in shop_results if r.asked.language == language]
            answered[(shop.name, margin)] = [r for r in ask_shop(shop, unrelated, unrelated_intents, margin)
                                             if r.section]
        print(f"asked {shop.name}'s {len(intents)} questions", file=sys.stderr, flush=True)
    tried = sum(intent in UNPLACED for intent in unrelated_intents)
    lines = [machine_header("Policy questions through the assistant", f"load {load_average()}"), "",
             "Command: `.venv/bin/python bench/policy_routing.py` (the model of `make setup`). Shares of the "
             "answerable questions by what became of them; questions: answerable + unanswerable. before: only "
             "ask_policy's action tries the policy file; now: out_of_scope's and nlu_fallback's too, above the floor "
             "by a margin (the module docstring says more).", "", *table(results), "",
             "Intents of the answerable questions read as something else (now): " + intents_of_the_rest(results), "",
             f"Out-of-scope messages ({len(unrelated)}: "
             f"{', '.join(str(f.relative_to(config.REPO_ROOT)) for f in OUT_OF_SCOPE)}), {tried} of them read as "
             "out_of_scope or nlu_fallback; answered from a shop's file (before: none):",
             *(f"- {shop}, margin {margin}: {len(hits)} ({len(hits) / len(unrelated):.3f}): "
               + "; ".join(f'"{r.asked.question}" -> {r.section}' for r in hits)
               for (shop, margin), hits in answered.items())]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    click.echo("\n".join(lines))
    draw(results, out.with_suffix(".png"))
    click.echo(f"wrote {out} and {out.with_suffix('.png')}")


def draw(results: Results, path: Path) -> None:
    """One stacked bar per shop, language and way: the answerable questions' outcomes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, shares = [], []
    for shop, language in dict.fromkeys((shop, language) for shop, language, _ in results):
        for way, tried, margin in WAYS:
            answerable = [r for r in results[(shop, language, margin)] if r.asked.section]
            counts = Counter(outcome(r, tried) for r in answerable)
            labels.append(f"{SHORT.get(shop, shop)} {language}\n{way.replace(' (', chr(10) + '(')}")
            shares.append([counts[o] / len(answerable) for o in OUTCOMES])
    fig, ax = plt.subplots(figsize=(14, 5))
    bottom = [0.0] * len(labels)
    for i, name in enumerate(OUTCOMES):
        column = [s[i] for s in shares]
        ax.bar(labels, column, bottom=bottom, label=name)
        bottom = [b + c for b, c in zip(bottom, column)]
    ax.axhline(0.9, color="grey", linewidth=0.8)
    ax.set(ylabel="share of the answerable questions", ylim=(0, 1),
           title="Policy questions through the assistant's NLU: what became of them")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
