"""Recommendation events (shown, clicked, added, ordered) and the online metrics computed from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from recommender.errors import InvalidStoreValue
from recommender.store.connection import StoreFile
from recommender.store.values import check_id, check_source

EVENT_KINDS = ("shown", "clicked", "added", "ordered")
_COUNT = "sum(CASE WHEN kind = '{}' THEN 1 ELSE 0 END)"  # a kind's events in the group
_GROUPS = {"day": "substr(at, 1, 10)", "source": "source"}  # metrics(by=...) -> fixed SQL expression


@dataclass(frozen=True)
class MetricsRow:
    """Event counts of one day or source, and the rates over ``shown`` (None when nothing was shown)."""

    key: str
    shown: int
    clicked: int
    added: int
    ordered: int
    ctr: float | None
    add_to_cart_rate: float | None
    conversion: float | None


def _rate(count: int, shown: int) -> float | None:
    return count / shown if shown else None


class Events(StoreFile):
    """The ``events`` table: one row per product shown, clicked, added or ordered."""

    def log_events(self, shopper_id: str, kind: str, product_ids: Sequence[str], source: str,
                   at: datetime | None = None) -> int:
        """Log one event per product; returns how many. Ids and labels only, never message text.

        Args:
            kind: shown, clicked (details, similar or add asked for a shown product), added or
                ordered. ``add_to_cart`` and ``checkout`` log added and ordered themselves.
            source: the list the products were shown in: search, recommend, similar, details,
                compare, cart, ... (1-20 letters a-z or '_').
        """
        if kind not in EVENT_KINDS:
            raise InvalidStoreValue(f"Event kind {kind!r:.80} is not one of {', '.join(EVENT_KINDS)}")
        check_source(source)
        check_id(shopper_id, "Shopper id")
        if isinstance(product_ids, str):
            raise InvalidStoreValue(f"product_ids must be a list of ids, not the string {product_ids!r:.80}")
        for product_id in product_ids:
            check_id(product_id, "Product id")
        now = self._now(at)
        with self._write():
            self._insert_events([(now, shopper_id, kind, source, pid) for pid in product_ids])
        return len(product_ids)

    def metrics(self, by: Literal["day", "source"] = "day", since: date | None = None) -> list[MetricsRow]:
        """Event counts and rates per UTC day or per source, ordered by key.

        CTR = clicked / shown, add-to-cart rate = added / shown, conversion = ordered / shown: ratios
        of the group's event counts (one event per product), None when nothing was shown. They are
        not per-impression funnels: a product shown on Monday and ordered on Tuesday counts on both days.

        Args:
            since: only events on or after this UTC day.
        """
        if by not in _GROUPS:
            raise InvalidStoreValue(f"Metrics grouping {by!r:.80} is not one of {', '.join(_GROUPS)}")
        rows = self._rows(  # the grouping expression is one of the fixed _GROUPS; values are bound
            f"SELECT {_GROUPS[by]} AS key, {', '.join(_COUNT.format(kind) for kind in EVENT_KINDS)}"
            " FROM events WHERE at >= ? GROUP BY key ORDER BY key",
            [since.isoformat() if since else ""])
        return [MetricsRow(key, shown, clicked, added, ordered, _rate(clicked, shown), _rate(added, shown),
                           _rate(ordered, shown)) for key, shown, clicked, added, ordered in rows]
