"""Per-shopper state in its own SQLite file: cart, orders, likes and dislikes, recommendation events.

The store lives apart from the catalog on purpose: a catalog re-import swaps the catalog file
atomically and must not lose carts. With catalog.py, the only module with SQL; values are always
bound parameters. Tables and the metric definitions are described in docs/store.md.

Every write is one ``BEGIN IMMEDIATE`` transaction and the file is in WAL mode, so the action server
and the CLI may use the same file at once. Times are stored as ISO 8601 UTC text.
"""

from __future__ import annotations

import itertools
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

import sqlite_utils

from recommender.catalog.products import Catalog, Product
from recommender.errors import CheckoutRefused, EmptyCart, InvalidStoreValue, NotInCart, StoreError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1"  # meta key "store_schema_version"; also tells a store from a catalog file
EVENT_KINDS = ("shown", "clicked", "added", "ordered")
MAX_QUANTITY = 999  # per cart line
MAX_ID_CHARS = 200  # shopper and product ids are opaque labels, never message text
BUSY_TIMEOUT_S = 10.0  # how long a write waits for another process's transaction
CENT = Decimal("0.01")
_SOURCE = re.compile(r"[a-z_]{1,20}")
_GROUPS = {"day": "substr(at, 1, 10)", "source": "source"}  # metrics(by=...) -> fixed SQL expression

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE cart (
        shopper_id TEXT NOT NULL, product_id TEXT NOT NULL,
        quantity INTEGER NOT NULL CHECK (quantity > 0),
        source TEXT NOT NULL, added_at TEXT NOT NULL,
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
)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class CartLine:
    """One product in a cart."""

    product_id: str
    quantity: int
    added_at: datetime  # first added; adding more keeps the line's place
    source: str  # the list it was first added from: search, recommend, similar, ...


@dataclass(frozen=True)
class PricedLine:
    """A cart line with its catalog product; prices are None when the catalog has none."""

    product: Product
    quantity: int
    unit_price: Decimal | None
    line_total: Decimal | None


@dataclass(frozen=True)
class CartSummary:
    """A priced cart. ``total`` sums the priced lines only, exact to the cent."""

    lines: list[PricedLine]  # products still in the catalog, in the order added
    total: Decimal
    unpriced: list[Product]  # in ``lines`` but without a price (not in the total)
    missing: list[str]  # product ids no longer in the catalog (neither in lines nor total)

    @property
    def complete(self) -> bool:
        """True when every line is in the catalog and priced, so ``total`` is the cart's price."""
        return not self.unpriced and not self.missing


@dataclass(frozen=True)
class OrderLine:
    """One ordered product, with the title and unit price it had at checkout."""

    product_id: str
    title: str
    quantity: int
    unit_price: Decimal

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Order:
    """A checked-out cart (no payment is taken)."""

    order_id: int
    created_at: datetime
    lines: list[OrderLine]
    total: Decimal


@dataclass(frozen=True)
class Feedback:
    """A shopper's current opinions, oldest first; the latest like or dislike of a product wins."""

    liked: list[str]
    disliked: list[str]


@dataclass(frozen=True)
class MetricsRow:
    """Event counts of one day or source, and the rates over ``shown`` (None when nothing was shown)."""

    key: str
    shown: int
    clicked: int
    added: int
    ordered: int
    ctr: float | None
    add_to_cart_rate: float | None
    conversion: float | None


def to_money(price: float | Decimal) -> Decimal:
    """A catalog price as an exact Decimal rounded to the cent (half up): 8.99 -> Decimal('8.99')."""
    return Decimal(str(price)).quantize(CENT, rounding=ROUND_HALF_UP)


def _cents(amount: Decimal) -> int:
    return int(amount.quantize(CENT) * 100)


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def price_cart(lines: Sequence[CartLine], catalog: Catalog) -> CartSummary:
    """Price cart lines with today's catalog; products gone from it are reported in ``missing``."""
    products = {p.id: p for p in catalog.get_products([line.product_id for line in lines])}
    priced: list[PricedLine] = []
    missing: list[str] = []
    for line in lines:
        product = products.get(line.product_id)
        if product is None:
            missing.append(line.product_id)
            continue
        unit = to_money(product.price) if product.price is not None else None
        total = unit * line.quantity if unit is not None else None
        priced.append(PricedLine(product, line.quantity, unit, total))
    return CartSummary(
        lines=priced,
        total=sum((p.line_total for p in priced if p.line_total is not None), Decimal("0.00")),
        unpriced=[p.product for p in priced if p.unit_price is None],
        missing=missing,
    )


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        raise InvalidStoreValue(f"Time {at.isoformat()} has no time zone; pass an aware datetime, e.g. in UTC")
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _check_id(value: Any, what: str) -> None:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise InvalidStoreValue(f"{what} must be a non-empty string of at most {MAX_ID_CHARS} characters, "
                                f"got {value!r:.80}")


def _check_source(source: Any) -> None:
    if not isinstance(source, str) or not _SOURCE.fullmatch(source):
        raise InvalidStoreValue(f"Source {source!r:.80} is not a short label of 1-20 letters a-z or '_', "
                                "e.g. search, recommend, similar")


def _check_quantity(quantity: Any) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidStoreValue(f"Quantity {quantity!r:.80} must be a whole number from 1 to {MAX_QUANTITY}")


def _rate(count: int, shown: int) -> float | None:
    return count / shown if shown else None


class ShopStore:
    """Carts, orders, feedback and events of every shopper, in one SQLite file."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None, clock: Clock = utc_now) -> None:
        self.db = db
        self.path = path
        self.clock = clock
        self._lock = threading.RLock()  # one transaction at a time on this connection

    @classmethod
    def open(cls, path: str | Path, *, clock: Clock = utc_now) -> ShopStore:
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
        if version is None:
            raise StoreError(f"{self.path} is not a shopbot store (is it the catalog?). "
                             "Set SHOPBOT_STORE to another file.")
        if version != SCHEMA_VERSION:
            raise StoreError(f"{self.path} has store schema version {version}; this shopbot reads version "
                             f"{SCHEMA_VERSION}. Use the shopbot that wrote it, or another SHOPBOT_STORE file.")
        self.db.enable_wal()  # readers never block the writer; several processes may share the file
        self.db.execute("PRAGMA synchronous = NORMAL")  # no fsync per commit: a power cut may lose the last ones

    def close(self) -> None:
        """Close the database connection."""
        self.db.conn.close()

    def __enter__(self) -> ShopStore:
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

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    def _now(self, at: datetime | None = None) -> str:
        return _iso(at or self.clock())

    def _insert_events(self, rows: Sequence[tuple[str, str, str, str, str]]) -> None:
        """Insert (at, shopper_id, kind, source, product_id) rows; the caller holds a transaction."""
        self.db.conn.executemany(
            "INSERT INTO events (at, shopper_id, kind, source, product_id) VALUES (?, ?, ?, ?, ?)", rows)

    # -- cart ---------------------------------------------------------------------------------

    def add_to_cart(self, shopper_id: str, product_id: str, quantity: int = 1, *, source: str = "cart") -> int:
        """Add ``quantity`` of a product and log an ``added`` event from ``source``; returns the new quantity.

        Args:
            source: the list the shopper added it from (search, recommend, similar, ...); the line
                keeps the source of its first add, and checkout credits its ``ordered`` event to it.
        """
        _check_id(shopper_id, "Shopper id")
        _check_id(product_id, "Product id")
        _check_quantity(quantity)
        _check_source(source)
        now = self._now()
        with self._write():
            (new,) = self._rows(
                "INSERT INTO cart (shopper_id, product_id, quantity, source, added_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (shopper_id, product_id) DO UPDATE SET quantity = quantity + excluded.quantity"
                " RETURNING quantity",
                [shopper_id, product_id, quantity, source, now],
            )[0]
            if new > MAX_QUANTITY:
                raise InvalidStoreValue(f"At most {MAX_QUANTITY} of product {product_id!r} fit in a cart")
            self._insert_events([(now, shopper_id, "added", source, product_id)])
        return new

    def remove_from_cart(self, shopper_id: str, product_id: str, quantity: int | None = None) -> int:
        """Remove ``quantity`` (None: the whole line); returns what is left. Raises NotInCart."""
        if quantity is not None:
            _check_quantity(quantity)
        with self._write():
            rows = self._rows("SELECT quantity FROM cart WHERE shopper_id = ? AND product_id = ?",
                              [shopper_id, product_id])
            if not rows:
                raise NotInCart(f"Product {product_id!r} is not in the cart of shopper {shopper_id!r}")
            left = 0 if quantity is None else max(rows[0][0] - quantity, 0)
            if left:
                self.db.execute("UPDATE cart SET quantity = ? WHERE shopper_id = ? AND product_id = ?",
                                [left, shopper_id, product_id])
            else:
                self.db.execute("DELETE FROM cart WHERE shopper_id = ? AND product_id = ?", [shopper_id, product_id])
        return left

    def cart_lines(self, shopper_id: str) -> list[CartLine]:
        """The shopper's cart in the order the products were first added; [] when empty."""
        rows = self._rows("SELECT product_id, quantity, added_at, source FROM cart WHERE shopper_id = ?"
                          " ORDER BY added_at, rowid", [shopper_id])
        return [CartLine(pid, qty, datetime.fromisoformat(at), source) for pid, qty, at, source in rows]

    def clear_cart(self, shopper_id: str) -> int:
        """Empty the cart; returns the number of lines removed."""
        with self._write():
            return self.db.execute("DELETE FROM cart WHERE shopper_id = ?", [shopper_id]).rowcount

    # -- orders -------------------------------------------------------------------------------

    def checkout(self, shopper_id: str, catalog: Catalog) -> Order:
        """Turn the cart into an order at today's catalog prices (no payment), in one transaction.

        Writes ``orders`` and ``order_items`` (title and price snapshots), empties the cart and logs
        an ``ordered`` event per line credited to the line's source. A failure writes none of it.

        Raises:
            EmptyCart: nothing to order.
            CheckoutRefused: a product has no known price or left the catalog; the cart is unchanged.
        """
        now = self._now()
        with self._write():
            cart = self.cart_lines(shopper_id)  # read inside the write lock: no add can slip in between
            if not cart:
                raise EmptyCart(f"The cart of shopper {shopper_id!r} is empty; add a product before checkout")
            summary = price_cart(cart, catalog)
            if not summary.complete:
                raise CheckoutRefused(_refusal(summary))
            (order_id,) = self._rows(
                "INSERT INTO orders (shopper_id, created_at, total_cents) VALUES (?, ?, ?) RETURNING order_id",
                [shopper_id, now, _cents(summary.total)],
            )[0]
            lines = [OrderLine(p.product.id, p.product.display_title, p.quantity, p.unit_price)
                     for p in summary.lines if p.unit_price is not None]
            self.db.conn.executemany(
                "INSERT INTO order_items (order_id, position, product_id, title, quantity, unit_price_cents)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(order_id, i, o.product_id, o.title, o.quantity, _cents(o.unit_price)) for i, o in enumerate(lines)],
            )
            sources = {line.product_id: line.source for line in cart}
            self._insert_events([(now, shopper_id, "ordered", sources[o.product_id], o.product_id) for o in lines])
            self.db.execute("DELETE FROM cart WHERE shopper_id = ?", [shopper_id])
        logger.info("Order %s: %d lines, total %s", order_id, len(lines), summary.total)
        return Order(order_id, datetime.fromisoformat(now), lines, summary.total)

    def orders(self, shopper_id: str) -> list[Order]:
        """The shopper's orders, oldest first."""
        rows = self._rows(
            "SELECT o.order_id, o.created_at, o.total_cents, i.product_id, i.title, i.quantity, i.unit_price_cents"
            " FROM orders o JOIN order_items i USING (order_id) WHERE o.shopper_id = ?"
            " ORDER BY o.order_id, i.position", [shopper_id])
        orders = []
        for (order_id, created_at, total), items in itertools.groupby(rows, key=lambda r: r[:3]):
            lines = [OrderLine(r[3], r[4], r[5], _money(r[6])) for r in items]
            orders.append(Order(order_id, datetime.fromisoformat(created_at), lines, _money(total)))
        return orders

    # -- feedback -----------------------------------------------------------------------------

    def like(self, shopper_id: str, product_id: str) -> None:
        """Record that the shopper likes the product (replaces an earlier dislike)."""
        self._set_opinion(shopper_id, product_id, "like")

    def dislike(self, shopper_id: str, product_id: str) -> None:
        """Record that the shopper dislikes the product (replaces an earlier like)."""
        self._set_opinion(shopper_id, product_id, "dislike")

    def _set_opinion(self, shopper_id: str, product_id: str, opinion: str) -> None:
        _check_id(shopper_id, "Shopper id")
        _check_id(product_id, "Product id")
        now = self._now()
        with self._write():  # REPLACE deletes and re-inserts: the row moves to the end of the time order
            self.db.execute("INSERT OR REPLACE INTO feedback (shopper_id, product_id, opinion, at) VALUES (?, ?, ?, ?)",
                            [shopper_id, product_id, opinion, now])

    def feedback(self, shopper_id: str) -> Feedback:
        """The shopper's liked and disliked products, each oldest first."""
        rows = self._rows("SELECT product_id, opinion FROM feedback WHERE shopper_id = ? ORDER BY at, rowid",
                          [shopper_id])
        return Feedback(liked=[p for p, o in rows if o == "like"], disliked=[p for p, o in rows if o == "dislike"])

    def session_items(self, shopper_id: str) -> list[str]:
        """The products that personalise this shopper's next recommendations, oldest first.

        Liked products, products in the cart and ordered products, each placed at the time it was
        liked, first added or ordered (a product appears once, at its earliest time), minus the
        products the shopper currently dislikes.
        """
        rows = self._rows(
            "SELECT product_id FROM ("
            "  SELECT product_id, at, 0 AS k, rowid AS r FROM feedback WHERE shopper_id = :s AND opinion = 'like'"
            "  UNION ALL SELECT product_id, added_at, 1, rowid FROM cart WHERE shopper_id = :s"
            "  UNION ALL SELECT i.product_id, o.created_at, 2, i.position"
            "    FROM order_items i JOIN orders o USING (order_id) WHERE o.shopper_id = :s"
            ") WHERE product_id NOT IN"
            "  (SELECT product_id FROM feedback WHERE shopper_id = :s AND opinion = 'dislike')"
            " ORDER BY at, k, r", {"s": shopper_id})
        return list(dict.fromkeys(r[0] for r in rows))

    # -- events and metrics -------------------------------------------------------------------

    def log_events(self, shopper_id: str, kind: str, product_ids: Sequence[str], source: str,
                   at: datetime | None = None) -> int:
        """Log one event per product; returns how many. Ids and labels only, never message text.

        Args:
            kind: shown, clicked (details, similar or add asked for a shown product), added or
                ordered. ``add_to_cart`` and ``checkout`` log added and ordered themselves.
            source: the list the products were shown in: search, recommend, similar, details,
                compare, cart, ... (1-20 letters a-z or '_').
        """
        if kind not in EVENT_KINDS:
            raise InvalidStoreValue(f"Event kind {kind!r:.80} is not one of {', '.join(EVENT_KINDS)}")
        _check_source(source)
        _check_id(shopper_id, "Shopper id")
        if isinstance(product_ids, str):
            raise InvalidStoreValue(f"product_ids must be a list of ids, not the string {product_ids!r:.80}")
        for product_id in product_ids:
            _check_id(product_id, "Product id")
        now = self._now(at)
        with self._write():
            self._insert_events([(now, shopper_id, kind, source, pid) for pid in product_ids])
        return len(product_ids)

    def metrics(self, by: Literal["day", "source"] = "day", since: date | None = None) -> list[MetricsRow]:
        """Event counts and rates per UTC day or per source, ordered by key.

        CTR = clicked / shown, add-to-cart rate = added / shown, conversion = ordered / shown: ratios
        of the group's event counts (one event per product), None when nothing was shown. They are
        not per-impression funnels: a product shown on Monday and ordered on Tuesday counts on both days.

        Args:
            since: only events on or after this UTC day.
        """
        if by not in _GROUPS:
            raise InvalidStoreValue(f"Metrics grouping {by!r:.80} is not one of {', '.join(_GROUPS)}")
        rows = self._rows(  # the grouping expression is one of the fixed _GROUPS; values are bound
            f"SELECT {_GROUPS[by]} AS key, sum(kind = 'shown'), sum(kind = 'clicked'), sum(kind = 'added'),"
            " sum(kind = 'ordered') FROM events WHERE at >= ? GROUP BY key ORDER BY key",
            [since.isoformat() if since else ""])
        return [MetricsRow(key, shown, clicked, added, ordered, _rate(clicked, shown), _rate(added, shown),
                           _rate(ordered, shown)) for key, shown, clicked, added, ordered in rows]

    # -- privacy ------------------------------------------------------------------------------

    def forget(self, shopper_id: str) -> dict[str, int]:
        """Delete every row about the shopper, in one transaction; returns rows deleted per table."""
        steps = {
            "cart": "DELETE FROM cart WHERE shopper_id = ?",
            "order_items": "DELETE FROM order_items WHERE order_id IN"
                           " (SELECT order_id FROM orders WHERE shopper_id = ?)",
            "orders": "DELETE FROM orders WHERE shopper_id = ?",
            "feedback": "DELETE FROM feedback WHERE shopper_id = ?",
            "events": "DELETE FROM events WHERE shopper_id = ?",
        }
        with self._write():
            deleted = {table: self.db.execute(sql, [shopper_id]).rowcount for table, sql in steps.items()}
        with self._lock:  # the deleted rows' bytes (zeroed in the file) also leave the write-ahead log
            empty_write_ahead_log(self.db, "rows")
        logger.info("Forgot a shopper: %s", deleted)  # the id itself is not logged
        return deleted


def empty_write_ahead_log(db: sqlite3.Connection, forgotten: str) -> None:
    """Checkpoint and truncate the SQLite file's write-ahead log, so that what was just deleted
    leaves it too; warn if another connection kept it in use beyond the busy timeout."""
    busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    if busy:
        logger.warning("Forget: the write-ahead log was in use and was not emptied; the forgotten %s' bytes "
                       "stay in it until later writes overwrite them", forgotten)


def _refusal(summary: CartSummary) -> str:
    problems = [f"{p.display_title} ({p.id}) has no price" for p in summary.unpriced]
    problems += [f"product {pid!r} is no longer in the catalog" for pid in summary.missing]
    return f"Cannot check out: {'; '.join(problems)}. Remove {'it' if len(problems) == 1 else 'them'} first."
