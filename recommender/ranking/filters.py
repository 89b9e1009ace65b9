"""Hard filters of a search, and the order in which a filter is offered for dropping."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from recommender.ranking.prices import format_price

__all__ = ["RELAX_ORDER", "Filters"]

# When no product passes the filters, the first of these whose removal gives results is named:
# price first, the product type last.
RELAX_ORDER = ("price_max", "price_min", "brand", "category")


@dataclass(frozen=True)
class Filters:
    """Hard filters: every result satisfies every filter that is set (None = not set)."""

    category: str | None = None
    brand: str | None = None
    price_min: float | None = None
    price_max: float | None = None

    def __post_init__(self) -> None:
        for name in ("category", "brand"):
            value = getattr(self, name)
            object.__setattr__(self, name, value.strip() or None if isinstance(value, str) else value)
        for name in ("price_min", "price_max"):
            value = getattr(self, name)
            if value is not None:
                value = float(value)
                object.__setattr__(self, name, None if math.isnan(value) else value)

    def is_empty(self) -> bool:
        """True when no filter is set."""
        return all(getattr(self, f.name) is None for f in fields(self))

    def describe(self) -> list[str]:
        """Phrases for the filters that are set, e.g. ["in Shampoos", "from Neutrogena", "under $15"]."""
        out = []
        if self.category:
            out.append(f"in {self.category}")
        if self.brand:
            out.append(f"from {self.brand}")
        lo, hi = self.price_min, self.price_max
        if lo is not None and hi is not None:
            out.append(f"between {format_price(lo)} and {format_price(hi)}")
        elif hi is not None:
            out.append(f"under {format_price(hi)}")
        elif lo is not None:
            out.append(f"over {format_price(lo)}")
        return out

    def as_kwargs(self) -> dict[str, str | float | None]:
        """The filters as keyword arguments of ``Catalog.filter_mask`` (and ``filter_ids``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def without(self, name: str) -> Filters:
        """A copy with one filter removed."""
        return replace(self, **{name: None})
