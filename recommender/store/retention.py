"""Deleting for good: the store's rows past the retention period, and the secure deletion forget shares.

``expire(before, anonymous)`` deletes, in one transaction:

- the ``events`` older than ``before``, of every shopper (the metrics then cover the period only);
- the ``cart_changes`` older than ``before`` (a message's record only guards a retry, which comes
  within a day);
- the watches that expired or fired before ``before`` (an expired watch is never listed nor fired);
- the cart lines and likes of the anonymous shoppers (``anonymous(shopper_id)``, the caller's
  test) silent since ``before`` (no cart line, like, cart change or event since) who never ordered.

Orders and their lines stay: they are the shop's record of a sale (accounting, returns, warranty),
and a shopper who ordered is known to the shop; a shopper who wants them gone asks to be forgotten.
A signed-in shopper's cart and likes stay too: they are theirs to come back to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from recommender.store.connection import StoreFile

logger = logging.getLogger(__name__)

EXPIRED_TABLES = ("events", "cart_changes")  # rows older than the cutoff go, whoever's they are
_OLD_WATCHES = "watches WHERE expires_at < ? OR fired_at < ?"  # expired or fired before the cutoff
# The shoppers with a cart line or a like, nothing since :before, and no order; with their row counts.
_SILENT_WITHOUT_ORDERS = """
    SELECT s.shopper_id,
           (SELECT count(*) FROM cart c WHERE c.shopper_id = s.shopper_id),
           (SELECT count(*) FROM feedback f WHERE f.shopper_id = s.shopper_id)
    FROM (SELECT shopper_id FROM cart UNION SELECT shopper_id FROM feedback) AS s
    WHERE NOT EXISTS (SELECT 1 FROM cart c WHERE c.shopper_id = s.shopper_id AND c.added_at >= :before)
      AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.shopper_id = s.shopper_id AND f.at >= :before)
      AND NOT EXISTS (SELECT 1 FROM cart_changes x WHERE x.shopper_id = s.shopper_id AND x.at >= :before)
      AND NOT EXISTS (SELECT 1 FROM events e WHERE e.shopper_id = s.shopper_id AND e.at >= :before)
      AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.shopper_id = s.shopper_id)"""


class Retention(StoreFile):
    """Rows past the retention period deleted, zeroed on disk, as forget deletes a shopper's."""

    @contextmanager
    def _deleting(self, what: str) -> Iterator[None]:
        """A write transaction whose deleted rows leave the disk: zeroed in the file (``secure_delete``),
        and the write-ahead log checkpointed and truncated after the commit (`recommender.wal`)."""
        with self._write():
            yield
        with self._lock:
            self.dialect.after_delete(self.conn, what)

    def expire(self, before: datetime, anonymous: Callable[[str], bool], *,
               dry_run: bool = False) -> dict[str, int]:
        """Delete what is past the retention period (module docstring); returns rows per table.

        Args:
            before: the cutoff (an aware datetime): what is older goes.
            anonymous: whether a shopper id is an anonymous visitor's (never signed in).
            dry_run: count only, delete nothing.

        Returns:
            Rows deleted (or that a dry run would delete) from ``events``, ``cart_changes``, ``watches``,
            ``cart`` and ``feedback``, and ``shoppers``: the anonymous shoppers whose cart and likes went.
        """
        cutoff = self._now(before)
        if dry_run:
            return self._expired(cutoff, anonymous)[0]
        with self._deleting("expired rows"):  # counted and deleted in one transaction: the counts are exact
            counts, shoppers = self._expired(cutoff, anonymous)
            for table in EXPIRED_TABLES:  # table names are the fixed EXPIRED_TABLES; values are bound
                self._execute(f"DELETE FROM {table} WHERE at < ?", [cutoff])
            self._execute(f"DELETE FROM {_OLD_WATCHES}", [cutoff, cutoff])
            for table in ("cart", "feedback"):
                self._execute_many(f"DELETE FROM {table} WHERE shopper_id = ?", [[s] for s in shoppers])
        logger.info("Retention: deleted %s", counts)  # counts only, never an id
        return counts

    def _expired(self, cutoff: str, anonymous: Callable[[str], bool]) -> tuple[dict[str, int], list[str]]:
        """What expire deletes: the row counts, and the silent anonymous shoppers' ids."""
        counts = {table: self._rows(f"SELECT count(*) FROM {table} WHERE at < ?", [cutoff])[0][0]
                  for table in EXPIRED_TABLES}
        silent = [row for row in self._rows(_SILENT_WITHOUT_ORDERS, {"before": cutoff}) if anonymous(row[0])]
        counts["watches"] = self._rows(f"SELECT count(*) FROM {_OLD_WATCHES}", [cutoff, cutoff])[0][0]
        counts["cart"] = sum(row[1] for row in silent)
        counts["feedback"] = sum(row[2] for row in silent)
        counts["shoppers"] = len(silent)
        return counts, [row[0] for row in silent]
