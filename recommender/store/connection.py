"""The shop store's SQLite file: its schema, opening and checking it, one write transaction."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from recommender.errors import InvalidStoreValue, StoreError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "5"  # meta key "store_schema_version"; also tells a store from a catalog file
BUSY_TIMEOUT_S = 10.0  # how long a write waits for another process's transaction

# the cart changes each message made, so a replayed message (a retry after a crash) changes nothing
_CART_CHANGES = """CREATE TABLE cart_changes (
        shopper_id TEXT NOT NULL, message_id TEXT NOT NULL, product_id TEXT NOT NULL,
        change TEXT NOT NULL CHECK (change IN ('add', 'remove')), at TEXT NOT NULL,
        PRIMARY KEY (shopper_id, message_id, product_id, change))"""

# an order's status history, one row per change, oldest first (change_id); the first is 'placed'
_ORDER_STATUS = (
    """CREATE TABLE order_status (
        change_id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders (order_id),
        status TEXT NOT NULL CHECK (status IN ('placed', 'shipped', 'delivered', 'cancelled', 'returned')),
        at TEXT NOT NULL, note TEXT)""",
    "CREATE INDEX order_status_order ON order_status (order_id)",
)
# the order lines returned, each once and whole
_ORDER_RETURNS = """CREATE TABLE order_returns (
        return_id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, position INTEGER NOT NULL,
        quantity INTEGER NOT NULL CHECK (quantity > 0), at TEXT NOT NULL,
        UNIQUE (order_id, position),
        FOREIGN KEY (order_id, position) REFERENCES order_items (order_id, position))"""

# "tell me when it's back in stock / under 20": one per shopper, product and kind (recommender/store/watches.py)
_WATCHES = (
    """CREATE TABLE watches (
        watch_id INTEGER PRIMARY KEY, shopper_id TEXT NOT NULL, product_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('in_stock', 'price')), target_cents INTEGER,
        channel TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, fired_at TEXT,
        UNIQUE (shopper_id, product_id, kind))""",
    "CREATE INDEX watches_pending ON watches (fired_at, expires_at)",
)

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE cart (
        shopper_id TEXT NOT NULL, product_id TEXT NOT NULL,
        quantity INTEGER NOT NULL CHECK (quantity > 0),
        source TEXT NOT NULL, added_at TEXT NOT NULL, price_cents INTEGER,
        PRIMARY KEY (shopper_id, product_id))""",
    """CREATE TABLE orders (
        order_id INTEGER PRIMARY KEY AUTOINCREMENT, shopper_id TEXT NOT NULL,
        created_at TEXT NOT NULL, total_cents INTEGER NOT NULL)""",
    "CREATE INDEX orders_shopper ON orders (shopper_id)",
    """CREATE TABLE order_items (
        order_id INTEGER NOT NULL REFERENCES orders (order_id), position INTEGER NOT NULL,
        product_id TEXT NOT NULL, title TEXT NOT NULL,
        quantity INTEGER NOT NULL CHECK (quantity > 0), unit_price_cents INTEGER NOT NULL,
        PRIMARY KEY (order_id, position))""",
    """CREATE TABLE feedback (
        shopper_id TEXT NOT NULL, product_id TEXT NOT NULL,
        opinion TEXT NOT NULL CHECK (opinion IN ('like', 'dislike')), at TEXT NOT NULL,
        PRIMARY KEY (shopper_id, product_id))""",
    """CREATE TABLE events (
        event_id INTEGER PRIMARY KEY, at TEXT NOT NULL, shopper_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('shown', 'clicked', 'added', 'ordered')),
        source TEXT NOT NULL, product_id TEXT NOT NULL)""",
    "CREATE INDEX events_shopper ON events (shopper_id)",
    "CREATE INDEX events_at ON events (at)",
    _CART_CHANGES,
    *_ORDER_STATUS,
    _ORDER_RETURNS,
    *_WATCHES,
)
# version -> (next version, the statements that bring a file of that version to it)
_UPGRADES = {
    "1": ("2", (_CART_CHANGES,)),
    "2": ("3", (*_ORDER_STATUS, _ORDER_RETURNS,  # the orders so far were placed when created
                "INSERT INTO order_status (order_id, status, at)"
                " SELECT order_id, 'placed', created_at FROM orders ORDER BY order_id")),
    "3": ("4", ("ALTER TABLE cart ADD COLUMN price_cents INTEGER",)),  # lines added before: price not known
    "4": ("5", _WATCHES),
}

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(timezone.utc)


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        raise InvalidStoreValue(f"Time {at.isoformat()} has no time zone; pass an aware datetime, e.g. in UTC")
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")


class StoreFile:
    """One connection to a store file: opening and checking it, transactions, reads, the clock."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None, clock: Clock = utc_now) -> None:
        self.db = db
        self.path = path
        self.clock = clock
        self._lock = threading.RLock()  # one transaction at a time on this connection

    @classmethod
    def open(cls, path: str | Path, *, clock: Clock = utc_now) -> Self:
        """Open (and on first use create) a store file; raises StoreError for a file that is not a store."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        try:
            store = cls(sqlite_utils.Database(conn), path, clock)
            store._prepare()
        except sqlite3.DatabaseError as e:
            conn.close()
            raise StoreError(f"{path} is not a shopbot store ({e}). Set SHOPBOT_STORE to another file.") from e
        except BaseException:
            conn.close()
            raise
        return store

    def _prepare(self) -> None:
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA secure_delete = ON")  # forget() zeroes deleted rows, not just unlinks them
        version = None
        with self._write():  # checked before anything changes the file: it may be the catalog
            tables = set(self.db.table_names())
            if not tables:
                for statement in _SCHEMA:
                    self.db.execute(statement)
                self.db.execute("INSERT INTO meta (key, value) VALUES ('store_schema_version', ?)", [SCHEMA_VERSION])
                logger.info("Created the shopper store %s", self.path)
                version = SCHEMA_VERSION
            elif "meta" in tables:
                rows = self._rows("SELECT value FROM meta WHERE key = 'store_schema_version'")
                version = rows[0][0] if rows else None
                version = self._upgrade(version)
        if version is None:
            raise StoreError(f"{self.path} is not a shopbot store (is it the catalog?). "
                             "Set SHOPBOT_STORE to another file.")
        if version != SCHEMA_VERSION:
            raise StoreError(f"{self.path} has store schema version {version}; this shopbot reads version "
                             f"{SCHEMA_VERSION}. Use the shopbot that wrote it, or another SHOPBOT_STORE file.")
        self.db.enable_wal()  # readers never block the writer; several processes may share the file
        self.db.execute("PRAGMA synchronous = NORMAL")  # no fsync per commit: a power cut may lose the last ones

    def _upgrade(self, version: str | None) -> str | None:
        """Bring an older store file to SCHEMA_VERSION (the caller holds the write transaction)."""
        while version in _UPGRADES:
            version, statements = _UPGRADES[version]
            for statement in statements:
                self.db.execute(statement)
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'store_schema_version'", [version])
            logger.info("Upgraded the shopper store %s to schema version %s", self.path, version)
        return version

    def close(self) -> None:
        """Close the database connection."""
        self.db.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One transaction that takes the write lock up front (no deadlock between two processes)."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.db.execute("COMMIT")
            except BaseException:
                self.db.rollback()  # a no-op when the error already ended the transaction
                raise

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Several reads from one snapshot of the file (inside a write transaction: that transaction's)."""
        with self._lock:
            if self.db.conn.in_transaction:
                yield
                return
            self.db.execute("BEGIN")
            try:
                yield
            finally:
                self.db.execute("COMMIT")  # a read-only transaction: nothing to undo

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    def _now(self, at: datetime | None = None) -> str:
        return _iso(at or self.clock())

    def _insert_events(self, rows: Sequence[tuple[str, str, str, str, str]]) -> None:
        """Insert (at, shopper_id, kind, source, product_id) rows; the caller holds a transaction."""
        self.db.conn.executemany(
            "INSERT INTO events (at, shopper_id, kind, source, product_id) VALUES (?, ?, ?, ?, ?)", rows)
