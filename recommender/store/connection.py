"""The shopper store's database (a SQLite file, or PostgreSQL): its schema, opening and checking it, one write
transaction."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Self

from recommender.errors import InvalidStoreValue, StoreError
from recommender.store.dialects import POSTGRES, SQLITE, Dialect, is_database_url

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "5"  # meta key "store_schema_version"; also tells a store from a catalog file
BUSY_TIMEOUT_S = 10.0  # how long a write waits for another process's transaction
_ELSEWHERE = "Set SHOPBOT_STORE to another file or database URL."
# on PostgreSQL, the record of forgotten shoppers (recommender/store/forgotten.py) is a table of the store's
# database; it may be written before the store is first opened, and is no other program's table
FORGOTTEN_TABLE = "forgotten_shoppers"

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


def exists(target: str | Path) -> bool:
    """Whether there is a store at ``target`` yet: a SQLite file that exists, or any PostgreSQL URL (the
    database is the operator's to create; opening it says when it cannot be reached)."""
    return is_database_url(target) or Path(target).is_file()


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(timezone.utc)


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        raise InvalidStoreValue(f"Time {at.isoformat()} has no time zone; pass an aware datetime, e.g. in UTC")
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")


class StoreFile:
    """One connection to the shopper store (a SQLite file, or a PostgreSQL database): opening and checking
    it, transactions, reads, the clock. Store SQL is written once, in the SQL both engines read, with
    ``?`` and ``:name`` parameters; ``self.dialect`` adapts it (``recommender.store.postgres``)."""

    def __init__(self, conn: Any, dialect: Dialect = SQLITE, path: Path | None = None, clock: Clock = utc_now,
                 where: str | None = None, reconnect: Callable[[], Any] | None = None) -> None:
        self.conn = conn  # a DB-API connection that runs every statement on its own unless we BEGIN
        self.dialect = dialect
        self.path = path  # the SQLite file; None on PostgreSQL
        self.where = where or str(path)  # what messages call the store (a database URL without its password)
        self.clock = clock
        self._reconnect_to = reconnect  # a new connection, after the database dropped this one
        self._lock = threading.RLock()  # one transaction at a time on this connection
        self._transaction = False  # inside _write or _reading, after their BEGIN

    @classmethod
    def open(cls, target: str | Path, *, clock: Clock = utc_now) -> Self:
        """Open (and on first use create) a store: a SQLite file's path, or a ``postgresql://`` URL (whose
        password had better come from $PGPASSWORD or ~/.pgpass). Raises StoreError for a file or database
        that is not a store, or a database that cannot be reached."""
        if is_database_url(target):
            from recommender.store.postgres import connect

            conn, where = connect(str(target))
            return cls._prepared(conn, POSTGRES, None, clock, where, lambda: connect(str(target))[0])
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        return cls._prepared(conn, SQLITE, path, clock, str(path))

    @classmethod
    def beside_store(cls, url: str) -> Self:
        """A connection to the PostgreSQL database at ``url`` that leaves its tables as they are: the store's are
        neither created nor checked (for the record of forgotten shoppers, which lives there too)."""
        from recommender.store.postgres import connect

        conn, where = connect(url)
        database = cls(conn, POSTGRES, None, where=where, reconnect=lambda: connect(url)[0])
        for statement in POSTGRES.on_open:
            database._execute(statement)
        return database

    @classmethod
    def _prepared(cls, conn: Any, dialect: Dialect, path: Path | None, clock: Clock, where: str,
                  reconnect: Callable[[], Any] | None = None) -> Self:
        try:
            store = cls(conn, dialect, path, clock, where, reconnect)
            store._prepare()
        except dialect.database_error as e:
            conn.close()
            raise StoreError(f"{where} is not a shopbot store ({str(e).strip()}). {_ELSEWHERE}") from e
        except BaseException:
            conn.close()
            raise
        return store

    def _prepare(self) -> None:
        for statement in self.dialect.on_open:
            self._execute(statement)
        version = None
        with self._write():  # checked before anything changes the file: it may be the catalog
            tables = {row[0] for row in self._rows(self.dialect.tables)} - {FORGOTTEN_TABLE}
            if not tables:
                for statement in _SCHEMA:
                    self._execute(self.dialect.ddl(statement))
                self._execute("INSERT INTO meta (key, value) VALUES ('store_schema_version', ?)", [SCHEMA_VERSION])
                logger.info("Created the shopper store %s", self.where)
                version = SCHEMA_VERSION
            elif "meta" in tables:
                rows = self._rows("SELECT value FROM meta WHERE key = 'store_schema_version'")
                version = rows[0][0] if rows else None
                version = self._upgrade(version)
        if version is None:
            raise StoreError(f"{self.where} is not a shopbot store ({self.dialect.not_a_store}). {_ELSEWHERE}")
        if version != SCHEMA_VERSION:
            raise StoreError(f"{self.where} has store schema version {version}; this shopbot reads version "
                             f"{SCHEMA_VERSION}. Use the shopbot that wrote it, or another store. {_ELSEWHERE}")
        for statement in self.dialect.after_open:
            self._execute(statement)

    def _upgrade(self, version: str | None) -> str | None:
        """Bring an older store to SCHEMA_VERSION (the caller holds the write transaction)."""
        while version in _UPGRADES:
            version, statements = _UPGRADES[version]
            for statement in statements:
                self._execute(self.dialect.ddl(statement))
            self._execute("UPDATE meta SET value = ? WHERE key = 'store_schema_version'", [version])
            logger.info("Upgraded the shopper store %s to schema version %s", self.where, version)
        return version

    def close(self) -> None:
        """Close the database connection."""
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def in_transaction(self) -> bool:
        return self.dialect.in_transaction(self.conn)

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One transaction that takes the store's write lock up front (no deadlock between two processes)."""
        with self._lock:
            self._begin(self.dialect.begin_write)
            try:
                yield
                self._execute("COMMIT")
            except BaseException:
                self.dialect.rollback(self.conn)
                raise
            finally:
                self._transaction = False

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Several reads from one snapshot of the store (inside a write transaction: that transaction's)."""
        with self._lock:
            if self.in_transaction:
                yield
                return
            self._begin(self.dialect.begin_read)
            try:
                yield
            finally:
                self._transaction = False
                self._execute("COMMIT")  # a read-only transaction: nothing to undo

    def _begin(self, statements: Sequence[str]) -> None:
        """Begin a transaction (its first statement is BEGIN, which may run again on a new connection)."""
        self._execute(statements[0])
        self._transaction = True
        for statement in statements[1:]:
            self._execute(statement)

    def _cursor(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> Any:
        """Run a statement; one outside a transaction runs again, once, on a new connection when the database
        dropped this one (a PostgreSQL restart): a transaction's statements are not run again."""
        try:
            return self._run(sql, params)
        except self.dialect.connection_lost:
            if self._transaction or self._reconnect_to is None:
                raise
            logger.warning("The shopper store %s dropped the connection; connecting again", self.where)
            self.conn.close()
            self.conn = self._reconnect_to()
            for statement in self.dialect.on_open:
                self._run(statement, ())
            return self._run(sql, params)

    def _run(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> Any:
        cursor = self.conn.cursor()
        cursor.execute(self.dialect.sql(sql), params)
        return cursor

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        """The rows a query (or a statement with RETURNING) gives."""
        with self._lock:
            return [tuple(row) for row in self._cursor(sql, params).fetchall()]

    def _execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Run one statement; returns the rows it changed."""
        with self._lock:
            return self._cursor(sql, params).rowcount

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run one statement for each row of parameters (the caller holds a transaction); returns the rows it
        changed."""
        if not rows:
            return 0
        cursor = self.conn.cursor()
        cursor.executemany(self.dialect.sql(sql), rows)
        return cursor.rowcount

    def _now(self, at: datetime | None = None) -> str:
        return _iso(at or self.clock())

    def _insert_events(self, rows: Sequence[tuple[str, str, str, str, str]]) -> None:
        """Insert (at, shopper_id, kind, source, product_id) rows; the caller holds a transaction."""
        self._execute_many("INSERT INTO events (at, shopper_id, kind, source, product_id) VALUES (?, ?, ?, ?, ?)", rows)
