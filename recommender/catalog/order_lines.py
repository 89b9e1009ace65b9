"""Order exports as a catalog source: one line per sale, so a product's id repeats.

The rules (docs/catalog-format.md, "Order exports"):

- repeated ids are lines of one product, not errors. With ``repeated_ids="latest"`` (the default)
  the latest line, by the mapped ``date`` column (else the file order), gives the title and the
  other fields (a line with a title and a price above 0 first: stock adjustments are free lines with
  notes such as "?" as their title), and the latest positive price is the price; ``"first"`` keeps the earliest
  instead; ``"reject"`` makes a repeated id a bad row (a product file where ids must be unique).
- a line is a cancellation when its ``quantity`` is negative or its ``order_id`` is "C" followed by
  a digit (only the columns the shop mapped): it is neither a sale nor a product line.
- non-products (postage, fees, discounts, manual adjustments) are the ids in ``not_products``; its
  entry "auto" stands for every id without a digit ("POST", "BANK CHARGES"), in an order export only.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

REPEATED_IDS = ("latest", "first", "reject")
AUTO = "auto"  # not_products entry: every id without a digit, in an order export
_CANCELLED_ORDER = re.compile(r"[Cc]\d")


@dataclass(frozen=True)
class OrderRules:
    """How the lines of a product file become products: which repeat wins, what is not a product."""

    repeated_ids: str = "latest"  # one of REPEATED_IDS
    not_products: tuple[str, ...] = (AUTO,)  # ids that are not products, and/or AUTO

    def __post_init__(self) -> None:
        if self.repeated_ids not in REPEATED_IDS:
            raise ValueError(f"repeated_ids {self.repeated_ids!r}; expected one of {list(REPEATED_IDS)}")

    @property
    def listed(self) -> frozenset[str]:
        """The ids listed as not products (without AUTO)."""
        return frozenset(self.not_products) - {AUTO}

    def is_not_product(self, product_id: str, order_export: bool) -> bool:
        """True for a listed id, and for an id without a digit in an order export when AUTO is listed."""
        if product_id in self.listed:
            return True
        return order_export and AUTO in self.not_products and not any(c.isdigit() for c in product_id)


def parse_not_products(text: str) -> tuple[str, ...]:
    """``"auto, C2"`` -> ``("auto", "C2")``; empty items are dropped."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def is_cancellation(record: dict[str, Any]) -> bool:
    """True when the line's ``quantity`` is negative or its ``order_id`` is "C" + digit; raises
    ValueError for a quantity that is not a number."""
    quantity = record.get("quantity")
    if quantity is not None and str(quantity).strip():
        try:
            if float(str(quantity).strip().replace(",", "")) < 0:
                return True
        except ValueError:
            raise ValueError(f"quantity {str(quantity).strip()[:40]!r} is not a number") from None
    order = record.get("order_id")
    return order is not None and bool(_CANCELLED_ORDER.match(str(order).strip()))


class ProductLines:
    """Folds the lines of a product file into one product per id, by the OrderRules' repeat rule."""

    def __init__(self, rules: OrderRules) -> None:
        self.rules = rules
        self.first_line: dict[str, int] = {}  # id -> the line it first appears on (and file order)
        self.lines: Counter[str] = Counter()  # id -> its lines
        self._kept: dict[str, tuple[tuple, dict[str, Any]]] = {}  # id -> (rank, product of the kept line)
        self._price: dict[str, tuple[tuple, float]] = {}  # id -> (rank, price of the line it comes from)
        self._titles: dict[str, set[str]] = {}
        self._prices: dict[str, set[float]] = {}
        self._dated: dict[str, float] = {}  # id -> its latest line's date

    def add(self, product: dict[str, Any], line: int, when: float | None) -> None:
        """One line's product; ``when`` is its date as a timestamp (None: unknown, sorts first).
        Raises ValueError for a repeated id under the "reject" rule."""
        pid = product["id"]
        if pid in self.first_line and self.rules.repeated_ids == "reject":
            raise ValueError(f"duplicate id {pid!r} (first on line {self.first_line[pid]})")
        self.first_line.setdefault(pid, line)
        self.lines[pid] += 1
        key = (when if when is not None else -math.inf, line)
        key = key if self.rules.repeated_ids == "latest" else (-key[0], -key[1])
        # A sale with a title beats a line without one, then a free line (stock adjustments carry price 0
        # and notes such as "?" or "damaged" as their title).
        rank = (product["title"] is not None, (product["price"] or 0) > 0, key)
        if pid not in self._kept or rank > self._kept[pid][0]:
            self._kept[pid] = (rank, product)
        price = product["price"]
        if price is not None:
            price_rank = (price > 0, key)  # a free line (price 0) gives the price only when no line has one
            if pid not in self._price or price_rank > self._price[pid][0]:
                self._price[pid] = (price_rank, price)
            if price > 0:
                self._prices.setdefault(pid, set()).add(price)
        if product["title"] is not None:
            self._titles.setdefault(pid, set()).add(product["title"])
        if when is not None and when > self._dated.get(pid, -math.inf):
            self._dated[pid] = when

    @property
    def repeated(self) -> bool:
        """True when some id is on more than one line: the file is an order export."""
        return len(self.lines) < sum(self.lines.values())

    def products(self, drop: Iterable[str] = ()) -> list[dict[str, Any]]:
        """One product per id in order of first appearance (``drop``: ids to leave out), ``dated`` by its
        latest line."""
        dropped = set(drop)
        return [self._kept[pid][1] | {"price": self._price[pid][1] if pid in self._price else None,
                                      "dated": self._dated.get(pid)}
                for pid in self.first_line if pid not in dropped]

    def summary(self, ids: Iterable[str], lines_read: int) -> str:
        """"2,868 products from 36,378 order lines; latest title and price kept; 88 renamed, 842 sold at
        several prices" for the products ``ids``."""
        ids = list(ids)
        renamed = sum(len(self._titles.get(pid, ())) > 1 for pid in ids)
        several = sum(len(self._prices.get(pid, ())) > 1 for pid in ids)
        return (f"{len(ids):,} products from {lines_read:,} order lines; {self.rules.repeated_ids} title and price "
                f"kept; {renamed:,} renamed, {several:,} sold at several prices")
