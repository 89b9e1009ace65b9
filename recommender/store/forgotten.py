"""The record of forgotten shoppers: what is needed to keep forgetting them, and nothing more.

Each forgotten shopper is one row: a keyed hash of the id (HMAC-SHA256), so the record names nobody
to whoever reads it without the key, and the parts of the forget not done yet ("catalog": the
catalog file still holds their past purchases; "model": the collaborative checkpoint still holds
their history). The catalog import, the collaborative training and the model load skip every
shopper in the record, so a rebuilt catalog or a restarted server never brings one back; the
pending parts are retried at the next start and the next forget.

The record is its own SQLite file beside the shopper store (``shop.db`` -> ``shop.forgotten.db``; for a
store on PostgreSQL, ``<cache>/shop.forgotten.db``: each host's own, see docs/deployment.md),
with its key in ``shop.forgotten.key`` (0600). Its own file, not a table of the store: the importer,
set-up and the model load read it without opening (and so creating or upgrading) the store, and it
must outlive whatever the store's retention deletes. A missing record file is an empty record; a
record without its key is an error (its hashes could no longer be matched).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from recommender.errors import StoreError
from recommender.files import replaced_whole

logger = logging.getLogger(__name__)

__all__ = ["PARTS", "ForgottenShoppers", "Matcher"]

PARTS = ("catalog", "model")  # the parts of a forget that may be left pending
BUSY_TIMEOUT_S = 10.0
# one row per forgotten shopper: the keyed hash, and 1 in each part's column while that part is pending
_SCHEMA = ("CREATE TABLE IF NOT EXISTS forgotten (digest BLOB PRIMARY KEY, "
           + ", ".join(f"{part} INTEGER NOT NULL DEFAULT 0" for part in PARTS) + ") WITHOUT ROWID")




class Matcher:
    """Callable: True for the id of a shopper forgotten when the record was read."""

    def __init__(self, record: ForgottenShoppers, digests: frozenset[bytes]) -> None:
        self.record, self.digests = record, digests

    def __call__(self, shopper_id: str) -> bool:
        return bool(self.digests) and self.record.digest(shopper_id) in self.digests


class ForgottenShoppers:
    """Keyed hashes of forgotten shoppers and the parts of their forget still pending."""

    def __init__(self, path: Path, key: bytes | None) -> None:
        self.path = path
        self._key = key

    @classmethod
    def beside(cls, store: Path | str) -> ForgottenShoppers:
        """The record of the shopper store ``store`` (a file's path or a database URL; it may not exist yet):
        ``config.forgotten_path``."""
        from recommender import config

        path = config.forgotten_path(store)
        key_path = path.with_suffix(".key")
        key = bytes.fromhex(key_path.read_text().strip()) if key_path.exists() else None
        record = cls(path, key)
        if key is None and len(record):
            raise StoreError(f"{key_path} is missing, so the forgotten shoppers in {path} can no longer be "
                             "recognised; restore the key file from a backup.")
        return record

    @classmethod
    def configured(cls) -> ForgottenShoppers:
        """The record of the configured shopper store ($SHOPBOT_STORE or var/shop.db)."""
        from recommender import config

        return cls.beside(config.store_target())

    # ---- reading ------------------------------------------------------------------------------

    def _connect(self, *, write: bool) -> sqlite3.Connection:
        if write:
            return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)

    def _rows(self, sql: str, params: Iterable[object] = ()) -> list[tuple]:
        if not self.path.exists():
            return []
        conn = self._connect(write=False)
        try:
            return conn.execute(sql, list(params)).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise
        finally:
            conn.close()

    def __len__(self) -> int:
        rows = self._rows("SELECT count(*) FROM forgotten")
        return rows[0][0] if rows else 0

    def digest(self, shopper_id: str) -> bytes:
        """The keyed hash the record keeps for ``shopper_id`` (needs the key, so a non-empty record)."""
        if self._key is None:
            raise StoreError(f"{self.path} has no key yet; forget a shopper first")
        return hmac.new(self._key, shopper_id.encode("utf-8"), hashlib.sha256).digest()

    def matcher(self) -> Matcher:
        """A test "is this shopper id forgotten?" over the record as it is now (read once)."""
        return Matcher(self, frozenset(row[0] for row in self._rows("SELECT digest FROM forgotten")))

    def __contains__(self, shopper_id: str) -> bool:
        return self._key is not None and bool(
            self._rows("SELECT 1 FROM forgotten WHERE digest = ?", [self.digest(shopper_id)]))

    def pending(self) -> dict[str, int]:
        """part -> how many forgotten shoppers still wait for it (parts with none are left out)."""
        sums = self._rows(f"SELECT {', '.join(f'total({part})' for part in PARTS)} FROM forgotten")
        return {part: int(n) for part, n in zip(PARTS, sums[0] if sums else ()) if n}

    # ---- writing ------------------------------------------------------------------------------

    def add(self, shopper_id: str, pending: Iterable[str] = PARTS) -> None:
        """Record ``shopper_id`` as forgotten, with these parts of the forget still to do."""
        parts = set(pending)
        if unknown := parts - set(PARTS):
            raise ValueError(f"Unknown forget parts {sorted(unknown)}; expected some of {list(PARTS)}")
        with self._write() as conn:
            self._ensure_key()  # under the write lock: two processes never make two keys
            columns, marks = ", ".join(PARTS), ", ?" * len(PARTS)
            conn.execute(f"INSERT OR REPLACE INTO forgotten (digest, {columns}) VALUES (?{marks})",
                         [self.digest(shopper_id), *(int(part in parts) for part in PARTS)])

    def done(self, part: str, among: Matcher) -> int:
        """Mark ``part`` done for the shoppers ``among`` knew (a shopper forgotten since then keeps it
        pending); returns how many were waiting for it."""
        if part not in PARTS:
            raise ValueError(f"Unknown forget part {part!r}; expected one of {list(PARTS)}")
        if not among.digests:
            return 0
        with self._write() as conn:
            return conn.executemany(f"UPDATE forgotten SET {part} = 0 WHERE digest = ? AND {part} = 1",
                                    [(d,) for d in among.digests]).rowcount

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the record file (created on first use), lock taken up front."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect(write=True)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(_SCHEMA)
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    def _ensure_key(self) -> None:
        """Create the key file whole, 0600, unless it exists (the caller holds the record's write lock)."""
        key_path = self.path.with_suffix(".key")
        if key_path.exists():
            self._key = bytes.fromhex(key_path.read_text().strip())
            return
        key = secrets.token_bytes(32)
        with replaced_whole(key_path) as tmp:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(key.hex() + "\n")
        self._key = key
        logger.info("Created the forgotten-shoppers key %s", key_path)
