"""The one reader of shopper-history files: ``shopbot catalog build --interactions`` and ``shopbot evaluate``.

Formats (docs/interactions-format.md):

- ``sequences``: one line per shopper, ``<shopper id> <product id> <product id> ...`` separated by
  spaces or tabs, oldest first;
- a table (``csv``, ``tsv``, ``jsonl``): one interaction per row. Columns are found by name, ASCII
  case-insensitive and with a RecBole ``:type`` suffix ignored, the first present of each
  ``InteractionMapping`` list. An order column (a number or an ISO 8601 date) sorts each history;
  equal values, and a table without an order column, keep the file order. An order export (a
  mapping with a ``quantity`` or ``order_id`` column) also gives cancellations, which are left
  out, and lines without a shopper (guest orders), which are counted rather than reported.

Rejected rows go to a ``bad`` list as ``BadRow`` (the importer skips them, the evaluation fails on
the first); a file that cannot be read as the format raises InteractionsFormatError; bytes that are
not UTF-8 raise UnicodeDecodeError, which each caller reports in its own words.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from recommender.catalog.formats import BadRecord, ColumnMapping, clean_id, open_text, parse_time, read_records
from recommender.catalog.order_lines import is_cancellation
from recommender.errors import BadRow, CatalogImportError, InteractionsFormatError

INTERACTION_FORMATS = ("sequences", "csv", "tsv", "jsonl")  # sequences: "shopper item1 item2 ..." per line


@dataclass(frozen=True)
class InteractionMapping:
    """Names of the shopper, product and order columns of an interactions table, in preference order."""

    name: str = "custom"
    shopper: tuple[str, ...] = ("shopper_id", "user_id", "shopper", "user")
    product: tuple[str, ...] = ("product_id", "item_id", "product", "item")
    order: tuple[str, ...] = ("order", "position", "timestamp", "time")
    quantity: tuple[str, ...] = ()  # order exports: a negative quantity is a cancellation
    order_id: tuple[str, ...] = ()  # order exports: an order number "C" + digit is a cancellation

    @property
    def order_export(self) -> bool:
        """True when the table is an order export: cancellations and guest lines are left out and counted."""
        return bool(self.quantity or self.order_id)

    def with_columns(self, **columns: str) -> InteractionMapping:
        """A copy with fields read from these columns, e.g. ``with_columns(shopper="CustomerID")``;
        ``item`` is accepted for ``product``, ``time``, ``timestamp`` and ``date`` for ``order``."""
        fields = {_ALIASES.get(k, k): (v,) for k, v in columns.items()}
        unknown = sorted(set(fields) - set(MAPPED_FIELDS))
        if unknown:
            raise CatalogImportError(f"Unknown interactions field(s) {unknown}; expected some of "
                                     f"{list(MAPPED_FIELDS)} (or item, time, date).")
        return replace(self, name=f"{self.name}+custom", **fields)

    @classmethod
    def from_products(cls, mapping: ColumnMapping) -> InteractionMapping:
        """The histories of an order export read from the product file itself: the product id, date,
        quantity and order number columns are the products mapping's; the shopper is still found by name."""
        return cls(name=f"{mapping.name}+orders", product=(mapping.id,),
                   order=(mapping.date,) if mapping.date else cls.order,
                   quantity=(mapping.quantity,) if mapping.quantity else (),
                   order_id=(mapping.order_id,) if mapping.order_id else ())


MAPPED_FIELDS = ("shopper", "product", "order", "quantity", "order_id")
_ALIASES = {"item": "product", "time": "order", "timestamp": "order", "date": "order"}


INTERACTION_PRESETS: dict[str, InteractionMapping] = {
    "default": InteractionMapping(name="default"),
    "recbole": InteractionMapping(name="recbole", shopper=("user_id:token",), product=("item_id:token",),
                                  order=("timestamp:float",)),
}


class History(NamedTuple):
    """One shopper's history: the line the shopper first appears on and ``(line, product_id)`` in order."""

    shopper: str
    line: int
    items: list[tuple[int, str]]


def read_histories(
    path: Path, fmt: str, mapping: InteractionMapping, bad: list[BadRow], *, order_required: bool = False,
    left_out: Counter[str] | None = None,
) -> Iterator[History]:
    """Each shopper's history, lazily (a sequence line without products gives empty ``items``); a
    table's columns are checked before this returns.

    Args:
        fmt: one of INTERACTION_FORMATS.
        mapping: the table's column names (unused for sequences).
        bad: receives the rejected rows.
        order_required: a table without an order column raises instead of keeping the file order.
        left_out: counts the lines of an order export left out: "cancellation", "no shopper".
    """
    if fmt == "sequences":
        return _sequences(path, bad)
    if fmt in ("csv", "tsv", "jsonl"):
        counts = left_out if left_out is not None else Counter()
        return _table(path, fmt, _columns(path, fmt, mapping, order_required), bad, mapping.order_export, counts)
    raise InteractionsFormatError(
        f"Unknown interactions format {fmt!r}; expected one of {list(INTERACTION_FORMATS)}")


def sniff_format(path: Path, mapping: InteractionMapping = INTERACTION_PRESETS["default"]) -> str:
    """The format: "tsv" when the first line is a tab-separated header naming a product column, else "sequences"."""
    with open_text(path) as f:
        first = f.readline()
    names = {_plain(n) for n in mapping.product}
    return "tsv" if "\t" in first and any(_plain(h) in names for h in first.split("\t")) else "sequences"


def _sequences(path: Path, bad: list[BadRow]) -> Iterator[History]:
    first: dict[str, int] = {}
    with open_text(path) as f:
        for line, text in enumerate(f, start=1):
            parts = text.split()
            if not parts:
                continue
            shopper = parts[0]
            if shopper in first:
                bad.append(BadRow(str(path), line, f"shopper {shopper!r} is already on line {first[shopper]}; "
                                                   "give each shopper one line"))
                continue
            first[shopper] = line
            yield History(shopper, line, [(line, item) for item in parts[1:]])


def _plain(name: str) -> str:
    """A column name as matched: before any RecBole ``:type`` suffix, trimmed, ASCII-lowercased."""
    return name.split(":")[0].strip().lower()


def _header(path: Path, fmt: str) -> list[str]:
    """The column names: the header line, or the keys of the first JSON object."""
    with open_text(path) as f:
        if fmt != "jsonl":
            return [h.strip() for h in next(csv.reader(f, delimiter="," if fmt == "csv" else "\t"), [])]
        first = next((text for text in f if text.strip()), "{}")
    try:
        obj = json.loads(first)
    except json.JSONDecodeError:
        return []
    return list(obj) if isinstance(obj, dict) else []


def _columns(path: Path, fmt: str, mapping: InteractionMapping, order_required: bool) -> dict[str, str]:
    """field ("shopper", "product", "order") -> the header's column for it (no "order" when absent)."""
    header = _header(path, fmt)
    if not header and fmt != "jsonl":
        raise InteractionsFormatError(f"{path} is empty; expected a header line naming the columns.")
    columns = {}
    for field in MAPPED_FIELDS:
        names = getattr(mapping, field)
        if not names:
            continue
        column = _find(header, names)
        if column is None and fmt == "jsonl" and field != "order":
            column = names[0]  # JSON rows without it are each reported ("missing shopper id")
        if column is not None:
            columns[field] = column
        elif field != "order" or order_required:
            raise InteractionsFormatError(f"{path} has no {field} column (columns: {', '.join(header)}); expected "
                                          f"one of {', '.join(names)} (see docs/interactions-format.md); "
                                          f"`shopbot catalog build` maps yours: --interactions-column {field}=COLUMN.")
    return columns


def _find(header: Sequence[str], names: Sequence[str]) -> str | None:
    """The header column of the first of ``names`` present, compared by ``_plain``."""
    plain = [_plain(h) for h in header]
    return next((header[plain.index(_plain(n))] for n in names if _plain(n) in plain), None)


def _table(path: Path, fmt: str, columns: dict[str, str], bad: list[BadRow], order_export: bool,
           left_out: Counter[str]) -> Iterator[History]:
    histories: dict[str, list[tuple[float, int, str]]] = {}
    for line, record in read_records(path, fmt, columns, [], required=("shopper", "product")):
        try:
            if order_export and not isinstance(record, BadRecord):
                if is_cancellation(record):
                    left_out["cancellation"] += 1
                    continue
                if not clean_id(record.get("shopper")):
                    left_out["no shopper"] += 1
                    continue
            shopper, product, order = _row(record, columns, line)
        except ValueError as e:
            bad.append(BadRow(str(path), line, str(e)))
            continue
        histories.setdefault(shopper, []).append((order, line, product))
    for shopper, rows in histories.items():
        first = rows[0][1]
        rows.sort()
        yield History(shopper, first, [(line, product) for _, line, product in rows])


def _row(record: dict[str, Any] | BadRecord, columns: dict[str, str], line: int) -> tuple[str, str, float]:
    """(shopper, product, order) of one record; raises ValueError with the reason."""
    if isinstance(record, BadRecord):
        raise ValueError(str(record))
    shopper, product = clean_id(record.get("shopper")), clean_id(record.get("product"))
    if not shopper:
        raise ValueError("missing shopper id")
    if not product:
        raise ValueError("missing product id")
    if "order" not in columns:
        return shopper, product, float(line)
    raw = record.get("order")
    if raw is None or str(raw).strip() == "":
        raise ValueError(f"missing {columns['order']}")
    return shopper, product, parse_time(raw, columns["order"])
