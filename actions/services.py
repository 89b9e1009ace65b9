"""The only place actions get the recommender and the shopper store: built on first use, then cached.

Nothing is loaded at import time (tests inject their own with `use`); the action server
(`bot/action_server.py`) loads them before it serves, so a missing catalog stops it with one line.
The locations come from ``recommender.config`` (SHOPBOT_CATALOG, SHOPBOT_CACHE, SHOPBOT_STORE).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from actions.vocabulary import Vocabulary
from recommender import Catalog, ForgottenShoppers, ProductSearch, ShopStore, config, forget_shoppers
from recommender.i18n.messages import SOURCE_LANGUAGE
from recommender.policies import Policies

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_search: ProductSearch | None = None
_vocabulary: Vocabulary | None = None
_store: ShopStore | None = None
_policies: dict[str, Policies | None] = {}  # a message's language -> the policies its questions are answered from
_record: ForgottenShoppers | None = None  # the record of forgotten shoppers beside the store in use
_record_seen: object = None  # the record's stamp when the served model last applied it


def product_search() -> ProductSearch:
    """The process-wide ranker (catalog + encoder + embeddings + collaborative model), built on the
    first call, which also finishes the forgets an earlier run left pending (``finish_forgets``).
    A shopper another process forgot since is dropped from the model before it serves again."""
    global _search
    with _lock:
        search = _search
        if search is None:
            logger.info("loading the product search (catalog, embeddings, encoder, collaborative model)")
            _search = search = ProductSearch.from_paths(progress=False)
            finish_forgets(search)
    _honour_record(search)
    return search


def _honour_record(search: ProductSearch) -> None:
    """Drop from the served model the shoppers recorded as forgotten since it last looked (a stat of the
    record's file, or a count of its table on PostgreSQL)."""
    global _record_seen
    record = forgotten_shoppers()
    changed = record.stamp()
    if changed != _record_seen and search.recommender is not None:
        search.recommender.forget_shoppers(record.matcher())
    _record_seen = changed


def catalog() -> Catalog:
    """The product catalog the ranker searches."""
    return product_search().catalog


def vocabulary() -> Vocabulary:
    """The catalog's brand and category names, read once."""
    global _vocabulary
    shop = catalog()
    with _lock:
        if _vocabulary is None:
            _vocabulary = Vocabulary.from_catalog(shop)
        return _vocabulary


def policy_file() -> Path | None:
    """The shop's policy file (``config.policies_path``: the demo catalog has the demo's), or None."""
    return config.policies_path(catalog().meta().get("source"))  # catalog() takes the lock itself


def policies(language: str | None) -> Policies | None:
    """The shop's policies to answer a shopper writing in ``language`` from (``Policies.for_language``),
    or None when the shop has none (``config.policies_path``: the demo catalog has the demo's); loaded
    once per language."""
    key = language or SOURCE_LANGUAGE
    with _lock:
        if key in _policies:  # the catalog's source is read once per language, not per question
            return _policies[key]
    path = policy_file()
    with _lock:
        if key not in _policies:
            _policies[key] = None if path is None else Policies.for_language(path, key, config.cache_dir())
        return _policies[key]


def store() -> ShopStore:
    """The shopper store (carts, orders, likes, events), opened on the first call."""
    global _store
    with _lock:
        if _store is None:
            _store = ShopStore.open(config.store_target())
        return _store


def forgotten_shoppers() -> ForgottenShoppers:
    """The record of forgotten shoppers, beside the shopper store in use; opened once per store (on
    PostgreSQL, one connection that every message's look at it reuses)."""
    global _record
    shop = _store
    where = config.forgotten_path(shop.path if shop is not None and shop.path else config.store_target())
    record = _record
    if record is None or record.target != where:
        _record = record = ForgottenShoppers(where)
    return record


@dataclass(frozen=True)
class Forgotten:
    """What forgetting a shopper deleted: shopper-store rows per table, past purchases in the catalog
    (None while the catalog part is pending), and the parts of the forget left pending."""

    rows: dict[str, int]  # cart, cart_changes, order_returns, order_status, order_items, orders, feedback, events
    purchases: int | None
    pending: tuple[str, ...] = ()  # "catalog" (the file could not be written), "model" (the checkpoint)


def forget(shopper_id: str) -> Forgotten:
    """Forget the shopper everywhere: recorded first (a keyed hash, ``ForgottenShoppers``), so what
    fails later is retried and never brought back; then the shopper store's rows, the catalog's
    purchase history and the collaborative model's history, in memory and in its checkpoint. A
    catalog or checkpoint that cannot be written now is left pending (retried at the next forget and
    the next start). The conversation itself is the tracker store's (the action restarts it)."""
    record = forgotten_shoppers()
    record.add(shopper_id)
    rows = store().forget(shopper_id)
    deleted: dict[str, int] = {}
    pending = finish_forgets(product_search(), record, deleted)
    return Forgotten(rows, None if "catalog" in pending else deleted.get(shopper_id, 0), pending)


def finish_forgets(search: ProductSearch | None = None, record: ForgottenShoppers | None = None,
                   deleted: dict[str, int] | None = None) -> tuple[str, ...]:
    """Do the parts of forgets still pending: delete forgotten shoppers' histories from the catalog file
    (``deleted`` receives shopper id -> purchases deleted), drop them from the served model and
    rewrite its checkpoint. Returns the parts still pending."""
    search = search if search is not None else product_search()
    record = record if record is not None else forgotten_shoppers()
    is_forgotten = record.matcher()
    if record.pending().get("catalog"):
        try:
            (deleted if deleted is not None else {}).update(forget_shoppers(search.catalog.path, is_forgotten))
            record.done("catalog", is_forgotten)
        except sqlite3.OperationalError as e:  # read-only or locked: the part stays pending in the record
            logger.warning("Forget: the catalog %s cannot be written now (%s); forgotten histories stay out of "
                           "recommendations, and are deleted from it at the next forget or start",
                           search.catalog.path, e)
    model = search.recommender
    if model is not None:
        model.forget_shoppers(is_forgotten)
    if record.pending().get("model"):
        try:
            if model is not None and model.path is not None and model.checkpoint_stale:  # else nothing to drop
                model.save(model.path)
            record.done("model", is_forgotten)
        except OSError as e:
            logger.warning("Forget: the model checkpoint %s cannot be rewritten now (%s); the forgotten histories "
                           "are not served, and the rewrite is retried at the next forget or start", model.path, e)
    return tuple(sorted(record.pending()))


def use(search: ProductSearch | None = None, shop_store: ShopStore | None = None) -> None:
    """Replace the cached services (tests inject them), or forget them (None) to rebuild on next use."""
    global _search, _vocabulary, _store, _record, _record_seen
    with _lock:
        _search, _vocabulary, _store, _record, _record_seen = search, None, shop_store, None, None
        _policies.clear()
