"""Shoppers' carts: add, remove, list and clear cart lines; once per message when it names its message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from recommender.errors import InvalidStoreValue, NotInCart
from recommender.store.connection import StoreFile
from recommender.store.values import MAX_QUANTITY, cents, check_id, check_quantity, check_source, from_cents


@dataclass(frozen=True)
class CartLine:
    """One product in a cart."""

    product_id: str
    quantity: int
    added_at: datetime  # first added; adding more keeps the line's place
    source: str  # the list it was first added from: search, recommend, similar, ...
    price: Decimal | None = None  # the unit price the shopper was shown when adding it (None: not known)


REPLAY_WINDOW = timedelta(days=1)  # how long a message's cart changes are remembered: a retry comes sooner
Change = Literal["add", "remove"]


class Carts(StoreFile):
    """The ``cart`` table: one line per shopper and product; ``cart_changes``: what each message changed."""

    def add_to_cart(self, shopper_id: str, product_id: str, quantity: int = 1, *, source: str = "cart",
                    message_id: str | None = None, price: Decimal | None = None) -> int:
        """Add ``quantity`` of a product and log an ``added`` event from ``source``; returns the new quantity.

        Args:
            source: the list the shopper added it from (search, recommend, similar, ...); the line
                keeps the source of its first add, and checkout credits its ``ordered`` event to it.
            price: the unit price the shopper was shown (the latest add's counts): checkout tells them
                when today's differs.
            message_id: the shopper's message this add answers. A message that already added this
                product (a retry after a crash) adds nothing and returns the line's quantity.
        """
        check_id(shopper_id, "Shopper id")
        check_id(product_id, "Product id")
        check_quantity(quantity)
        check_source(source)
        now = self._now()
        with self._write():
            if not self._first_change(shopper_id, message_id, product_id, "add", now):
                return self._quantity(shopper_id, product_id)
            (new,) = self._rows(
                "INSERT INTO cart (shopper_id, product_id, quantity, source, added_at, price_cents)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (shopper_id, product_id) DO UPDATE SET"
                " quantity = cart.quantity + excluded.quantity, price_cents = excluded.price_cents RETURNING quantity",
                [shopper_id, product_id, quantity, source, now, None if price is None else cents(price)],
            )[0]
            if new > MAX_QUANTITY:
                raise InvalidStoreValue(f"At most {MAX_QUANTITY} of product {product_id!r} fit in a cart")
            self._insert_events([(now, shopper_id, "added", source, product_id)])
        return new

    def remove_from_cart(self, shopper_id: str, product_id: str, quantity: int | None = None, *,
                         message_id: str | None = None) -> int:
        """Remove ``quantity`` (None: the whole line); returns what is left. Raises NotInCart.

        Args:
            message_id: the shopper's message this removal answers. A message that already removed
                this product (a retry after a crash) removes nothing and returns what is left.
        """
        if quantity is not None:
            check_quantity(quantity)
        now = self._now()
        with self._write():
            if not self._first_change(shopper_id, message_id, product_id, "remove", now):
                return self._quantity(shopper_id, product_id)
            rows = self._rows("SELECT quantity FROM cart WHERE shopper_id = ? AND product_id = ?",
                              [shopper_id, product_id])
            if not rows:
                raise NotInCart(f"Product {product_id!r} is not in the cart of shopper {shopper_id!r}")
            left = 0 if quantity is None else max(rows[0][0] - quantity, 0)
            if left:
                self._execute("UPDATE cart SET quantity = ? WHERE shopper_id = ? AND product_id = ?",
                                [left, shopper_id, product_id])
            else:
                self._execute("DELETE FROM cart WHERE shopper_id = ? AND product_id = ?", [shopper_id, product_id])
        return left

    def removed_by(self, shopper_id: str, message_id: str) -> list[str]:
        """The products this message already removed from the cart, in the order removed ([] for a new message)."""
        rows = self._rows("SELECT product_id FROM cart_changes WHERE shopper_id = ? AND message_id = ?"
                          " AND change = 'remove' ORDER BY rowid", [shopper_id, message_id])
        return [r[0] for r in rows]

    def cart_lines(self, shopper_id: str) -> list[CartLine]:
        """The shopper's cart in the order the products were first added; [] when empty."""
        rows = self._rows("SELECT product_id, quantity, added_at, source, price_cents FROM cart WHERE shopper_id = ?"
                          " ORDER BY added_at, rowid", [shopper_id])
        return [CartLine(pid, qty, datetime.fromisoformat(at), source, None if shown is None else from_cents(shown))
                for pid, qty, at, source, shown in rows]

    def _reprice(self, shopper_id: str, prices: dict[str, Decimal]) -> None:
        """Record that the shopper was shown these unit prices (product id -> price) for their cart's lines
        (the caller holds the write transaction)."""
        self._execute_many("UPDATE cart SET price_cents = ? WHERE shopper_id = ? AND product_id = ?",
                           [(cents(price), shopper_id, pid) for pid, price in prices.items()])

    def clear_cart(self, shopper_id: str) -> int:
        """Empty the cart; returns the number of lines removed."""
        with self._write():
            return self._execute("DELETE FROM cart WHERE shopper_id = ?", [shopper_id])

    def _quantity(self, shopper_id: str, product_id: str) -> int:
        rows = self._rows("SELECT quantity FROM cart WHERE shopper_id = ? AND product_id = ?", [shopper_id, product_id])
        return rows[0][0] if rows else 0

    def _first_change(self, shopper_id: str, message_id: str | None, product_id: str, change: Change,
                      now: str) -> bool:
        """Record that the message makes this change; False when it already did (a replay). Without a
        message id every call is a change of its own. The caller holds the write transaction, which also
        drops the shopper's records older than REPLAY_WINDOW."""
        if message_id is None:
            return True
        check_id(message_id, "Message id")
        self._execute("DELETE FROM cart_changes WHERE shopper_id = ? AND at < ?",
                      [shopper_id, self._now(datetime.fromisoformat(now) - REPLAY_WINDOW)])
        return self._execute(
            "INSERT INTO cart_changes (shopper_id, message_id, product_id, change, at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING", [shopper_id, message_id, product_id, change, now]) == 1
