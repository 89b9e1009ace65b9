"""The collaborative model the assistant serves: trained on the catalog's own shopper histories.

``train_for_catalog`` fits the text-fused sequence model with the fast ``SERVING`` settings on a
leave-one-out split of ``Catalog.iter_histories()``, forgotten shoppers left out (early stopping on
the held-out items, scored against the popularity baseline on the same split), then gives the model
every shopper's full history and saves it. A stamp beside the checkpoint records what it was
trained from, so ``is_current`` tells set-up when nothing changed. The full benchmark settings are
``shopbot evaluate``'s; these trade a little accuracy for a few minutes of training.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from recommender.catalog.products import Catalog
from recommender.cf.baselines import Popularity
from recommender.cf.metrics import ranking_metrics_at_k
from recommender.cf.model import CFConfig
from recommender.cf.recommender import CFRecommender
from recommender.cf.sequences import from_histories, leave_one_out
from recommender.cf.train import TrainConfig
from recommender.files import replaced_whole
from recommender.store.forgotten import ForgottenShoppers
from recommender.text.embeddings import ProductEmbeddings

logger = logging.getLogger(__name__)

__all__ = ["ServingSettings", "TrainedModel", "SERVING", "MIN_SHOPPERS", "train_for_catalog", "too_few_histories",
           "is_current", "data_key", "training_histories"]

# Shoppers with at least 3 items (one to train on, one to validate, one to test) that training needs:
# with fewer, validation measures nothing and the model would personalise nothing.
MIN_SHOPPERS = 100


@dataclass(frozen=True)
class ServingSettings:
    model: CFConfig = field(default_factory=lambda: CFConfig(kind="sasrec"))  # text-fused SASRec, benchmark defaults
    training: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=8,                  # ~2 min on 2 quiet cores. An epoch count, not a time budget, so the
                                   # same data gives the same model. On Beauty: validation NDCG@10 0.0705
        patience=8,                # in 120 s, against 0.0605 in 302 s of the former 12 epochs of whole
        lr=2e-3,                   # sequences, lr 1e-3 halved on plateaus (bench/README.md).
        lr_schedule="cosine",      # a fixed number of epochs: warm up, then decay to 0 at the last one
        warmup_epochs=1.0,
        samples="prefixes",        # every prefix a sample, as the benchmark model (`sasrec-text`) trains
        max_minutes=20.0,          # only a safety cap on a very busy machine
    ))


SERVING = ServingSettings()


@dataclass(frozen=True)
class TrainedModel:
    recommender: CFRecommender
    valid: dict[str, float]             # validation metrics of the model (HR/NDCG@5/10/20, MRR, AUC)
    popularity_valid: dict[str, float]  # the same for the popularity baseline, same split
    seconds: float


def training_histories(catalog: Catalog, forgotten: ForgottenShoppers | None = None) -> Iterator[tuple[str, list[str]]]:
    """The catalog's shopper histories the model may learn from: forgotten shoppers' left out.

    ``forgotten``: the record of forgotten shoppers; None: the one beside the configured shopper store.
    """
    is_forgotten = (forgotten if forgotten is not None else ForgottenShoppers.configured()).matcher()
    return ((shopper, items) for shopper, items in catalog.iter_histories() if not is_forgotten(shopper))


def data_key(catalog: Catalog, embeddings: ProductEmbeddings, settings: ServingSettings = SERVING,
             forgotten: ForgottenShoppers | None = None) -> str:
    """sha256 over what the model is trained from: products, histories (so a forget makes the model
    out of date), text model and settings."""
    h = hashlib.sha256()
    h.update(catalog.fingerprint().encode())
    h.update(embeddings.model_id.encode())
    h.update(json.dumps([asdict(settings.model), asdict(settings.training)], sort_keys=True).encode())
    for shopper, items in training_histories(catalog, forgotten):
        h.update(f"{shopper}\t{' '.join(items)}\n".encode())
    return h.hexdigest()


def too_few_histories(catalog: Catalog, forgotten: ForgottenShoppers | None = None) -> str | None:
    """Why the catalog's shopper histories cannot train the model, in one line; None when they can."""
    usable = sum(1 for _, items in training_histories(catalog, forgotten) if len(items) >= 3)
    if usable >= MIN_SHOPPERS:
        return None
    return (f"too few shopper histories to train the collaborative model ({usable:,} shoppers with 3 or more "
            f"items, {MIN_SHOPPERS} needed)")


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def is_current(path: Path, key: str) -> bool:
    """True when the checkpoint at ``path`` was trained from data with this ``data_key``."""
    try:
        return path.exists() and json.loads(_stamp(path).read_text()).get("data_key") == key
    except (OSError, ValueError):
        return False


def train_for_catalog(catalog: Catalog, embeddings: ProductEmbeddings, path: Path, *,
                      settings: ServingSettings = SERVING, threads: int = 2,
                      forgotten: ForgottenShoppers | None = None) -> TrainedModel:
    """Fit, validate against popularity, give the model the full histories, and save to ``path``;
    forgotten shoppers' histories are left out (``training_histories``)."""
    started = time.perf_counter()
    forgotten = forgotten if forgotten is not None else ForgottenShoppers.configured()
    key = data_key(catalog, embeddings, settings, forgotten)
    histories = list(training_histories(catalog, forgotten))
    split = leave_one_out(from_histories(histories, embeddings.ids))
    categories = {p.id: p.category for p in catalog.iter_products() if p.category}
    training = TrainConfig(**{**asdict(settings.training), "threads": threads})
    model = CFConfig(**asdict(settings.model))
    logger.info("training the collaborative model on %d shoppers (%d epochs at most)",
                len(histories), training.epochs)
    rec = CFRecommender(model, training).fit(split, text=embeddings, categories=categories,
                                             fingerprint=catalog.fingerprint())
    valid = ranking_metrics_at_k(rec, split, stage="valid", lists=False)
    popularity = ranking_metrics_at_k(Popularity(split.train, split.interactions.n_items), split,
                                      stage="valid", lists=False)
    rec.update_histories(histories)                                  # serve with every known item
    path.parent.mkdir(parents=True, exist_ok=True)
    rec.save(path)
    seconds = time.perf_counter() - started
    with replaced_whole(_stamp(path)) as tmp:
        tmp.write_text(json.dumps({"data_key": key, "valid": valid, "popularity_valid": popularity,
                                   "epochs": rec.log.best_epoch, "seconds": round(seconds, 1)}, indent=2))
    return TrainedModel(rec, valid, popularity, seconds)
