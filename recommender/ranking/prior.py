"""The ranking's prior: what the shop knows of a product before any query, from the first signal the
catalog has.

- ``shoppers``: how many distinct shoppers bought it (the histories), ``log1p(n) / log1p(max n)``;
- ``reviews``: its review count, when no product has a history, normalised the same way;
- ``recency``: its date (``--column date=...``), when there are neither histories nor reviews: newest
  1, oldest 0, linear in time;
- ``none``: 0 for every product (relevance alone ranks; ties by product id).

It is a tie-breaker under a query (``SearchConfig.w_pop``) and the ranking of a search with no words
(filters only). Its reason (``reason``) is given when the signal is strong (``popular_min`` shoppers or
reviews; a date in the newest tenth of the catalog's span) or when it is the ranking.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np

from recommender.ranking import reasons

if TYPE_CHECKING:
    from recommender.catalog.products import Catalog

RECENT_SHARE = 0.1  # a date in this newest share of the catalog's span is "new"
RANKED_BY = {"shoppers": "relevance, then how many shoppers bought them", "reviews": "relevance, then review counts",
             "recency": "relevance, then date (newest first)", "none": "relevance alone"}  # Prior.kind -> words


@dataclass(frozen=True)
class Prior:
    """One signal of the catalog: ``kind`` and product id -> its raw value (shoppers, reviews, timestamp)."""

    kind: str  # "shoppers", "reviews", "recency" or "none"
    raw: dict[str, float]

    @classmethod
    def of(cls, catalog: Catalog) -> Prior:
        """The first signal the catalog has (module docstring)."""
        for kind, read in (("shoppers", catalog.popularity), ("reviews", catalog.review_counts),
                           ("recency", catalog.dates)):
            if raw := read():
                return cls(kind, raw)
        return cls("none", {})

    @cached_property
    def span(self) -> tuple[float, float]:
        """(smallest, largest) raw value; (0, 0) without any."""
        return (min(self.raw.values()), max(self.raw.values())) if self.raw else (0.0, 0.0)

    def describe(self) -> str:
        """How products are ranked with this prior, for set-up's line: "relevance, then review counts"."""
        return RANKED_BY[self.kind]

    def normalised(self, ids: Sequence[str]) -> np.ndarray:
        """(len(ids),) float32 in 0..1, in the order of ``ids`` (0 for a product without the signal)."""
        if self.kind == "recency":
            oldest, newest = self.span
            span = newest - oldest
            return np.array([(self.raw[pid] - oldest) / span if span > 0 and pid in self.raw else 0.0
                             for pid in ids], dtype=np.float32)
        values = np.array([self.raw.get(pid, 0) for pid in ids], dtype=np.float32)
        top = float(values.max()) if len(values) else 0.0
        return np.log1p(values) / math.log1p(top) if top > 0 else np.zeros_like(values)

    def reason(self, product_id: str, popular_min: int, ranking: bool) -> str | None:
        """The product's prior as a true statement, when it is strong or is the ranking (else None)."""
        value = self.raw.get(product_id)
        if not value:
            return None
        if self.kind == "recency":
            oldest, newest = self.span
            recent = value >= newest - RECENT_SHARE * (newest - oldest)
            day = datetime.fromtimestamp(value, tz=timezone.utc).date().isoformat()
            return reasons.listed(day, new=recent) if recent or ranking else None
        popular = value >= popular_min
        if not (popular or ranking):
            return None
        return (reasons.bought_it if self.kind == "shoppers" else reasons.reviewed)(int(value), popular=popular)
