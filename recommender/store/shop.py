"""``ShopStore``: carts, orders (and their status), likes and events of every shopper in one file, forgetting one,
and retention."""

from __future__ import annotations

import logging

from recommender.store.events import Events
from recommender.store.likes import Likes
from recommender.store.order_status import OrderChanges
from recommender.store.retention import Retention
from recommender.store.watches import Watches

logger = logging.getLogger(__name__)


class ShopStore(OrderChanges, Likes, Watches, Events, Retention):
    """Carts, orders, feedback, watches and events of every shopper, in one SQLite file or PostgreSQL database."""

    def kept(self, shopper_id: str) -> dict[str, int]:
        """How many rows about the shopper each table keeps (what ``forget`` would delete, less the per-message
        records): cart lines, orders, likes and dislikes (feedback), watches, activity events."""
        with self._reading():
            return {table: self._rows(f"SELECT count(*) FROM {table} WHERE shopper_id = ?", [shopper_id])[0][0]
                    for table in ("cart", "orders", "feedback", "watches", "events")}

    def forget(self, shopper_id: str) -> dict[str, int]:
        """Delete every row about the shopper, in one transaction; returns rows deleted per table."""
        theirs = "WHERE order_id IN (SELECT order_id FROM orders WHERE shopper_id = ?)"
        steps = {  # an order's rows before the order (the foreign keys are enforced)
            "cart": "DELETE FROM cart WHERE shopper_id = ?",
            "cart_changes": "DELETE FROM cart_changes WHERE shopper_id = ?",
            "order_returns": f"DELETE FROM order_returns {theirs}",
            "order_status": f"DELETE FROM order_status {theirs}",
            "order_items": f"DELETE FROM order_items {theirs}",
            "orders": "DELETE FROM orders WHERE shopper_id = ?",
            "feedback": "DELETE FROM feedback WHERE shopper_id = ?",
            "watches": "DELETE FROM watches WHERE shopper_id = ?",
            "events": "DELETE FROM events WHERE shopper_id = ?",
        }
        with self._deleting("rows"):  # the deleted rows' bytes are zeroed in the file and leave its log
            deleted = {table: self._execute(sql, [shopper_id]) for table, sql in steps.items()}
        logger.info("Forgot a shopper: %s", deleted)  # the id itself is not logged
        return deleted
