"""The intent model on shoppers of any kind of store: cross-validation, then held-out messages.

The intent is decided by one path of config.yml's pipeline (WhitespaceTokenizer, RegexFeaturizer,
MiniLMFeaturizer with its stand-ins, SklearnIntentClassifier, FallbackClassifier; DIET there tags
entities only). This script takes exactly those components, with their settings, out of config.yml
(no copy to drift) and trains them with Rasa's own training (`rasa.model_training.train_nlu`):

- (a) 5-fold stratified cross-validation on data/nlu: intent F1 (weighted over the intents, the
  intent after the fallback as the assistant acts on it, so nlu_fallback counts as wrong) per
  fold, mean and spread;
- (b) the same path trained on all of data/nlu, then the held-out messages of tests/nlu_heldout/
  (never training data): per store type the share of product requests recognised as one
  (search_products, refine_search, recommend, similar_products), and the share of non-shopping
  messages taken for one.

Targets (issue 16): CV intent F1 >= 0.92; >= 0.95 recognised for every store type; <= 0.05 of
non-shopping taken for a product request. Rasa's training cache goes to a temporary folder, never
to the project's .rasa/ nor models/. About 5 minutes on 2 cores.

Usage: .venv/bin/python bench/nlu_intents.py [--folds 5] [--out bench/results/nlu_intents.md]
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import click
import numpy as np
import yaml

from _common import load_average, machine_header  # bench/_common.py, next to this file
from bot.servers import RASA_ENV
from recommender import config

NLU_DIR = config.REPO_ROOT / "data" / "nlu"
HELDOUT_DIR = config.REPO_ROOT / "tests" / "nlu_heldout"
NON_SHOPPING = "non_shopping"
# The components of config.yml that decide the intent.
INTENT_PATH = ("WhitespaceTokenizer", "RegexFeaturizer", "bot.minilm_featurizer.MiniLMFeaturizer",
               "SklearnIntentClassifier", "FallbackClassifier")
PRODUCT_INTENTS = frozenset({"search_products", "refine_search", "recommend", "similar_products"})
SEED = 0



def intent_path_config(path: Path = config.REPO_ROOT / "config.yml") -> dict:
    """config.yml with only the intent path's components (their settings unchanged) and no policies."""
    full = yaml.safe_load(path.read_text(encoding="utf-8"))
    pipeline = [step for step in full["pipeline"] if step["name"] in INTENT_PATH]
    missing = set(INTENT_PATH) - {step["name"] for step in pipeline}
    if missing:
        raise click.ClickException(f"{path}: no {', '.join(sorted(missing))} in the pipeline")
    return {key: full[key] for key in ("recipe", "assistant_id", "language")} | {"pipeline": pipeline, "policies": []}


def read_heldout(folder: Path = HELDOUT_DIR) -> dict[str, list[str]]:
    """File stem -> its messages (one a line; blank lines and `#` comments skipped)."""
    sets = {}
    for path in sorted(folder.glob("*.txt")):
        lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
        sets[path.stem] = [line for line in lines if line and not line.startswith("#")]
    if NON_SHOPPING not in sets or len(sets) < 2:
        raise click.ClickException(f"{folder}: expected {NON_SHOPPING}.txt and at least one store's file")
    return sets


class IntentPath:
    """The intent path trained by Rasa on some training data, kept under a temporary folder."""

    def __init__(self, config_file: Path, data, folder: Path) -> None:
        from rasa.core.agent import Agent
        from rasa.model_training import train_nlu
        from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter

        folder.mkdir(parents=True)
        data_file = folder / "nlu.yml"
        RasaYAMLWriter().dump(data_file, data)
        np.random.seed(SEED)  # the SVM's probability calibration draws from numpy's global generator
        model = train_nlu(str(config_file), str(data_file), str(folder / "models"))
        if model is None:
            raise click.ClickException("Rasa did not train the intent path (see its log above)")
        self.agent = Agent.load(model)

    def intents(self, texts: Sequence[str]) -> list[str]:
        """The intent of each text, after the fallback."""

        async def parse() -> list[str]:
            return [(await self.agent.parse_message(text))["intent"]["name"] for text in texts]

        return asyncio.run(parse())


def folds(data, n: int):
    """(train, test) TrainingData per stratified fold of the intent examples, lookups and synonyms kept."""
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from sklearn.model_selection import StratifiedKFold

    examples = data.intent_examples
    labels = [m.get("intent") for m in examples]
    split = StratifiedKFold(n_splits=n, shuffle=True, random_state=SEED).split(examples, labels)
    for train, test in split:
        yield tuple(TrainingData(training_examples=[examples[i] for i in part],
                                 entity_synonyms=data.entity_synonyms, regex_features=data.regex_features,
                                 lookup_tables=data.lookup_tables) for part in (train, test))


def read_training_data():
    """data/nlu as Rasa reads it."""
    from rasa.shared.importers.importer import TrainingDataImporter

    return TrainingDataImporter.load_from_dict(training_data_paths=[str(NLU_DIR)]).get_nlu_data()


def product_share(intents: Sequence[str]) -> float:
    return sum(i in PRODUCT_INTENTS for i in intents) / len(intents)


def report(command: str, seconds: float, fold_f1: list[float], confusions: Counter, n_tested: int,
           n_examples: int, heldout: dict[str, list[str]], predicted: dict[str, list[str]]) -> str:
    """The Markdown result."""
    mean, spread = statistics.mean(fold_f1), statistics.stdev(fold_f1) if len(fold_f1) > 1 else 0.0
    fallback = sum(n for (_, guess), n in confusions.items() if guess == "nlu_fallback") / max(n_tested, 1)
    stores = [name for name in heldout if name != NON_SHOPPING]
    lines = [machine_header("NLU intents: cross-validation and held-out messages of any store",
                            f"load {load_average()}"), "",
             f"Command: `{command}` ({seconds / 60:.1f} min). The intent path of config.yml "
             f"({', '.join(INTENT_PATH)}) trained by Rasa; product request = {', '.join(sorted(PRODUCT_INTENTS))}.",
             "", f"## (a) {len(fold_f1)}-fold cross-validation on data/nlu ({n_examples} examples)", "",
             "| intent F1 (weighted) | per fold | nlu_fallback |", "|---|---|---|",
             f"| **{mean:.3f}** ± {spread:.3f} (target >= 0.92) | {' / '.join(f'{f:.3f}' for f in fold_f1)} "
             f"| {fallback:.1%} of the test messages |", "",
             "Most frequent errors (intent -> predicted: test messages): " + ", ".join(
                 f"{truth} -> {guess}: {n}" for (truth, guess), n in confusions.most_common(12)) + ".", "",
             "## (b) trained on all of data/nlu, held-out messages (tests/nlu_heldout/)", "",
             "| set | messages | taken for a product request | target |", "|---|---|---|---|"]
    for name in stores:
        lines.append(f"| {name} | {len(heldout[name])} | {product_share(predicted[name]):.3f} | >= 0.95 |")
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
    return "\n".join(lines) + "\n"


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
    with tempfile.TemporaryDirectory(prefix="nlu-intents-") as tmp:
        folder = Path(tmp)
        os.environ["RASA_CACHE_DIRECTORY"] = str(folder / "cache")
        config_file = folder / "config.yml"
        config_file.write_text(yaml.safe_dump(intent_path_config(), sort_keys=False), encoding="utf-8")
        fold_f1, confusions, tested = [], Counter(), 0
        for i, (train, test) in enumerate(folds(data, n_folds) if n_folds else ()):
            path = IntentPath(config_file, train, folder / f"fold{i}")
            truth = [m.get("intent") for m in test.intent_examples]
            guess = path.intents([m.get("text") for m in test.intent_examples])
            fold_f1.append(f1_score(truth, guess, average="weighted", zero_division=0))
            confusions.update((t, g) for t, g in zip(truth, guess) if t != g)
            tested += len(guess)
            click.echo(f"fold {i + 1}/{n_folds}: intent F1 {fold_f1[-1]:.3f} ({time.perf_counter() - start:.0f} s)",
                       err=True)
        path = IntentPath(config_file, data, folder / "all")
        predicted = {name: path.intents(texts) for name, texts in heldout.items()}
    seconds = time.perf_counter() - start
    command = ".venv/bin/python bench/nlu_intents.py" + (f" --folds {n_folds}" if n_folds != 5 else "")
    text = report(command, seconds, fold_f1 or [float("nan")], confusions, tested, len(data.intent_examples),
                  heldout, predicted)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    click.echo(text)


if __name__ == "__main__":
    os.environ.update({k: v for k, v in RASA_ENV.items() if k not in os.environ})
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    sys.exit(main())
