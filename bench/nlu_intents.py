"""The intent model on shoppers of any kind of store: cross-validation, then held-out messages.

The intent is decided by one path of config.yml's pipeline (WhitespaceTokenizer, RegexFeaturizer,
MiniLMFeaturizer and MultilingualFeaturizer (twice: USE and e5) with their stand-ins,
LogisticIntentClassifier, FallbackClassifier; DIET there tags entities only). This script takes
exactly those steps, with their settings, out of config.yml (no copy to drift) and runs them through Rasa's component API (create, train, process, as Rasa's
training graph calls them):

- (a) 5-fold stratified cross-validation on data/nlu: intent F1 (weighted over the intents, the
  intent after the fallback as the assistant acts on it, so nlu_fallback counts as wrong) per
  fold, mean and spread, over the English test examples and apart over the Chinese ones, and the
  most frequent English errors;
- (b) the same path trained on all of data/nlu, then the held-out messages of tests/nlu_heldout/
  (never training data): per store type the share of product requests recognised as one
  (search_products, refine_search, recommend, similar_products), and the share of non-shopping
  messages taken for one;
- (c) the same trained path on the held-out Chinese messages of tests/nlu_heldout_zh/ (one file per
  intent, never training data): intent accuracy per intent and over all (issue 23).

The messages are tokenized and featurized once: what the featurizers keep from training (the
regex patterns, the lookup names of the stand-ins) comes from the lookup tables and regexes, which
every fold keeps whole, so only the intent classifier is trained per fold (its grid search over C
is most of the time); numpy's global generator is seeded before each training so that a run can be
repeated. Nothing is written outside a temporary folder.

Targets (issue 16): CV intent F1 >= 0.92; >= 0.95 of the held-out product requests recognised;
<= 0.05 of non-shopping messages taken for a product request. Issue 23: Chinese intent accuracy >= 0.92.

Usage: .venv/bin/python bench/nlu_intents.py [--folds 5] [--out bench/results/nlu_intents.md]
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np
import yaml

from _common import load_average, machine_header  # bench/_common.py, next to this file
from bot.servers import RASA_ENV
from recommender import config
from recommender.i18n.detect import HAN

NLU_DIR = config.REPO_ROOT / "data" / "nlu"
HELDOUT_DIR = config.REPO_ROOT / "tests" / "nlu_heldout"
CHINESE_DIR = config.REPO_ROOT / "tests" / "nlu_heldout_zh"  # one file per intent
NON_SHOPPING = "non_shopping"
# The components of config.yml that decide the intent, in pipeline order.
FEATURIZERS = ("WhitespaceTokenizer", "RegexFeaturizer", "bot.minilm_featurizer.MiniLMFeaturizer",
               "bot.multilingual_featurizer.MultilingualFeaturizer")
CLASSIFIERS = ("bot.intent_classifier.LogisticIntentClassifier", "FallbackClassifier")
INTENT_PATH = FEATURIZERS + CLASSIFIERS
PRODUCT_INTENTS = frozenset({"search_products", "refine_search", "recommend", "similar_products"})
SEED = 0


def intent_path_steps(path: Path = config.REPO_ROOT / "config.yml") -> list[tuple[str, dict[str, Any]]]:
    """(component name, its settings in config.yml) of the intent path's steps, in pipeline order
    (a component may be there more than once, with other settings)."""
    pipeline = yaml.safe_load(path.read_text(encoding="utf-8"))["pipeline"]
    steps = [(step["name"], {k: v for k, v in step.items() if k != "name"}) for step in pipeline
             if step["name"] in INTENT_PATH]
    missing = set(INTENT_PATH) - {name for name, _ in steps}
    if missing:
        raise click.ClickException(f"{path}: no {', '.join(sorted(missing))} in the pipeline")
    return steps


def read_heldout(folder: Path = HELDOUT_DIR) -> dict[str, list[str]]:
    """File stem -> its messages (one a line; blank lines and `#` comments skipped)."""
    sets = read_lines(folder)
    if NON_SHOPPING not in sets or len(sets) < 2:
        raise click.ClickException(f"{folder}: expected {NON_SHOPPING}.txt and at least one store's file")
    return sets


def read_lines(folder: Path) -> dict[str, list[str]]:
    """File stem -> the messages of folder/<stem>.txt (one a line; blank lines and `#` comments skipped)."""
    sets = {}
    for path in sorted(folder.glob("*.txt")):
        lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
        sets[path.stem] = [line for line in lines if line and not line.startswith("#")]
    return sets


def read_training_data():
    """data/nlu as Rasa reads it."""
    from rasa.shared.importers.importer import TrainingDataImporter

    return TrainingDataImporter.load_from_dict(training_data_paths=[str(NLU_DIR)]).get_nlu_data()


class IntentPath:
    """The intent path's components, created, trained and loaded as Rasa's graph does, under a folder."""

    def __init__(self, steps: list[tuple[str, dict[str, Any]]], folder: Path) -> None:
        from rasa.engine.graph import ExecutionContext, GraphSchema
        from rasa.engine.storage.local_model_storage import LocalModelStorage

        self.steps = steps
        self.storage = LocalModelStorage(folder)
        self.context = ExecutionContext(GraphSchema({}), "nlu-intents")
        self.created = 0
        self.featurizers: list = []

    def component(self, name: str, step: dict[str, Any], data=None):
        """Component `name` with a step's settings of config.yml over its defaults: created, and when it
        is trainable trained on `data` and loaded from what it stored (Rasa runs the loaded one)."""
        from rasa.engine.recipes.default_recipe import DefaultV1Recipe
        from rasa.engine.storage.resource import Resource
        from rasa.utils.common import override_defaults

        registered = DefaultV1Recipe._from_registry(name)  # how Rasa's default recipe resolves a name
        settings = override_defaults(registered.clazz.get_default_config(), step)
        self.created += 1
        resource = Resource(f"{name}-{self.created}")
        component = registered.clazz.create(settings, self.storage, resource, self.context)
        if registered.is_trainable:
            component.train(data)
            component = registered.clazz.load(settings, self.storage, resource, self.context)
        return component

    def featurize_training_data(self, data) -> None:
        """Tokens and features for every training example, by featurizers trained on all of them."""
        self.featurizers = []
        for name, step in self.steps:
            if name not in FEATURIZERS:
                continue
            component = self.component(name, step, data)
            component.process_training_data(data)
            self.featurizers.append(component)

    def train_classifier(self, examples: Sequence) -> list:
        """The intent classifier trained on featurized examples, and the fallback after it."""
        from rasa.shared.nlu.training_data.training_data import TrainingData

        np.random.seed(SEED)
        data = TrainingData(training_examples=list(examples))
        return [self.component(name, step, data) for name, step in self.steps if name in CLASSIFIERS]

    def intents(self, classifiers: list, messages: Sequence) -> list[str]:
        """The intent of each message (featurized copies of training examples, or new texts), after the
        fallback; the examples themselves keep their labels."""
        from rasa.shared.nlu.constants import TEXT
        from rasa.shared.nlu.training_data.message import Message

        if messages and isinstance(messages[0], str):
            fresh = [Message(data={TEXT: text}) for text in messages]
            for component in self.featurizers:
                component.process(fresh)
        else:
            fresh = [Message(data={TEXT: m.get(TEXT)}, features=list(m.features)) for m in messages]
        for component in classifiers:
            component.process(fresh)
        return [m.get("intent")["name"] for m in fresh]


def folds(examples: Sequence, n: int) -> Iterator[tuple[list, list]]:
    """(train, test) examples per stratified fold."""
    from sklearn.model_selection import StratifiedKFold

    labels = [m.get("intent") for m in examples]
    for train, test in StratifiedKFold(n_splits=n, shuffle=True, random_state=SEED).split(examples, labels):
        yield [examples[i] for i in train], [examples[i] for i in test]


def product_share(intents: Sequence[str]) -> float:
    return sum(i in PRODUCT_INTENTS for i in intents) / len(intents)


def report(command: str, seconds: float, fold_f1: list[float], fold_f1_zh: list[float], confusions: Counter,
           n_tested: int,
           n_examples: int, heldout: dict[str, list[str]], predicted: dict[str, list[str]],
           chinese: dict[str, list[str]], chinese_predicted: dict[str, list[str]]) -> str:
    """The Markdown result."""
    stores = [name for name in heldout if name != NON_SHOPPING]
    lines = [machine_header("NLU intents: cross-validation and held-out messages of any store",
                            f"load {load_average()}"), "",
             f"Command: `{command}` ({seconds / 60:.1f} min). The intent path of config.yml "
             f"({', '.join(INTENT_PATH)}) through Rasa's component API; product request = "
             f"{', '.join(sorted(PRODUCT_INTENTS))}.", ""]
    if fold_f1:
        mean, spread = statistics.mean(fold_f1), statistics.stdev(fold_f1) if len(fold_f1) > 1 else 0.0
        fallback = sum(n for (_, guess), n in confusions.items() if guess == "nlu_fallback") / n_tested
        lines += [f"## (a) {len(fold_f1)}-fold cross-validation on data/nlu ({n_examples} examples)", "",
                  "Trained on the folds' examples of every language; F1 over the test examples in English (the "
                  "in-domain target) and, apart, over those in Chinese (Han characters).", "",
                  "| test examples | intent F1 (weighted) | per fold |", "|---|---|---|",
                  f"| English | **{mean:.3f}** ± {spread:.3f} (target >= 0.92) | "
                  f"{' / '.join(f'{f:.3f}' for f in fold_f1)} |",
                  f"| Chinese | {statistics.mean(fold_f1_zh):.3f} | {' / '.join(f'{f:.3f}' for f in fold_f1_zh)} |", "",
                  f"English test messages taken for nlu_fallback: {fallback:.1%}. Most frequent English errors "
                  "(intent -> predicted: test messages): " + ", ".join(
                      f"{truth} -> {guess}: {n}" for (truth, guess), n in confusions.most_common(12)) + ".", ""]
    lines += ["## (b) trained on all of data/nlu, held-out messages (tests/nlu_heldout/)", "",
              "| set | messages | taken for a product request | target |", "|---|---|---|---|"]
    for name in stores:
        lines.append(f"| {name} | {len(heldout[name])} | {product_share(predicted[name]):.3f} | |")
    everything = [i for name in stores for i in predicted[name]]
    lines.append(f"| **all store types** | {len(everything)} | **{product_share(everything):.3f}** | >= 0.95 |")
    lines.append(f"| **{NON_SHOPPING}** | {len(heldout[NON_SHOPPING])} | "
                 f"**{product_share(predicted[NON_SHOPPING]):.3f}** | <= 0.05 |")
    lines += ["", "Misses (message -> intent):", ""]
    for name in heldout:
        wrong = [(text, intent) for text, intent in zip(heldout[name], predicted[name])
                 if (intent in PRODUCT_INTENTS) == (name == NON_SHOPPING)]
        if wrong:
            lines.append(f"- {name}: " + "; ".join(f"\"{text}\" -> {intent}" for text, intent in wrong))
    return "\n".join(lines + chinese_report(chinese, chinese_predicted)) + "\n"


def chinese_report(messages: dict[str, list[str]], predicted: dict[str, list[str]]) -> list[str]:
    """Section (c): intent accuracy on the held-out Chinese messages, per intent and over all, and the misses."""
    right = {intent: sum(p == intent for p in predicted[intent]) for intent in messages}
    total = sum(len(texts) for texts in messages.values())
    lines = ["", "## (c) trained on all of data/nlu, held-out Chinese messages (tests/nlu_heldout_zh/)", "",
             f"Intent accuracy over {total} messages of {len(messages)} intents: "
             f"**{sum(right.values()) / total:.3f}** (target >= 0.92).", "",
             "| intent | messages | right | misses (message -> intent) |", "|---|---|---|---|"]
    for intent, texts in messages.items():
        wrong = "; ".join(f"{text} -> {guess}" for text, guess in zip(texts, predicted[intent]) if guess != intent)
        lines.append(f"| {intent} | {len(texts)} | {right[intent] / len(texts):.2f} | {wrong} |")
    return lines


@click.command()
@click.option("--folds", "n_folds", default=5, show_default=True, help="cross-validation folds (0: skip)")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench/results/nlu_intents.md"),
              show_default=True)
def main(n_folds: int, out: Path) -> None:
    """Cross-validate the intent path on data/nlu, then measure it on tests/nlu_heldout/."""
    from sklearn.metrics import f1_score

    start = time.perf_counter()
    heldout = read_heldout()
    data = read_training_data()
    examples = data.intent_examples
    with tempfile.TemporaryDirectory(prefix="nlu-intents-") as tmp:
        path = IntentPath(intent_path_steps(), Path(tmp))
        path.featurize_training_data(data)
        click.echo(f"featurized {len(examples)} examples ({time.perf_counter() - start:.0f} s)", err=True)
        fold_f1, fold_f1_zh, confusions, tested = [], [], Counter(), 0
        for i, (train, test) in enumerate(folds(examples, n_folds) if n_folds else ()):
            truth = [m.get("intent") for m in test]
            guess = path.intents(path.train_classifier(train), test)
            chinese = [bool(HAN.search(m.get("text"))) for m in test]
            for scores, wanted in ((fold_f1, False), (fold_f1_zh, True)):
                pairs = [(t, g) for t, g, zh in zip(truth, guess, chinese) if zh == wanted]
                scores.append(f1_score(*zip(*pairs), average="weighted", zero_division=0))
            confusions.update((t, g) for t, g, zh in zip(truth, guess, chinese) if t != g and not zh)
            tested += chinese.count(False)
            click.echo(f"fold {i + 1}/{n_folds}: intent F1 {fold_f1[-1]:.3f}, Chinese {fold_f1_zh[-1]:.3f} "
                       f"({time.perf_counter() - start:.0f} s)", err=True)
        classifiers = path.train_classifier(examples)
        predicted = {name: path.intents(classifiers, texts) for name, texts in heldout.items()}
        chinese = read_lines(CHINESE_DIR)
        chinese_predicted = {intent: path.intents(classifiers, texts) for intent, texts in chinese.items()}
    seconds = time.perf_counter() - start
    command = ".venv/bin/python bench/nlu_intents.py" + (f" --folds {n_folds}" if n_folds != 5 else "")
    text = report(command, seconds, fold_f1, fold_f1_zh, confusions, tested, len(examples), heldout, predicted,
                  chinese, chinese_predicted)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    click.echo(text)


if __name__ == "__main__":
    os.environ.update({k: v for k, v in RASA_ENV.items() if k not in os.environ})
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    sys.exit(main())
