"""Forget-me that really forgets (issue 17, items 1 and 2): the record of forgotten shoppers, applied by
the catalog import, the collaborative training and the model load; and a forget that a read-only or
locked catalog cannot half-do. Real catalog, store and checkpoint files; a fake text encoder. The last
test does it through the real servers, restarted, on a copy of set-up's files.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.account import ActionForgetMe
from bot.servers import Assistant
from recommender.catalog.importer import import_catalog
from recommender.cf import serving
from recommender.cf.model import CFConfig
from recommender.cf.recommender import CFRecommender
from recommender.cf.train import TrainConfig
from recommender.errors import StoreError
from recommender.store import ShopStore
from recommender.store.forgotten import ForgottenShoppers
from recommender.catalog.products import Catalog
from recommender.ranking.ranker import ProductSearch, SearchConfig
from recommender.text.embeddings import ProductEmbeddings
from tests.cluster import copy_of_setup
from tests.test_actions import DOMAIN, PRODUCTS, WordHashEncoder

GONE = "GONE-shopper-7Q4Z"  # a shopper id that no other byte sequence in the files can spell by chance
HISTORIES = {GONE: ["m1", "o1", "n1", "s1"], "u2": ["m1", "o1", "n1"], "u3": ["m1", "m2", "l1"],
             "u4": ["o1", "o2", "n1"], "u5": ["m2", "l1", "o2"]}
TINY = serving.ServingSettings(CFConfig(kind="sasrec", n_embd=8, max_len=4, dropout=0.0, id_dropout=0.0),
                               TrainConfig(epochs=1, batch_size=4, lr=1e-2, seed=0, patience=1))


@pytest.fixture
def var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A var folder (catalog, embeddings, model, store, record) as set-up leaves it, the shop's source
    files beside it; the configured paths point into it."""
    folder = tmp_path / "var"
    monkeypatch.setenv("SHOPBOT_CACHE", str(folder))
    monkeypatch.delenv("SHOPBOT_CATALOG", raising=False)
    monkeypatch.delenv("SHOPBOT_STORE", raising=False)
    source = tmp_path / "source"
    source.mkdir()
    (source / "products.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PRODUCTS))
    (source / "history.txt").write_text("".join(f"{u} {' '.join(ids)}\n" for u, ids in HISTORIES.items()))
    build(folder)
    yield folder
    services.use(None)


def searched(folder: Path, model: CFRecommender | None = None) -> ProductSearch:
    """The catalog in ``folder`` searched with WordHashEncoder (embeddings cached in the folder)."""
    catalog = Catalog.open(folder / "catalog.db")
    encoder = WordHashEncoder()
    embeddings = ProductEmbeddings.load_or_build(catalog, encoder, folder / "embeddings", progress=False)
    return ProductSearch(catalog, encoder, embeddings, SearchConfig(relevance_floor=WordHashEncoder.relevance_floor),
                         recommender=model)


def build(folder: Path) -> None:
    """Import the source files into ``folder`` and train a tiny served model (set-up's steps)."""
    source = folder.parent / "source"
    import_catalog(source / "products.jsonl", folder / "catalog.db", interactions=source / "history.txt",
                   progress=False)
    search = searched(folder)
    try:
        serving.train_for_catalog(search.catalog, search.embeddings, folder / "cf" / "shopbot.pt", settings=TINY,
                                  threads=1)
    finally:
        search.catalog.close()


def serve(folder: Path) -> tuple[ShopStore, object]:
    """Start as the action server does: a new ranker and model from the files, a store; injected."""
    with Catalog.open(folder / "catalog.db") as catalog:
        fingerprint = catalog.fingerprint()
    search = searched(folder, CFRecommender.load(folder / "cf" / "shopbot.pt", fingerprint=fingerprint))
    store = ShopStore.open(folder / "shop.db")
    services.use(search, store)
    return store, search


def forget_me(sender: str) -> tuple[list[dict], list[dict]]:
    """Run action_forget_me for ``sender``: (its events, its messages)."""
    tracker = Tracker(sender, {}, {"text": "yes", "intent": {"name": "affirm"}}, [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    return ActionForgetMe().run(dispatcher, tracker, DOMAIN), dispatcher.messages


def traces(folder: Path, needle: str) -> list[str]:
    """Files under ``folder`` whose bytes contain ``needle``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and needle.encode() in p.read_bytes())


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` read-only: mode 0444, and immutable too when running as root (root ignores modes)."""
    os.chmod(path, 0o444)
    root = os.geteuid() == 0
    if root and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        os.chmod(path, 0o644)
        pytest.skip("running as root and chattr cannot make the file read-only here")
    try:
        yield
    finally:
        if root:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def interactions_of(catalog: Path, shopper: str) -> int:
    with sqlite3.connect(catalog) as conn:
        return conn.execute("SELECT count(*) FROM interactions WHERE shopper_id = ?", [shopper]).fetchone()[0]


# ---- the record ---------------------------------------------------------------------------------


def test_the_record_keeps_a_keyed_hash_and_its_pending_parts(tmp_path: Path) -> None:
    record = ForgottenShoppers.beside(tmp_path / "shop.db")
    assert len(record) == 0 and not record.matcher()(GONE) and GONE not in record  # no file: empty
    record.add(GONE)
    assert (tmp_path / "shop.forgotten.key").stat().st_mode & 0o777 == 0o600
    again = ForgottenShoppers.beside(tmp_path / "shop.db")                          # another process
    assert GONE in again and again.matcher()(GONE) and not again.matcher()("u2")
    assert again.pending() == {"catalog": 1, "model": 1}
    assert again.done("catalog", again.matcher()) == 1 and again.pending() == {"model": 1}
    assert traces(tmp_path, GONE) == []                                             # only the keyed hash
    (tmp_path / "shop.forgotten.key").unlink()
    with pytest.raises(StoreError, match="shop.forgotten.key is missing"):
        ForgottenShoppers.beside(tmp_path / "shop.db")


def test_a_shopper_forgotten_since_the_record_was_read_keeps_the_part_pending(tmp_path: Path) -> None:
    record = ForgottenShoppers.beside(tmp_path / "shop.db")
    record.add("u2")
    seen = record.matcher()
    record.add("u3")                                       # forgotten while a retry was running
    assert record.done("catalog", seen) == 1 and record.pending() == {"catalog": 1, "model": 2}


# ---- applied by import, training and load -------------------------------------------------------


def test_import_training_and_load_leave_the_forgotten_out(var: Path) -> None:
    checkpoint = var / "cf" / "shopbot.pt"
    search = searched(var)
    before = serving.data_key(search.catalog, search.embeddings, TINY)
    search.catalog.close()
    ForgottenShoppers.beside(var / "shop.db").add(GONE)    # e.g. forgotten by another process

    loaded = CFRecommender.load(checkpoint)                # the old checkpoint: dropped before it serves
    assert loaded.history_length(GONE) == 0 and GONE not in loaded.shopper_ids
    assert loaded.recommend(GONE, n=5) == loaded.recommend("a-new-shopper", n=5)

    source = var.parent / "source"
    report = import_catalog(source / "products.jsonl", var / "catalog.db", interactions=source / "history.txt",
                            progress=False)
    assert (report.shoppers, report.forgotten) == (len(HISTORIES) - 1, 1)
    assert "left out 1 shopper who asked to be forgotten" in " ".join(report.notes) and GONE not in str(report)
    search = searched(var)
    assert serving.data_key(search.catalog, search.embeddings, TINY) != before  # set-up will retrain
    assert GONE not in dict(serving.training_histories(search.catalog))
    serving.train_for_catalog(search.catalog, search.embeddings, checkpoint, settings=TINY, threads=1)
    search.catalog.close()
    assert traces(var, GONE) == []


# ---- forget through the action -------------------------------------------------------------------


def test_forget_then_restart_rebuild_and_retrain_leaves_no_trace(var: Path) -> None:
    store, search = serve(var)
    store.add_to_cart(GONE, "m2")
    store.like(GONE, "l1")
    assert search.knows(GONE) and GONE.encode() in (var / "cf" / "shopbot.pt").read_bytes()

    events, messages = forget_me(GONE)
    assert [e["event"] for e in events] == ["restart"]
    assert "4 past purchases and this conversation" in messages[0]["deleted"]
    assert not search.knows(GONE) and search.knows("u2")
    assert traces(var, GONE) == []                         # store, catalog and checkpoint, at once

    store.close()
    store, search = serve(var)                             # restart: a new ranker and model from the files
    assert not search.knows(GONE)
    new = search.recommender.recommend("a-new-shopper", n=5)
    assert search.recommender.recommend(GONE, n=5) == new
    store.close()
    services.use(None)
    build(var)                                             # rebuild the catalog from the same files, retrain
    store, search = serve(var)
    assert not search.knows(GONE) and GONE not in search.recommender.shopper_ids
    assert search.recommender.recommend(GONE, n=5) == search.recommender.recommend("a-new-shopper", n=5)
    store.close()
    assert traces(var, GONE) == []


def test_a_read_only_catalog_leaves_its_part_pending_until_it_can_be_written(var: Path) -> None:
    store, search = serve(var)
    store.add_to_cart(GONE, "m2")
    with read_only(var / "catalog.db"):
        events, messages = forget_me(GONE)
        assert [e["event"] for e in events] == ["restart"]            # the conversation is still deleted
        deleted = messages[0]["deleted"]
        assert deleted.startswith("your cart (1 product)") and "past purchase" not in deleted.split(".")[0]
        assert "they stay in the product catalog until it can be written again" in deleted
        assert store.cart_lines(GONE) == [] and interactions_of(var / "catalog.db", GONE) == 4
        assert not search.knows(GONE)                                  # not served meanwhile
        assert GONE.encode() not in (var / "cf" / "shopbot.pt").read_bytes()
        assert services.finish_forgets() == ("catalog",)               # a retry while still read-only
    assert services.finish_forgets() == ()                             # the next start, once writable
    assert interactions_of(var / "catalog.db", GONE) == 0
    store.close()
    assert traces(var, GONE) == []


def test_a_locked_catalog_is_done_at_the_next_forget(var: Path) -> None:
    store, _ = serve(var)
    holder = sqlite3.connect(var / "catalog.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")                                  # e.g. a long read-write transaction
    try:
        events, messages = forget_me(GONE)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [e["event"] for e in events] == ["restart"] and "product catalog" in messages[0]["deleted"]
    assert interactions_of(var / "catalog.db", GONE) == 4
    assert services.forget("u2").pending == ()                         # the next forget finishes both
    assert interactions_of(var / "catalog.db", GONE) == interactions_of(var / "catalog.db", "u2") == 0
    store.close()
    assert traces(var, GONE) == []


def test_a_checkpoint_that_cannot_be_rewritten_is_retried(var: Path) -> None:
    store, search = serve(var)
    with read_only(var / "cf"):
        forgotten = services.forget(GONE)
        assert forgotten.pending == ("model",) and forgotten.purchases == 4
        assert not search.knows(GONE) and GONE.encode() in (var / "cf" / "shopbot.pt").read_bytes()
    assert services.finish_forgets() == ()
    assert GONE.encode() not in (var / "cf" / "shopbot.pt").read_bytes()
    store.close()


def test_a_shopper_without_history_leaves_the_checkpoint_as_it_is(var: Path) -> None:
    # issue 19: a forget by an action server rewrote the checkpoint (24 MB) even for a shopper it did not hold
    checkpoint = var / "cf" / "shopbot.pt"
    store, search = serve(var)
    before = (checkpoint.stat().st_mtime_ns, checkpoint.read_bytes())
    assert services.forget("never-bought-anything").pending == ()
    assert (checkpoint.stat().st_mtime_ns, checkpoint.read_bytes()) == before
    assert services.forgotten_shoppers().pending() == {}                # the model's part is done all the same
    ForgottenShoppers.beside(var / "shop.db").add(GONE, pending=[])   # another process; dropped here in memory
    assert not services.product_search().knows(GONE) and checkpoint.read_bytes() == before[1]
    assert services.forget("another-newcomer").pending == ()           # the checkpoint now holds a dropped history
    assert GONE.encode() not in checkpoint.read_bytes() and search.knows("u2")
    store.close()


def test_a_shopper_forgotten_by_another_process_is_not_served_here(var: Path) -> None:
    store, search = serve(var)
    assert services.product_search().knows(GONE)
    ForgottenShoppers.beside(var / "shop.db").add(GONE)               # another action server's forget
    assert not services.product_search().knows(GONE) and search.knows("u2")
    store.close()


@pytest.mark.parametrize("kind", ["sasrec", "mf"])
def test_a_forgotten_shopper_is_served_like_a_new_one_by_either_model(tmp_path: Path, kind: str) -> None:
    rec = CFRecommender(CFConfig(kind=kind, n_embd=8, max_len=4, dropout=0.0, id_dropout=0.0),
                        TrainConfig(epochs=1, batch_size=4, lr=1e-2, seed=0)).fit(list(HISTORIES.items()))
    assert rec.forget_shoppers(lambda shopper: shopper == GONE) == 1
    assert rec.recommend(GONE, n=3) == rec.recommend("a-new-shopper", n=3)
    again = CFRecommender.load(rec.save(tmp_path / "cf.pt"), forgotten=ForgottenShoppers.beside(tmp_path / "shop.db"))
    assert again.recommend(GONE, n=3) == again.recommend("a-new-shopper", n=3) and again.history_length("u2") == 3
    assert GONE.encode() not in (tmp_path / "cf.pt").read_bytes()


# ---- the real servers ---------------------------------------------------------------------------


@pytest.mark.slow
def test_through_the_real_servers_a_forgotten_shopper_stays_forgotten_after_a_restart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trained_model: Path) -> None:
    """Set-up's catalog, embeddings and model copied to a var folder of their own; a shipped shopper with
    a history forgets themselves on the real servers; after both restart, they are a new shopper."""
    folder = copy_of_setup(tmp_path / "var")
    monkeypatch.setenv("SHOPBOT_CACHE", str(folder))
    for name in ("SHOPBOT_CATALOG", "SHOPBOT_STORE", "SHOPBOT_TRACKER"):
        monkeypatch.delenv(name, raising=False)
    with sqlite3.connect(folder / "catalog.db") as db:
        shopper, bought = db.execute("SELECT shopper_id, count(*) FROM interactions GROUP BY shopper_id"
                                     " ORDER BY count(*) DESC, shopper_id LIMIT 1").fetchone()
    assert traces(folder, shopper) == ["catalog.db", "cf/shopbot.pt"]

    def recommended(bot: Assistant, sender: str) -> list[dict]:
        replies = bot.send(sender, "what do you recommend?")
        return [p for r in replies for p in (r.get("custom") or {}).get("products", [])]

    with Assistant(trained_model, log_dir=tmp_path / "before") as bot:
        personal = recommended(bot, shopper)
        assert any(reason.startswith(("because you liked", "often bought after"))
                   for card in personal for reason in card["reasons"]), personal
        assert "Delete it all?" in bot.send(shopper, "delete all my data")[0]["text"]
        done = " ".join(r.get("text", "") for r in bot.send(shopper, "yes"))
        assert f"{bought} past purchases" in done, done
        assert traces(folder, shopper) == []            # catalog, checkpoint, store, conversations: at once
    with Assistant(trained_model, log_dir=tmp_path / "after") as bot:  # both servers read the files again
        again, stranger = recommended(bot, shopper), recommended(bot, "forget-e2e-new-shopper")
    assert [p["id"] for p in again] == [p["id"] for p in stranger] and again
    assert not any(reason.startswith(("because you liked", "often bought after"))
                   for card in again for reason in card["reasons"])
    # Talking again, they are a new shopper with a new conversation and new "shown" events; their
    # history came back neither into the catalog nor into the model.
    assert [f for f in traces(folder, shopper) if not f.startswith(("shop.db", "conversations.db"))] == []
