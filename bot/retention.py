"""The retention period applied to the shopper store: what is older than $SHOPBOT_RETENTION_DAYS goes.

The action server applies it when it starts (`bot.action_server.load`), the Rasa server to the
conversations when it opens its tracker store (`bot.tracker_store`), and `shopbot retention apply`
on demand. What goes and what stays: `recommender.store.retention` and the README's "What is kept
and for how long".
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from bot import identity

if TYPE_CHECKING:
    from recommender import ShopStore


def cutoff(days: int, now: datetime | None = None) -> datetime:
    """The oldest time kept: `days` before `now` (default: the current UTC time)."""
    return (now or datetime.now(timezone.utc)) - timedelta(days=days)


def expire_store(store: ShopStore, days: int | None, *, dry_run: bool = False,
                 now: datetime | None = None) -> dict[str, int]:
    """Delete the store's rows past the retention period (none when `days` is None: kept forever).

    Returns:
        Rows deleted (or that a dry run would delete) per table, and the anonymous ``shoppers``
        whose cart and likes went; {} when `days` is None.
    """
    if days is None:
        return {}
    return store.expire(cutoff(days, now), identity.is_anonymous, dry_run=dry_run)
