"""Reading and cleaning product files: column mappings, format detection, records, one product row to a dict.

Pure parsing, no database: the importer feeds what these functions yield to the catalog writer;
histories.py reads shopper histories with the same records reader.
Row-level problems are ``ValueError`` with the exact reason (the importer adds the line number);
file-level problems are ``CatalogImportError``.
"""

from __future__ import annotations

import ast
import csv
import html
import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from recommender.errors import CatalogImportError

logger = logging.getLogger(__name__)

FORMATS = ("csv", "tsv", "jsonl")  # product files
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".item": "tsv", ".inter": "tsv", ".tab": "tsv", ".jsonl": "jsonl",
               ".ndjson": "jsonl", ".txt": "sequences"}
_NULLS = {"", "none", "null", "nan", "n/a", "na"}  # price/sales_rank text meaning "unknown"
csv.field_size_limit(16 * 1024 * 1024)


@dataclass(frozen=True)
class ColumnMapping:
    """Which source column holds each product field (None: the source has no such column)."""

    name: str = "custom"
    id: str = "id"
    title: str | None = "title"
    brand: str | None = "brand"
    categories: str | None = "category"  # " > " path, a JSON list, or a quoted list 'A', 'B'
    price: str | None = "price"
    sales_rank: str | None = None  # optional; used by the recbole preset
    interactions: str = "default"  # the histories.InteractionMapping preset that goes with this one

    def with_columns(self, **columns: str) -> ColumnMapping:
        """A copy with some fields mapped to other source columns, e.g. ``with_columns(id="sku")``."""
        allowed = {f.name for f in fields(self)} - {"name", "interactions"}
        unknown = sorted(set(columns) - allowed)
        if unknown:
            raise CatalogImportError(f"Unknown product field(s) {unknown}; expected some of {sorted(allowed)}")
        return replace(self, name=f"{self.name}+custom", **columns)

    def source_columns(self) -> dict[str, str]:
        """field -> source column, for the mapped fields."""
        return {f: getattr(self, f) for f in ("id", "title", "brand", "categories", "price", "sales_rank")
                if getattr(self, f)}


PRESETS: dict[str, ColumnMapping] = {
    "default": ColumnMapping(name="default"),
    "recbole": ColumnMapping(
        name="recbole", id="item_id:token", title="title:token", brand="brand:token",
        categories="categories:token_seq", price="price:float", sales_rank="sales_rank:float",
        interactions="recbole",
    ),
}


class BadRecord(str):
    """A record that could not even be split into columns; its text is the reason."""


def detect_format(path: Path, allowed: tuple[str, ...] = FORMATS) -> str:
    """The format named by the file's extension; raises CatalogImportError when unknown."""
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt not in allowed:
        raise CatalogImportError(
            f"Cannot tell the format of {path.name!r} from its extension; pass one of {list(allowed)} (--format)."
        )
    return fmt


def open_text(path: Path):  # noqa: ANN202 - a text file object
    """Open an import file as UTF-8 text (a byte-order mark is dropped; newlines as written)."""
    return open(path, encoding="utf-8-sig", newline="")


def read_records(
    path: Path, fmt: str, columns: dict[str, str], warnings: list[str], required: tuple[str, ...] = ("id",)
) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, record)``: a dict of field -> raw value, or a BadRecord reason.

    Args:
        columns: field -> source column (``ColumnMapping.source_columns()``).
        required: fields whose column must be in a CSV/TSV header.

    Raises:
        CatalogImportError: the header lacks a required column.
        UnicodeDecodeError: the file is not UTF-8.
    """
    if fmt == "jsonl":
        yield from _jsonl_records(path, columns)
    elif fmt in ("csv", "tsv"):
        yield from _table_records(path, "," if fmt == "csv" else "\t", columns, warnings, required)
    else:
        raise CatalogImportError(f"Unknown format {fmt!r}; expected one of {list(FORMATS)}")


def _table_records(  # noqa: ANN202
    path: Path, delimiter: str, columns: dict[str, str], warnings: list[str], required: tuple[str, ...]
):
    with open_text(path) as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise CatalogImportError(f"{path} is empty; expected a header line naming the columns.")
        header = [h.strip() for h in header]
        index = _header_index(path, header, columns, warnings, required)
        line = reader.line_num + 1
        for row in reader:
            start, line = line, reader.line_num + 1
            if not row or row == [""]:
                continue
            if len(row) != len(header):
                yield start, BadRecord(f"expected {len(header)} columns, found {len(row)}")
                continue
            yield start, {name: row[i] for name, i in index.items()}


def _header_index(
    path: Path, header: list[str], columns: dict[str, str], warnings: list[str], required: tuple[str, ...]
) -> dict[str, int]:
    index = {}
    for name, column in columns.items():
        if column in header:
            index[name] = header.index(column)
        elif name in required:
            fix = "pass --column id=<your column> or another --mapping" if name == "id" else (
                "rename it, or see docs/catalog-format.md")
            raise CatalogImportError(f"{path} has no {name} column {column!r} (columns: {', '.join(header)}); {fix}.")
        else:
            warnings.append(f"{path.name}: no {column!r} column; {name} left empty")
    return index


def _jsonl_records(path: Path, columns: dict[str, str]):  # noqa: ANN202
    with open_text(path) as f:
        for line, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                yield line, BadRecord(f"invalid JSON ({e.msg} at column {e.colno})")
                continue
            if not isinstance(obj, dict):
                yield line, BadRecord(f"expected a JSON object, found {type(obj).__name__}")
                continue
            yield line, {name: obj.get(column) for name, column in columns.items()}


# -- cleaning one product ------------------------------------------------------------------------


def clean_text(value: Any) -> str | None:
    """Unescape HTML entities (also double-escaped ones like ``&amp;#39;``) and trim; empty -> None."""
    if value is None:
        return None
    text = str(value)
    for _ in range(3):
        if "&" not in text or (unescaped := html.unescape(text)) == text:
            break
        text = unescaped
    return text.strip() or None


def clean_id(value: Any) -> str | None:
    """An id as written, trimmed (ids are labels: no HTML unescaping); empty -> None."""
    return (str(value).strip() or None) if value is not None else None


def parse_number(value: Any, field: str) -> float | None:
    """A non-negative number, or None for empty/'None'; raises ValueError naming the bad value."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _NULLS):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{field} {value!r} is not a number")
    text = str(value).strip()
    try:
        number = float(text.removeprefix("$"))
    except ValueError:
        raise ValueError(f"{field} {text!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{field} {text!r} is not a number")
    if number < 0:
        raise ValueError(f"{field} {text!r} is negative")
    return number


def parse_categories(value: Any) -> tuple[str, ...]:
    """A category path from a list, a JSON list, a quoted list ``'A', 'B'`` or ``A > B``."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        items = list(value)
    else:
        text = str(value).strip()
        if not text:
            return ()
        if text[0] in "'\"[":
            literal = text if text[0] == "[" else f"[{text}]"
            try:
                items = ast.literal_eval(literal)
            except (ValueError, SyntaxError):
                raise ValueError(f"categories {text[:60]!r} is not a list") from None
            if not isinstance(items, list):
                raise ValueError(f"categories {text[:60]!r} is not a list")
        else:
            items = text.split(">")
    return tuple(c for c in (clean_text(i) for i in items) if c)


def parse_product(record: dict[str, Any] | BadRecord, mapping: ColumnMapping) -> dict[str, Any]:
    """Clean one raw record into product fields; raises ValueError with the reason."""
    if isinstance(record, BadRecord):
        raise ValueError(str(record))
    product_id = clean_id(record.get("id"))
    if not product_id:
        raise ValueError("missing id")
    return {
        "id": product_id,
        "title": clean_text(record.get("title")),
        "brand": clean_text(record.get("brand")),
        "category_path": parse_categories(record.get("categories")),
        "price": parse_number(record.get("price"), "price"),
        "sales_rank": parse_number(record.get("sales_rank"), "sales_rank"),
    }
