"""The record of forgotten shoppers: what is needed to keep forgetting them, and nothing more.

Each forgotten shopper is one row: a keyed hash of the id (HMAC-SHA256), so the record names nobody
to whoever reads it without the key, and the parts of the forget not done yet ("catalog": the
catalog file still holds their past purchases; "model": the collaborative checkpoint still holds
their history). The catalog import, the collaborative training and the model load skip every
shopper in the record, so a rebuilt catalog or a restarted server never brings one back; the
pending parts are retried at the next start and the next forget.

Where it is follows the shopper store (``config.forgotten_path``):

- beside a SQLite store, its own SQLite file (``shop.db`` -> ``shop.forgotten.db``) with its key in
  ``shop.forgotten.key`` (0600, made on the first forget). Its own file, not a table of the store: the
  importer, set-up and the model load read it without opening (and so creating or upgrading) the store.
  A missing record file is an empty record.
- with a store on PostgreSQL, the table ``forgotten_shoppers`` of that same database, created on the first
  forget, so a forget on one host is known to every host; its key is $SHOPBOT_FORGET_KEY
  (``config.forget_key``), which every host shares, never a file and never made here.

Either way it outlives whatever the store's retention deletes, and a record without its key is an error
(its hashes could no longer be matched).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recommender.errors import StoreError
from recommender.files import replaced_whole
from recommender.store.connection import FORGOTTEN_TABLE, StoreFile
from recommender.store.dialects import is_database_url

logger = logging.getLogger(__name__)

__all__ = ["PARTS", "ForgottenShoppers", "Matcher"]

PARTS = ("catalog", "model")  # the parts of a forget that may be left pending
BUSY_TIMEOUT_S = 10.0
# one row per forgotten shopper: the keyed hash, and 1 in each part's column while that part is pending
_COLUMNS = "digest {blob} PRIMARY KEY, " + ", ".join(f"{part} INTEGER NOT NULL DEFAULT 0" for part in PARTS)

_ExecuteMany = Callable[[str, Sequence[Sequence[Any]]], int]  # runs a statement per row; the rows changed


class _File:
    """The record in a SQLite file of its own, its key in a file beside it (made on the first forget)."""

    table = "forgotten"
    schema = f"CREATE TABLE IF NOT EXISTS forgotten ({_COLUMNS.format(blob='BLOB')}) WITHOUT ROWID"

    def __init__(self, path: Path) -> None:
        self.path, self.where = path, str(path)
        self.key_path = path.with_suffix(".key")

    def key(self) -> bytes | None:
        return bytes.fromhex(self.key_path.read_text().strip()) if self.key_path.exists() else None

    def lost_key(self) -> StoreError:
        return StoreError(f"{self.key_path} is missing, so the forgotten shoppers in {self.path} can no longer be "
                          "recognised; restore the key file from a backup.")

    def new_key(self) -> bytes:
        """Create the key file whole, 0600 (the caller holds the record's write lock: never two keys)."""
        key = secrets.token_bytes(32)
        with replaced_whole(self.key_path) as tmp:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(key.hex() + "\n")
        logger.info("Created the forgotten-shoppers key %s", self.key_path)
        return key

    def stamp(self) -> int | None:
        """The file's modification time (None: no record yet)."""
        try:
            return self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        if not self.path.exists():
            return []
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            return conn.execute(sql, list(params)).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise
        finally:
            conn.close()

    @contextmanager
    def write(self) -> Iterator[_ExecuteMany]:
        """One write transaction on the record file (created on first use), lock taken up front."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(self.schema)
            yield lambda sql, rows: conn.executemany(sql, rows).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()


class _Table(StoreFile):
    """The record as a table of the PostgreSQL store's database, which every host shares; its key is
    $SHOPBOT_FORGET_KEY. Its writes take the store's write lock (``recommender.store.dialects``)."""

    table = FORGOTTEN_TABLE
    schema = f"CREATE TABLE IF NOT EXISTS {FORGOTTEN_TABLE} ({_COLUMNS.format(blob='BYTEA')})"

    def key(self) -> bytes | None:
        from recommender import config

        return config.forget_key()

    def lost_key(self) -> StoreError:
        return StoreError(f"SHOPBOT_FORGET_KEY is not set, so the forgotten shoppers in table {self.table} of "
                          f"{self.where} can no longer be recognised; set it to the key the other hosts use.")

    def new_key(self) -> bytes:
        from recommender import config

        raise StoreError(f"SHOPBOT_FORGET_KEY is not set: the record of forgotten shoppers in {self.where} needs a "
                         f"key that every host shares. Make one with {config.FORGET_KEY_HOWTO} and set it in the "
                         "environment of every action server and of set-up.")

    def stamp(self) -> int:
        """How many shoppers the record holds (rows are only ever added)."""
        return _count(self)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        import psycopg2.errors

        try:
            return self._rows(sql, params)
        except psycopg2.errors.UndefinedTable:  # not created yet: no shopper forgotten
            return []

    @contextmanager
    def write(self) -> Iterator[_ExecuteMany]:
        """One write transaction, the store's write lock taken up front; the table created on first use."""
        with self._write():
            self._execute(self.schema)
            yield self._execute_many


def _count(db: _File | _Table) -> int:
    """How many shoppers the record holds."""
    rows = db.rows(f"SELECT count(*) FROM {db.table}")
    return rows[0][0] if rows else 0


class Matcher:
    """Callable: True for the id of a shopper forgotten when the record was read."""

    def __init__(self, record: ForgottenShoppers, digests: frozenset[bytes]) -> None:
        self.record, self.digests = record, digests

    def __call__(self, shopper_id: str) -> bool:
        return bool(self.digests) and self.record.digest(shopper_id) in self.digests


class ForgottenShoppers:
    """Keyed hashes of forgotten shoppers and the parts of their forget still pending."""

    def __init__(self, where: Path | str) -> None:
        """The record at ``where``: a SQLite file's path, or a PostgreSQL store's URL (``config.forgotten_path``).
        Raises StoreError for a record whose key is missing, InvalidSetting for a malformed key."""
        self.target = where  # as given: the file's path or the URL
        self._db = _Table.beside_store(where) if is_database_url(where) else _File(Path(where))
        self.where = self._db.where  # what messages call it (a database URL without its password)
        self._key = self._db.key()
        if self._key is None and len(self):
            raise self._db.lost_key()

    @classmethod
    def beside(cls, store: Path | str) -> ForgottenShoppers:
        """The record of the shopper store ``store`` (a file's path or a database URL; it may not exist yet)."""
        from recommender import config

        return cls(config.forgotten_path(store))

    @classmethod
    def configured(cls) -> ForgottenShoppers:
        """The record of the configured shopper store ($SHOPBOT_STORE or var/shop.db)."""
        from recommender import config

        return cls.beside(config.store_target())

    # ---- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return _count(self._db)

    def stamp(self) -> object:
        """A value that changes when a shopper is added to the record: a cheap "anything new?" test."""
        return self._db.stamp()

    def _known_key(self) -> bytes | None:
        """The key, read again while unknown (another process may have made it since)."""
        if self._key is None:
            self._key = self._db.key()
        return self._key

    def digest(self, shopper_id: str) -> bytes:
        """The keyed hash the record keeps for ``shopper_id`` (needs the key, so a non-empty record)."""
        key = self._known_key()
        if key is None:
            raise StoreError(f"{self.where} has no key yet; forget a shopper first")
        return hmac.new(key, shopper_id.encode("utf-8"), hashlib.sha256).digest()

    def matcher(self) -> Matcher:
        """A test "is this shopper id forgotten?" over the record as it is now (read once)."""
        rows = self._db.rows(f"SELECT digest FROM {self._db.table}")
        return Matcher(self, frozenset(bytes(row[0]) for row in rows))

    def __contains__(self, shopper_id: str) -> bool:
        return self._known_key() is not None and bool(
            self._db.rows(f"SELECT 1 FROM {self._db.table} WHERE digest = ?", [self.digest(shopper_id)]))

    def pending(self) -> dict[str, int]:
        """part -> how many forgotten shoppers still wait for it (parts with none are left out)."""
        sums = self._db.rows(f"SELECT {', '.join(f'coalesce(sum({part}), 0)' for part in PARTS)} "
                             f"FROM {self._db.table}")
        return {part: int(n) for part, n in zip(PARTS, sums[0] if sums else ()) if n}

    # ---- writing ------------------------------------------------------------------------------

    def add(self, shopper_id: str, pending: Iterable[str] = PARTS) -> None:
        """Record ``shopper_id`` as forgotten, with these parts of the forget still to do."""
        parts = set(pending)
        if unknown := parts - set(PARTS):
            raise ValueError(f"Unknown forget parts {sorted(unknown)}; expected some of {list(PARTS)}")
        with self._db.write() as execute_many:
            if self._known_key() is None:  # under the write lock: two processes never make two keys
                if self._db.rows(f"SELECT 1 FROM {self._db.table} LIMIT 1"):
                    raise self._db.lost_key()
                self._key = self._db.new_key()
            columns, marks = ", ".join(PARTS), ", ?" * len(PARTS)
            execute_many(f"INSERT INTO {self._db.table} (digest, {columns}) VALUES (?{marks}) ON CONFLICT (digest) "
                         f"DO UPDATE SET {', '.join(f'{part} = excluded.{part}' for part in PARTS)}",
                         [[self.digest(shopper_id), *(int(part in parts) for part in PARTS)]])

    def done(self, part: str, among: Matcher) -> int:
        """Mark ``part`` done for the shoppers ``among`` knew (a shopper forgotten since then keeps it
        pending); returns how many were waiting for it."""
        if part not in PARTS:
            raise ValueError(f"Unknown forget part {part!r}; expected one of {list(PARTS)}")
        if not among.digests:
            return 0
        with self._db.write() as execute_many:
            return execute_many(f"UPDATE {self._db.table} SET {part} = 0 WHERE digest = ? AND {part} = 1",
                                [(d,) for d in among.digests])
