"""Checkout and past orders: a cart becomes an order at today's catalog prices (no payment)."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from recommender.catalog.products import Catalog
from recommender.errors import CheckoutRefused, EmptyCart
from recommender.store.carts import Carts
from recommender.store.pricing import CENT, price_cart, refusal

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
class Order:
    """A checked-out cart (no payment is taken)."""

    order_id: int
    created_at: datetime
    lines: list[OrderLine]
    total: Decimal


def _cents(amount: Decimal) -> int:
    return int(amount.quantize(CENT) * 100)


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


class Orders(Carts):
    """The ``orders`` and ``order_items`` tables, written from the cart at checkout."""

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
                raise CheckoutRefused(refusal(summary))
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
