"""Set-up steps: catalog, embeddings, collaborative model, NLU lookups and the Rasa model, each
redone only when needed.

`setup()` runs them in order (a generator: iterate it); `make chat` and `make test` call it through `shopbot setup`.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot import nlu_lookups
from bot.servers import RASA, rasa_env
from recommender import Catalog, ProductEmbeddings, ShopbotError, TextEncoder, config, import_catalog
from recommender.catalog.writer import SCHEMA_VERSION
from recommender.i18n.messages import SOURCE_LANGUAGE, offered
from recommender.policies import Policies, translation
from recommender.ranking.prior import Prior
from recommender.text.multilingual import MultilingualEncoder

logger = logging.getLogger(__name__)

MODELS_DIR = config.REPO_ROOT / "models"
MODEL_NAME = "shopbot"
# Rasa reads only these folders: data/products holds product data, not training data.
RASA_DATA = ("data/nlu", "data/rules", "data/stories")


class TrainingError(ShopbotError):
    """`rasa train` failed."""


@dataclass(frozen=True)
class StepResult:
    name: str
    seconds: float
    detail: str


def ensure_catalog(progress: bool = True) -> str:
    """Build the shipped Beauty catalog unless a catalog file is already there (kept as it is: it may be
    a shop's own; one built by an older version is named, with the command that builds it again)."""
    path = config.catalog_path()
    if path.exists():
        with Catalog.open(path) as catalog:
            version = catalog.meta().get("schema_version")
        if version != SCHEMA_VERSION:
            return (f"kept {path}, built by an older version (catalog format {version}, now {SCHEMA_VERSION}): "
                    f"run 'shopbot catalog build' again for what it lacks (docs/catalog-format.md)")
        return f"kept {path}"
    report = import_catalog(config.SHIPPED_PRODUCTS, path, interactions=config.SHIPPED_SEQUENCES,
                            mapping="recbole", currency="USD", brand_aliases=config.SHIPPED_BRAND_ALIASES,
                            category_aliases=config.SHIPPED_CATEGORY_ALIASES, progress=progress)
    return f"built {path}: {report.products:,} products, {report.shoppers:,} shoppers"


def ensure_embeddings(progress: bool = True) -> str:
    """Load the cached product embeddings, the catalog language's and the multilingual ones, encoding
    only products that are new or changed."""
    with Catalog.open(config.catalog_path()) as catalog:
        # Set-up runs alone: bulk encoding may use every core (queries later use fewer).
        for encoder in (TextEncoder(num_threads=os.cpu_count() or 1), MultilingualEncoder()):
            embeddings = ProductEmbeddings.load_or_build(catalog, encoder, config.cache_dir(), progress=progress)
    return f"{len(embeddings):,} product embeddings (all-MiniLM-L6-v2 and multilingual USE)"


def ensure_policies() -> str:
    """Embed the shop's policy file (and each translation of it a language the shop offers has), unless
    the vectors of that file's content are cached."""
    with Catalog.open(config.catalog_path()) as catalog:
        path = config.policies_path(catalog.meta().get("source"))
    if path is None:
        return "no policy file (set SHOPBOT_POLICIES): questions about the shop's policies go to a person"
    sections = len(Policies.for_language(path, SOURCE_LANGUAGE, config.cache_dir()).passages)
    others = [language for language in offered() if language != SOURCE_LANGUAGE]
    for language in others:  # each offered language's questions are read with the multilingual encoder
        Policies.for_language(path, language, config.cache_dir())
    own = [language for language in others if translation(path, language) != path]
    return f"{sections} policy sections of {_shown(path)}" + (f"; translated: {', '.join(own)}" if own else "")


def ensure_cf_model() -> str:
    """Train the collaborative model on the catalog's histories unless it is current (fast settings);
    skipped, in one line, when the catalog has too few histories (ranking then needs no model)."""
    from recommender.cf import serving  # imports torch: only when this step runs

    path = config.cf_model_path()
    with Catalog.open(config.catalog_path()) as catalog:
        if reason := serving.too_few_histories(catalog):
            return f"skipped: {reason}; products are ranked by {Prior.of(catalog).describe()}"
        embeddings = ProductEmbeddings.load_or_build(catalog, TextEncoder(), config.cache_dir(), progress=False)
        if serving.is_current(path, serving.data_key(catalog, embeddings)):
            return f"kept {path}"
        trained = serving.train_for_catalog(catalog, embeddings, path, threads=os.cpu_count() or 1)
    ours, base = trained.valid["ndcg@10"], trained.popularity_valid["ndcg@10"]
    return (f"validation NDCG@10 {ours:.4f} against popularity's {base:.4f} "
            f"({ours / base if base else float('inf'):.1f}x), HR@10 {trained.valid['hr@10']:.4f}, "
            f"{trained.recommender.log.best_epoch} epochs")


def ensure_lookups() -> str:
    """Regenerate data/nlu/lookups.yml from the catalog (unchanged catalog, unchanged file)."""
    with Catalog.open(config.catalog_path()) as catalog:
        text = nlu_lookups.generate(catalog)
    path = nlu_lookups.OUTPUT_PATH
    if path.exists() and path.read_text() == text:
        return f"{_shown(path)} up to date"
    path.write_text(text)
    return f"rewrote {_shown(path)} from the catalog"


def model_path() -> Path:
    """The trained Rasa model that `serve`, `chat` and the tests load."""
    return MODELS_DIR / f"{MODEL_NAME}.tar.gz"


def train_model() -> str:
    """Run `rasa train` unless the model was trained by it from exactly today's inputs (`training_inputs`).

    Rasa itself retrains only what changed, but even then it takes ~45 s to restore and package the
    model; the stamp next to the model (its inputs' hash, the model file's size and time) skips that."""
    stamp = model_path().with_suffix(".inputs")
    inputs = training_inputs()
    if model_path().exists() and stamp.exists() and stamp.read_text() == _stamp(inputs):
        return f"kept {_shown(model_path())}"
    args = [RASA, "train", "--data", *RASA_DATA, "--out", str(MODELS_DIR),
            "--fixed-model-name", MODEL_NAME]
    result = subprocess.run(args, cwd=config.REPO_ROOT, env=rasa_env(), stdout=sys.stderr)
    if result.returncode != 0 or not model_path().exists():
        raise TrainingError(f"rasa train failed with exit code {result.returncode}; "
                            f"run '{' '.join(args[1:])}' to see why")
    stamp.write_text(_stamp(inputs))
    return f"model {_shown(model_path())}"


def training_inputs(root: Path = config.REPO_ROOT) -> str:
    """A hash of what a Rasa model is trained from in the project at `root`: Rasa's version,
    config.yml, domain.yml, the files of RASA_DATA and the sources of the packages holding
    config.yml's own components."""
    files = [root / "config.yml", root / "domain.yml"]
    files += sorted(f for folder in RASA_DATA for f in (root / folder).rglob("*") if f.is_file())
    pipeline = yaml.safe_load((root / "config.yml").read_text())
    packages = {c["name"].split(".")[0] for part in ("pipeline", "policies") for c in pipeline.get(part) or []
                if "." in c["name"]}
    files += sorted(f for package in packages for f in (root / package).glob("*.py"))
    digest = hashlib.sha256(importlib.metadata.version("rasa").encode())
    for f in files:
        digest.update(f"\0{f.relative_to(root)}\0".encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


def _shown(path: Path) -> str:
    """`path` as a message names it: relative to the project when inside it."""
    return str(path.relative_to(config.REPO_ROOT) if path.is_relative_to(config.REPO_ROOT) else path)


def _stamp(inputs: str) -> str:
    """What the stamp file holds for a model trained from `inputs`: also the model file's size and
    time, so that a model replaced since (another `rasa train`) is not taken for this one."""
    model = model_path().stat()
    return f"{inputs} {model.st_size} {model.st_mtime_ns}\n"


def setup(progress: bool = True) -> Iterator[StepResult]:
    """Run every set-up step in order, yielding each one's result as it finishes.

    One set-up at a time per checkout: a second one (two terminals, a test beside `make chat`) waits for
    the first on ``var/setup.lock`` and then finds its work done instead of training the same model again."""
    lock_path = config.REPO_ROOT / "var" / "setup.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("another set-up is running in this checkout; waiting for it to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield from _steps(progress)


def _steps(progress: bool) -> Iterator[StepResult]:
    steps = (("catalog", lambda: ensure_catalog(progress)),
             ("embeddings", lambda: ensure_embeddings(progress)),
             ("policies", ensure_policies),
             ("collaborative model", ensure_cf_model),
             ("nlu lookups", ensure_lookups),
             ("rasa model", train_model))
    for name, step in steps:
        logger.info("%s ...", name)
        start = time.perf_counter()
        detail = step()
        yield StepResult(name, time.perf_counter() - start, detail)
