"""Checkout and past orders: a cart becomes an order at today's catalog prices (no payment), with the
history of its status and the lines returned (changed by ``order_status``)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from recommender.catalog.products import Catalog
from recommender.errors import CheckoutRefused, EmptyCart, InvalidStoreValue, PricesChanged
from recommender.store.carts import CartLine, Carts
from recommender.store.pricing import CartSummary, price_cart, refusal
from recommender.store.values import can_be_order_id, cents, check_status, from_cents

logger = logging.getLogger(__name__)


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
class StatusChange:
    """One step of an order's history: its new status, when, and the shop's note (a tracking number)."""

    status: str
    at: datetime
    note: str | None


@dataclass(frozen=True)
class Order:
    """A checked-out cart (no payment is taken), its status history and the lines returned."""

    order_id: int
    created_at: datetime
    lines: list[OrderLine]  # a line's index is its position in order_items
    total: Decimal
    history: list[StatusChange]  # oldest first; the first is 'placed'
    returned: dict[int, int]  # line position -> quantity returned

    @property
    def status(self) -> str:
        """The current status: the last change's."""
        return self.history[-1].status

    @property
    def delivered_at(self) -> datetime | None:
        """When the order was delivered, or None."""
        return next((c.at for c in reversed(self.history) if c.status == "delivered"), None)


class Orders(Carts):
    """The ``orders`` and ``order_items`` tables, written from the cart at checkout, and reading orders
    with their ``order_status`` history and ``order_returns``."""

    def checkout(self, shopper_id: str, catalog: Catalog) -> Order:
        """Turn the cart into an order at today's catalog prices (no payment), in one transaction.

        Writes ``orders`` and ``order_items`` (title and price snapshots), empties the cart and logs
        an ``ordered`` event per line credited to the line's source. A failure writes none of it.
        Nothing is ordered at a price the shopper was not shown: when a line's price changed since it
        was added, the cart records today's prices as shown (the caller tells the shopper) and
        PricesChanged is raised; the next checkout orders at them.

        Raises:
            EmptyCart: nothing to order.
            CheckoutRefused: a product has no known price, is out of stock or left the catalog; the cart is
                unchanged.
            PricesChanged: a price changed since the shopper was shown it (a CheckoutRefused).
        """
        now = self._now()
        with self._write():
            cart = self.cart_lines(shopper_id)  # read inside the write lock: no add can slip in between
            if not cart:
                raise EmptyCart(f"The cart of shopper {shopper_id!r} is empty; add a product before checkout")
            summary = price_cart(cart, catalog)
            if not summary.orderable:
                raise CheckoutRefused(refusal(summary), summary)
            if summary.repriced:
                self._reprice(shopper_id, {line.product.id: line.unit_price for line in summary.repriced})
            else:
                order = self._place(shopper_id, cart, summary, now)
        if summary.repriced:  # outside the transaction, which has recorded the prices now shown
            changed = ", ".join(f"{line.product.id} {line.shown_price} -> {line.unit_price}"
                                for line in summary.repriced)
            raise PricesChanged(f"Prices changed since they were added to the cart: {changed}", summary)
        return order

    def _place(self, shopper_id: str, cart: Sequence[CartLine], summary: CartSummary, now: str) -> Order:
        """Write the order of an orderable cart and empty the cart (the caller holds the write transaction)."""
        (order_id,) = self._rows(
            "INSERT INTO orders (shopper_id, created_at, total_cents) VALUES (?, ?, ?) RETURNING order_id",
            [shopper_id, now, cents(summary.total)],
        )[0]
        lines = [OrderLine(p.product.id, p.product.display_title, p.quantity, p.unit_price)
                 for p in summary.lines if p.unit_price is not None]
        self._execute_many(
            "INSERT INTO order_items (order_id, position, product_id, title, quantity, unit_price_cents)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(order_id, i, o.product_id, o.title, o.quantity, cents(o.unit_price)) for i, o in enumerate(lines)],
        )
        sources = {line.product_id: line.source for line in cart}
        self._insert_events([(now, shopper_id, "ordered", sources[o.product_id], o.product_id) for o in lines])
        self._insert_status(order_id, "placed", now)
        self._execute("DELETE FROM cart WHERE shopper_id = ?", [shopper_id])
        logger.info("Order %s: %d lines, total %s", order_id, len(lines), summary.total)
        created = datetime.fromisoformat(now)
        return Order(order_id, created, lines, summary.total, [StatusChange("placed", created, None)], {})

    def orders(self, shopper_id: str) -> list[Order]:
        """The shopper's orders, oldest first."""
        with self._reading():
            ids = self._rows("SELECT order_id FROM orders WHERE shopper_id = ? ORDER BY order_id", [shopper_id])
            return self._load([row[0] for row in ids])

    def order(self, shopper_id: str, order_id: int) -> Order | None:
        """The shopper's order ``order_id``; None when there is none or it is another shopper's."""
        if not can_be_order_id(order_id):
            return None
        with self._reading():
            ids = self._rows("SELECT order_id FROM orders WHERE order_id = ? AND shopper_id = ?",
                             [order_id, shopper_id])
            return next(iter(self._load([row[0] for row in ids])), None)

    def shop_order(self, order_id: int) -> Order | None:
        """Order ``order_id`` whoever's it is (the shop's side), or None."""
        if not can_be_order_id(order_id):
            return None
        with self._reading():
            return next(iter(self._load([order_id])), None)

    def recent_orders(self, n: int = 20, status: str | None = None) -> list[Order]:
        """The ``n`` latest orders of every shopper (the shop's side), newest first; with ``status``,
        only the orders in that status now."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise InvalidStoreValue(f"The number of orders must be a whole number from 1, got {n!r:.80}")
        if status is not None:
            check_status(status)
        with self._reading():
            ids = self._rows(
                "SELECT order_id FROM orders o WHERE :status IS NULL OR :status = (SELECT s.status"
                " FROM order_status s WHERE s.order_id = o.order_id ORDER BY s.change_id DESC LIMIT 1)"
                " ORDER BY order_id DESC LIMIT :n", {"status": status, "n": n})
            return self._load([row[0] for row in ids])

    def _load(self, order_ids: Sequence[int]) -> list[Order]:
        """The orders with these ids, in this order (ids of no order are left out); the caller reads
        in one snapshot (``_reading``)."""
        if not order_ids:
            return []
        ids = list(order_ids)
        among = f"IN ({', '.join('?' * len(ids))})"  # one bound parameter per id
        items = self._rows(
            "SELECT o.order_id, o.created_at, o.total_cents, i.product_id, i.title, i.quantity, i.unit_price_cents"
            f" FROM orders o JOIN order_items i USING (order_id) WHERE o.order_id {among}"
            " ORDER BY o.order_id, i.position", ids)
        history: dict[int, list[StatusChange]] = {}
        for order_id, status, at, note in self._rows(
                f"SELECT order_id, status, at, note FROM order_status WHERE order_id {among} ORDER BY change_id", ids):
            history.setdefault(order_id, []).append(StatusChange(status, datetime.fromisoformat(at), note))
        returned: dict[int, dict[int, int]] = {}
        for order_id, position, quantity in self._rows(
                f"SELECT order_id, position, quantity FROM order_returns WHERE order_id {among} ORDER BY position",
                ids):
            returned.setdefault(order_id, {})[position] = quantity
        orders = {}
        for (order_id, created_at, total), rows in itertools.groupby(items, key=lambda r: r[:3]):
            lines = [OrderLine(r[3], r[4], r[5], from_cents(r[6])) for r in rows]
            orders[order_id] = Order(order_id, datetime.fromisoformat(created_at), lines, from_cents(total),
                                     history.get(order_id, []), returned.get(order_id, {}))
        return [orders[i] for i in order_ids if i in orders]

    def _insert_status(self, order_id: int, status: str, at: str, note: str | None = None) -> None:
        """Add a step to the order's history; the caller holds a transaction."""
        self._execute("INSERT INTO order_status (order_id, status, at, note) VALUES (?, ?, ?, ?)",
                      [order_id, status, at, note])
