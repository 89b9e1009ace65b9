"""``ShopStore``: carts, orders, likes and events of every shopper in one file, and forgetting one."""

from __future__ import annotations

import logging

from recommender.store.events import Events
from recommender.store.likes import Likes
from recommender.store.orders import Orders
from recommender.wal import empty_write_ahead_log

logger = logging.getLogger(__name__)


class ShopStore(Orders, Likes, Events):
    """Carts, orders, feedback and events of every shopper, in one SQLite file."""

    def forget(self, shopper_id: str) -> dict[str, int]:
        """Delete every row about the shopper, in one transaction; returns rows deleted per table."""
        steps = {
            "cart": "DELETE FROM cart WHERE shopper_id = ?",
            "cart_changes": "DELETE FROM cart_changes WHERE shopper_id = ?",
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
