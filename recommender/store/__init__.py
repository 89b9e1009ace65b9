"""Per-shopper state in its own SQLite file or PostgreSQL database: cart, orders, likes and dislikes,
recommendation events.

The store lives apart from the catalog on purpose: a catalog re-import swaps the catalog file
atomically and must not lose carts. With ``recommender.catalog``, the only package with SQL; values
are always bound parameters. Tables and the metric definitions are described in docs/store.md.

Every write is one transaction that takes the store's write lock first (SQLite's ``BEGIN IMMEDIATE``,
PostgreSQL's advisory lock) and a SQLite file is in WAL mode, so the action servers and the CLI may use
one store at once. Times are stored as ISO 8601 UTC text.

Modules: ``connection`` (schema, opening, upgrading, transactions), ``dialects`` (what SQLite and
PostgreSQL read differently), ``postgres`` (connecting to PostgreSQL), ``values`` (checks on ids,
sources, quantities, order statuses), ``carts`` (each change once per message), ``pricing`` (a cart at
today's catalog prices), ``orders`` (checkout, reading orders), ``order_status`` (after checkout: the
shop's status changes, cancelling, returns), ``likes``, ``events`` (events and metrics), ``shop``
(``ShopStore``, and forget).
"""

from recommender.store.carts import CartLine
from recommender.store.connection import SCHEMA_VERSION, Clock, exists, utc_now
from recommender.store.events import EVENT_KINDS, MetricsRow
from recommender.store.likes import Feedback
from recommender.store.order_status import MOVES
from recommender.store.orders import Order, OrderLine, StatusChange
from recommender.store.pricing import CartSummary, PricedLine, price_cart, to_money
from recommender.store.shop import ShopStore
from recommender.store.values import MAX_ID_CHARS, MAX_NOTE_CHARS, MAX_QUANTITY, ORDER_STATUSES

__all__ = [
    "EVENT_KINDS", "MAX_ID_CHARS", "MAX_NOTE_CHARS", "MAX_QUANTITY", "MOVES", "ORDER_STATUSES", "SCHEMA_VERSION",
    "CartLine", "CartSummary", "Clock", "Feedback", "MetricsRow", "Order", "OrderLine", "PricedLine", "ShopStore",
    "StatusChange", "exists", "price_cart", "to_money", "utc_now",
]
