"""The record of forgotten shoppers on either engine (issue 19): a SQLite file beside a SQLite store, and a table
of the store's own PostgreSQL database (slow: a throwaway server) that every host shares, keyed by
$SHOPBOT_FORGET_KEY. Two records opened on one store stand for two hosts."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from actions import services
from recommender import config
from recommender.catalog.products import Catalog
from recommender.cf.recommender import CFRecommender
from recommender.errors import InvalidSetting, StoreError
from recommender.store import ShopStore
from recommender.store.forgotten import ForgottenShoppers
from tests.postgres_server import PostgresServer
from tests.stores import columns, sql
from tests.test_forget_everywhere import GONE, searched, traces, var  # noqa: F401 (var: a fixture)

KEY = secrets.token_hex(32)
NO_KEY = r"^SHOPBOT_FORGET_KEY is not set: the record of forgotten shoppers in postgresql://shopbot@127\.0\.0\.1:"


@pytest.fixture(autouse=True)
def _forget_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every host's $SHOPBOT_FORGET_KEY (a SQLite record keeps its own key file, and ignores it)."""
    monkeypatch.setenv("SHOPBOT_FORGET_KEY", KEY)


def test_a_forget_through_one_host_is_seen_by_the_other(store_target: Path | str) -> None:
    here, there = ForgottenShoppers.beside(store_target), ForgottenShoppers.beside(store_target)
    assert len(there) == 0 and GONE not in there and not there.matcher()(GONE) and there.pending() == {}
    before = there.stamp()
    here.add(GONE)
    assert GONE in there and there.matcher()(GONE) and not there.matcher()("u2") and len(there) == 1
    assert there.stamp() != before and there.pending() == {"catalog": 1, "model": 1}
    seen = there.matcher()
    here.add("u2", pending=["model"])                       # forgotten while the other host finishes a forget
    assert there.done("catalog", seen) == 1 and there.done("model", seen) == 1
    assert here.pending() == {"model": 1} and len(here) == 2
    here.add(GONE)                                          # forgotten again: its parts pending again
    assert there.pending() == {"catalog": 1, "model": 2}
    with pytest.raises(ValueError, match=r"Unknown forget parts \['photos'\]"):
        here.add("u3", pending=["photos"])


@pytest.mark.slow
def test_on_postgresql_the_record_is_a_table_of_the_store_naming_nobody(postgres: PostgresServer, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres.database()
    monkeypatch.setenv("SHOPBOT_CACHE", str(tmp_path))
    ForgottenShoppers.beside(url).add(GONE)                 # before the store was ever opened
    assert columns(url) == {"forgotten_shoppers": ["digest", "catalog", "model"]}
    (digest, catalog, model), = sql(url, "SELECT digest, catalog, model FROM forgotten_shoppers")
    assert len(bytes(digest)) == 32 and GONE.encode() not in bytes(digest) and (catalog, model) == (1, 1)
    assert list(tmp_path.iterdir()) == []                   # no file on this host: no record, no key
    with ShopStore.open(url) as store:                      # the record's table is not "other tables"
        store.add_to_cart(GONE, "p1")
        store.forget(GONE)
        store.expire(datetime.now(timezone.utc) + timedelta(days=1), lambda shopper: True)
    assert GONE in ForgottenShoppers.beside(url)            # neither forget nor retention deletes from it
    other = postgres.database()
    sql(other, "CREATE TABLE forgotten_shoppers (id INTEGER)")
    sql(other, "CREATE TABLE events (id INTEGER)")          # the tracker store's database, say
    with pytest.raises(StoreError, match="it holds other tables: give the store a database of its own"):
        ShopStore.open(other)


@pytest.mark.slow
def test_the_postgresql_record_needs_the_hosts_shared_key(postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    url = postgres.database()
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("SHOPBOT_FORGET_KEY")
    record = ForgottenShoppers.beside(url)                  # no key and nobody forgotten: an empty record
    assert len(record) == 0 and GONE not in record and record.pending() == {}
    with pytest.raises(StoreError, match=NO_KEY) as info:   # no key made here, that other hosts could not know
        record.add(GONE)
    assert 'python -c "import secrets; print(secrets.token_hex(32))"' in str(info.value)
    assert columns(url) == {}                               # the table is made with the first forget only
    for bad in ("ab" * 31, "zz" * 32, KEY + "00"):
        monkeypatch.setenv("SHOPBOT_FORGET_KEY", bad)
        with pytest.raises(InvalidSetting, match=r"^SHOPBOT_FORGET_KEY is not a key \(\d+ characters\): set 64 "
                                                 "hexadecimal characters") as info:
            ForgottenShoppers.beside(url)
        assert bad not in str(info.value)
    monkeypatch.setenv("SHOPBOT_FORGET_KEY", KEY.upper())
    ForgottenShoppers.beside(url).add(GONE)
    monkeypatch.setenv("SHOPBOT_FORGET_KEY", KEY)           # the same key, another host's spelling
    assert GONE in ForgottenShoppers.beside(url)
    monkeypatch.delenv("SHOPBOT_FORGET_KEY")
    with pytest.raises(StoreError, match=r"^SHOPBOT_FORGET_KEY is not set, so the forgotten shoppers in table "
                                         r"forgotten_shoppers of postgresql://shopbot@127\.0\.0\.1:\d+/test_\d+ can "
                                         "no longer be recognised; set it to the key the other hosts use") as info:
        ForgottenShoppers.beside(url)
    assert "\n" not in str(info.value)
    assert KEY not in caplog.text and KEY.upper() not in caplog.text and postgres.password not in caplog.text


def test_a_record_file_without_its_key_gets_no_new_one(tmp_path: Path) -> None:
    record = ForgottenShoppers.beside(tmp_path / "shop.db")  # a server's, opened while nobody was forgotten
    ForgottenShoppers.beside(tmp_path / "shop.db").add(GONE)  # another process
    (tmp_path / "shop.forgotten.key").unlink()
    with pytest.raises(StoreError, match="shop.forgotten.key is missing"):
        record.add("u2")
    assert not (tmp_path / "shop.forgotten.key").exists()


@pytest.mark.parametrize(("value", "key"), [(None, None), ("", None), (f" {KEY}\n", bytes.fromhex(KEY))])
def test_the_key_comes_from_one_variable(monkeypatch: pytest.MonkeyPatch, value: str | None,
                                         key: bytes | None) -> None:
    if value is None:
        monkeypatch.delenv("SHOPBOT_FORGET_KEY")
    else:
        monkeypatch.setenv("SHOPBOT_FORGET_KEY", value)
    assert config.forget_key() == key


# ---- through the action server, two hosts on one PostgreSQL store -------------------------------


@pytest.mark.slow
def test_a_forget_on_one_action_server_is_honoured_by_another(var: Path, postgres: PostgresServer,  # noqa: F811
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres.database()
    monkeypatch.setenv("SHOPBOT_STORE", url)
    with Catalog.open(var / "catalog.db") as catalog:
        fingerprint = catalog.fingerprint()
    model = CFRecommender.load(var / "cf" / "shopbot.pt", fingerprint=fingerprint)
    search = searched(var, model)
    services.use(search, ShopStore.open(url))
    assert services.product_search().knows(GONE)
    elsewhere = ForgottenShoppers.beside(url)               # another host's action server
    elsewhere.add(GONE)
    assert not services.product_search().knows(GONE) and search.knows("u2")
    forgotten = services.forget("u2")                       # here: the catalog's and the checkpoint's part too
    assert forgotten.pending == () and forgotten.purchases == 3
    assert "u2" in elsewhere and elsewhere.pending() == {}
    assert traces(var, GONE) == [] and not list(var.glob("shop*"))  # no record file: the store's table
    search.catalog.close()
