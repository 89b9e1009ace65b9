"""After checkout: the shop moves an order along (shipped, delivered, ...); the shopper cancels it
before it ships, or returns lines of it within the return window.

Every change is one transaction that adds a row to the order's history (``order_status``) and, for
returns, one ``order_returns`` row per line. The allowed moves are ``MOVES``; docs/store.md.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from recommender.errors import InvalidOrderChange, InvalidStoreValue, OrderNotFound
from recommender.i18n.messages import N_
from recommender.store.orders import Order, Orders
from recommender.store.values import can_be_order_id, check_id, check_status, clean_note

logger = logging.getLogger(__name__)

# status -> the statuses the shop may move an order in it to (the last two end its history)
MOVES = {
    "placed": ("shipped", "delivered", "cancelled"),
    "shipped": ("delivered",),
    "delivered": ("returned",),
    "cancelled": (),
    "returned": (),
}
# how an order in each status is described in a refusal: "Order #12 has shipped: ..."
_IS = {"placed": "is placed", "shipped": "has shipped", "delivered": "has been delivered",
       "cancelled": "has been cancelled", "returned": "has been returned"}
# why an order that is not 'delivered' has no line to return
_NO_RETURN = {"placed": "has not been delivered yet: its lines can be returned once it is",
              "shipped": "has not been delivered yet: its lines can be returned once it is",
              "cancelled": "has been cancelled: there is nothing to return",
              "returned": "has been returned: every line of it is back already"}


def _or(words: tuple[str, ...]) -> str:
    """("a", "b", "c") -> "a, b or c"."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


class OrderChanges(Orders):
    """The ``order_status`` history and ``order_returns``: the shop's status changes, the shopper's
    cancellations and returns."""

    def set_order_status(self, order_id: int, status: str, note: str | None = None) -> Order:
        """Move an order of any shopper to ``status`` (the shop's side), with an optional note.

        Moving a delivered order to 'returned' records its lines not returned yet as returned.

        Raises:
            OrderNotFound: no such order.
            InvalidOrderChange: ``MOVES`` does not allow it from the order's current status.
            InvalidStoreValue: a status not in ORDER_STATUSES, or a note over MAX_NOTE_CHARS.
        """
        check_status(status)
        note = clean_note(note)
        now = self._now()
        with self._write():
            order = self._changing(order_id)
            if status not in MOVES[order.status]:
                allowed = (f"it can only become {_or(MOVES[order.status])}, not {status}" if MOVES[order.status]
                           else "its status can no longer change")
                raise InvalidOrderChange(f"Order #{order_id} {_IS[order.status]}: {allowed}")
            if status == "returned":
                self._insert_returns(order, [p for p in range(len(order.lines)) if p not in order.returned], now)
            self._insert_status(order_id, status, now, note)
            changed = self._load([order_id])[0]
        logger.info("Order %s is now %s", order_id, status)
        return changed

    def cancel_order(self, shopper_id: str, order_id: int) -> Order:
        """Cancel the shopper's order, which it can be while it is 'placed' (not shipped yet).

        Raises:
            OrderNotFound: no such order, or another shopper's (the message does not say which).
            InvalidOrderChange: the order is no longer 'placed'.
        """
        check_id(shopper_id, "Shopper id")
        now = self._now()
        with self._write():
            order = self._changing(order_id, shopper_id)
            if order.status == "cancelled":
                raise InvalidOrderChange(f"Order #{order_id} has been cancelled already")
            if order.status != "placed":
                raise InvalidOrderChange(f"Order #{order_id} {_IS[order.status]}: it can no longer be cancelled")
            self._insert_status(order_id, "cancelled", now, N_("by the shopper"))
            changed = self._load([order_id])[0]
        logger.info("Order %s was cancelled by its shopper", order_id)
        return changed

    def return_lines(self, shopper_id: str, order_id: int, positions: list[int], window_days: int) -> Order:
        """Return whole lines of the shopper's delivered order, within ``window_days`` of its delivery.

        Each line (its 0-based position in the order) is returned once, its full quantity; when the
        last line is returned the order becomes 'returned'.

        Raises:
            OrderNotFound: no such order, or another shopper's (the message does not say which).
            InvalidOrderChange: not delivered (yet), past the return window, or a line returned already.
            InvalidStoreValue: no positions, a position not in the order, or a bad ``window_days``.
        """
        check_id(shopper_id, "Shopper id")
        if not isinstance(window_days, int) or isinstance(window_days, bool) or window_days < 0:
            raise InvalidStoreValue(f"The return window must be a whole number of days from 0, "
                                    f"got {window_days!r:.80}")
        if not positions or any(not isinstance(p, int) or isinstance(p, bool) for p in positions):
            raise InvalidStoreValue(f"Name the lines to return by their positions (0, 1, ...), "
                                    f"got {positions!r:.80}")
        now = self.clock()
        at = self._now(now)
        with self._write():
            order = self._changing(order_id, shopper_id)
            delivered = order.delivered_at
            if order.status != "delivered" or delivered is None:
                raise InvalidOrderChange(f"Order #{order_id} {_NO_RETURN[order.status]}")
            last_day = delivered + timedelta(days=window_days)
            if now > last_day:
                raise InvalidOrderChange(
                    f"Order #{order_id} was delivered on {delivered:%Y-%m-%d}: the last day to return it was "
                    f"{last_day:%Y-%m-%d} ({window_days} days, until {last_day:%H:%M} UTC)")
            wanted = list(dict.fromkeys(positions))  # each named once, in the order named
            self._check_returnable(order, wanted)
            self._insert_returns(order, wanted, at)
            if len(order.returned) + len(wanted) == len(order.lines):
                self._insert_status(order_id, "returned", at, N_("every line returned by the shopper"))
            changed = self._load([order_id])[0]
        logger.info("Order %s: %d lines returned", order_id, len(wanted))
        return changed

    def _changing(self, order_id: int, shopper_id: str | None = None) -> Order:
        """The order about to change (the shopper's, when given); the caller holds the write transaction."""
        owner = self._rows("SELECT shopper_id FROM orders WHERE order_id = ?", [order_id]) \
            if can_be_order_id(order_id) else []
        if not owner or shopper_id is not None and owner[0][0] != shopper_id:
            raise OrderNotFound(f"There is no order #{order_id}" + ("" if shopper_id is None else " of this shopper"))
        return self._load([order_id])[0]

    @staticmethod
    def _check_returnable(order: Order, positions: list[int]) -> None:
        """Raise unless each position is a line of the order not returned yet."""
        for position in positions:
            if not 0 <= position < len(order.lines):
                raise InvalidStoreValue(f"Order #{order.order_id} has no line at position {position}; its lines "
                                        f"are at 0 to {len(order.lines) - 1}")
            if position in order.returned:
                raise InvalidOrderChange(f"Line {position} of order #{order.order_id} "
                                         f"({order.lines[position].title}) has been returned already")

    def _insert_returns(self, order: Order, positions: list[int], at: str) -> None:
        """Record these lines of the order as returned whole; the caller holds a transaction."""
        self._execute_many(
            "INSERT INTO order_returns (order_id, position, quantity, at) VALUES (?, ?, ?, ?)",
            [(order.order_id, p, order.lines[p].quantity, at) for p in positions])
