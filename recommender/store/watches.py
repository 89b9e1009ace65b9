"""Watches: "tell me when it's back in stock", "tell me when it drops under 20".

One row per shopper, product and kind (``in_stock``, or ``price`` at or under a target), with the Rasa
output channel of the conversation it was asked in, an expiry and, once it has fired, when. A watch
fires once: ``claim_watch`` marks it fired in one statement that only one process can win, before the
message is sent; ``release_watch`` gives it back when the message could not be sent.
``recommender.watches`` decides which watches are due from the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from recommender.errors import InvalidStoreValue
from recommender.store.connection import StoreFile
from recommender.store.values import cents, check_id, from_cents

WATCH_KINDS = ("in_stock", "price")
_COLUMNS = "watch_id, shopper_id, product_id, kind, target_cents, channel, created_at, expires_at, fired_at"


@dataclass(frozen=True)
class Watch:
    """One watch: ``kind`` "in_stock" fires when the product is back in stock, "price" when its price is at
    or under ``target``."""

    watch_id: int
    shopper_id: str
    product_id: str
    kind: str
    target: Decimal | None
    channel: str  # the conversation's Rasa output channel ("telegram", "callback", "socketio", ...)
    created_at: str
    expires_at: str
    fired_at: str | None


def _watch(row: tuple) -> Watch:
    return Watch(row[0], row[1], row[2], row[3], None if row[4] is None else from_cents(row[4]), *row[5:])


class Watches(StoreFile):
    """The ``watches`` table."""

    def watch(self, shopper_id: str, product_id: str, kind: str, channel: str, days: int,
              target: Decimal | None = None) -> Watch:
        """Store a watch that expires in ``days`` days. The shopper's watch of that kind on that product, if any,
        is the one renewed (same id, the new target, channel and times, not fired)."""
        check_id(shopper_id, "Shopper id")
        check_id(product_id, "Product id")
        if kind not in WATCH_KINDS or (kind == "price") != (target is not None) or days < 1:
            raise InvalidStoreValue(f"A watch is in_stock, or price with a target, for at least a day; got {kind!r}, "
                                    f"target {target!r}, {days!r} days")
        now = self.clock()
        with self._write():
            rows = self._rows(
                "INSERT INTO watches (shopper_id, product_id, kind, target_cents, channel, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (shopper_id, product_id, kind) DO UPDATE SET"
                " target_cents = excluded.target_cents, channel = excluded.channel, created_at = excluded.created_at,"
                f" expires_at = excluded.expires_at, fired_at = NULL RETURNING {_COLUMNS}",
                [shopper_id, product_id, kind, None if target is None else cents(target), channel[:40],
                 self._now(now), self._now(now + timedelta(days=days))])
        return _watch(rows[0])

    def watches(self, shopper_id: str) -> list[Watch]:
        """The shopper's watches that have neither fired nor expired, oldest first."""
        return [_watch(r) for r in self._rows(
            f"SELECT {_COLUMNS} FROM watches WHERE shopper_id = ? AND fired_at IS NULL AND expires_at > ?"
            " ORDER BY watch_id", [shopper_id, self._now()])]

    def pending_watches(self) -> list[Watch]:
        """Every shopper's watches that have neither fired nor expired, oldest first."""
        return [_watch(r) for r in self._rows(
            f"SELECT {_COLUMNS} FROM watches WHERE fired_at IS NULL AND expires_at > ? ORDER BY watch_id",
            [self._now()])]

    def cancel_watch(self, shopper_id: str, watch_id: int) -> bool:
        """Delete one of the shopper's watches; False when they have no such watch."""
        with self._write():
            return self._execute("DELETE FROM watches WHERE watch_id = ? AND shopper_id = ?",
                                 [watch_id, shopper_id]) == 1

    def claim_watch(self, watch_id: int, at: datetime | None = None) -> bool:
        """Mark a watch fired; True for the one caller that did (it then sends the message)."""
        with self._write():
            return self._execute("UPDATE watches SET fired_at = ? WHERE watch_id = ? AND fired_at IS NULL",
                                 [self._now(at), watch_id]) == 1

    def release_watch(self, watch_id: int) -> None:
        """Undo ``claim_watch`` after the message could not be sent: the watch fires at the next change."""
        with self._write():
            self._execute("UPDATE watches SET fired_at = NULL WHERE watch_id = ?", [watch_id])
