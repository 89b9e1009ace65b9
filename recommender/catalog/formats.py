"""Reading and cleaning product files: column mappings, format detection, records, one product row to a dict.

Pure parsing, no database: the importer feeds what these functions yield to the catalog writer;
histories.py reads shopper histories with the same records reader.
Row-level problems are ``ValueError`` with the exact reason (the importer adds the line number);
file-level problems are ``CatalogImportError``.
"""

from __future__ import annotations

import ast
import csv
import functools
import html
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from recommender.catalog.money import read_amount, read_price
from recommender.errors import CatalogImportError
from recommender.ids import MAX_ID_CHARS

logger = logging.getLogger(__name__)

FORMATS = ("csv", "tsv", "jsonl")  # product files
_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".item": "tsv", ".inter": "tsv", ".tab": "tsv", ".jsonl": "jsonl",
               ".ndjson": "jsonl", ".txt": "sequences"}
_NULLS = {"", "none", "null", "nan", "n/a", "na"}  # number and facet text meaning "unknown"
_TAG = re.compile(r"<[^<>]{0,500}>")
csv.field_size_limit(16 * 1024 * 1024)

# Caps on text fields (docs/catalog-format.md, "Hostile and oversized text"). Text shoppers read is
# cut at a word and the cut reported; a longer label (brand, category) or id makes the row bad.
MAX_TITLE_CHARS = 1_000  # the shipped Beauty catalog's longest title has 879
MAX_DESCRIPTION_CHARS = 10_000  # the embedded product text uses the first few hundred anyway
MAX_LABEL_CHARS = 200  # a brand or one category level; Beauty's longest brand has 148
MAX_CATEGORY_CHARS = 2_000  # a whole category cell, read before it is parsed
# Characters no product text needs: control characters (line breaks, tabs, escapes) and Unicode
# line/paragraph separators become a space; invisible format characters (zero-width, bidi overrides)
# are dropped.
_BREAKS = {c: " " for c in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)}
_INVISIBLE = {c: None for c in (0x00AD, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F),
                                0x2060, *range(0x2066, 0x206A), 0xFEFF)}


@dataclass(frozen=True)
class ColumnMapping:
    """Which source column holds each product field (None: the source has no such column).

    ``facets`` are the shop's own named attributes: (facet name, source column) pairs, e.g.
    ``(("colour", "PrimaryColour"), ("gender", "Gender"))``. ``options`` name the columns in which the
    variants of one product differ (``(("size", "Size"),)``): rows sharing a ``parent_id`` are the
    variants of one product (``variants.group_variants``). The optional fields description, rating,
    review_count, image_url, stock and parent_id are read from columns of those names when the file
    has them; a file without them gets no warning unless they were mapped to another column.
    """

    name: str = "custom"
    id: str = "id"
    title: str | None = "title"
    brand: str | None = "brand"
    categories: str | None = "category"  # " > " path, a JSON list, or a quoted list 'A', 'B'
    price: str | None = "price"
    sales_rank: str | None = None  # optional; used by the recbole preset
    description: str | None = "description"
    rating: str | None = "rating"
    review_count: str | None = "review_count"
    image_url: str | None = "image_url"
    stock: str | None = "stock"
    parent_id: str | None = "parent_id"  # the product a row is a variant of
    # The product's date: listed (a product file) or the line's (an order export: the latest line of a
    # repeated id wins); newest first is the ranking's prior when there are no histories and no reviews.
    date: str | None = None
    quantity: str | None = None  # order exports: a negative quantity marks a cancellation
    order_id: str | None = None  # order exports: an order number "C" + digit marks a cancellation
    facets: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, str], ...] = ()  # (option name, source column): what variants differ in
    interactions: str = "default"  # the histories.InteractionMapping preset that goes with this one

    def with_columns(self, **columns: str | None) -> ColumnMapping:
        """A copy with some fields mapped to other source columns, e.g. ``with_columns(id="sku")``.

        ``category`` is accepted for ``categories``. Raises CatalogImportError for an unknown field
        (a shop attribute such as colour is a facet: ``with_facets``).
        """
        columns = {_FIELD_ALIASES.get(k, k): v for k, v in columns.items()}
        unknown = sorted(set(columns) - set(FIELDS))
        if unknown:
            example = unknown[0]
            raise CatalogImportError(
                f"Unknown product field(s) {unknown}; expected some of {sorted(FIELDS)}. "
                f"For a shop attribute such as colour or size, map a facet: --facet {example}=COLUMN."
            )
        return replace(self, name=f"{self.name}+custom", **columns)

    def with_facets(self, facets: dict[str, str] | Iterable[tuple[str, str]]) -> ColumnMapping:
        """A copy that also reads these facets: facet name -> source column (names are normalised)."""
        return replace(self, name=f"{self.name}+custom", facets=_named_columns(self.facets, facets, "Facet"))

    def with_options(self, options: dict[str, str] | Iterable[tuple[str, str]]) -> ColumnMapping:
        """A copy that also reads these variant options: option name -> source column, e.g. size=Size."""
        return replace(self, name=f"{self.name}+custom", options=_named_columns(self.options, options, "Option"))

    def source_columns(self) -> dict[str, str]:
        """field -> source column, for the mapped fields; facets as ``facet:<name>``, variant options as
        ``option:<name>``."""
        mapped = {f: getattr(self, f) for f in FIELDS if getattr(self, f)}
        return mapped | {f"{FACET_PREFIX}{facet}": column for facet, column in self.facets} | \
            {f"{OPTION_PREFIX}{option}": column for option, column in self.options}

    def optional_fields(self) -> set[str]:
        """Fields whose column may be absent without a warning: the extras and the categories left at
        their default column (a file without categories gets product types from its titles)."""
        return {f for f in (*_EXTRAS, "categories") if getattr(self, f) == getattr(ColumnMapping, f)}


FIELDS = ("id", "title", "brand", "categories", "price", "sales_rank", "description", "rating", "review_count",
          "image_url", "stock", "parent_id", "date", "quantity", "order_id")
FACET_PREFIX = "facet:"  # source_columns() key of a facet column
OPTION_PREFIX = "option:"  # ... of a variant option column
_EXTRAS = ("description", "rating", "review_count", "image_url", "stock", "parent_id")
_FIELD_ALIASES = {"category": "categories"}

PRESETS: dict[str, ColumnMapping] = {
    "default": ColumnMapping(name="default"),
    "recbole": ColumnMapping(
        name="recbole", id="item_id:token", title="title:token", brand="brand:token",
        categories="categories:token_seq", price="price:float", sales_rank="sales_rank:float",
        interactions="recbole",
    ),
}


def _named_columns(have: tuple[tuple[str, str], ...], pairs: dict[str, str] | Iterable[tuple[str, str]],
                   what: str) -> tuple[tuple[str, str], ...]:
    """``have`` and ``pairs`` (name -> source column; names normalised); raises CatalogImportError for a
    pair without a name or column, or a name given twice."""
    added = []
    for name, column in (pairs.items() if isinstance(pairs, dict) else pairs):
        if not normalise_facet(name) or not column.strip():
            raise CatalogImportError(f"{what} {name!r}={column!r} needs a name and a column, e.g. colour=Colour")
        added.append((normalise_facet(name), column.strip()))
    names = [n for n, _ in (*have, *added)]
    if len(set(names)) != len(names):
        raise CatalogImportError(f"{what} names must differ; got {names}")
    return (*have, *added)


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
    path: Path, fmt: str, columns: dict[str, str], warnings: list[str], required: tuple[str, ...] = ("id",),
    optional: Iterable[str] = (),
) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, record)``: a dict of field -> raw value, or a BadRecord reason.

    Args:
        columns: field -> source column (``ColumnMapping.source_columns()``).
        required: fields whose column must be in a CSV/TSV header.
        optional: fields whose column may be missing from the header without a warning.

    Raises:
        CatalogImportError: the header lacks a required column.
        UnicodeDecodeError: the file is not UTF-8.
    """
    if fmt == "jsonl":
        yield from _jsonl_records(path, columns)
    elif fmt in ("csv", "tsv"):
        yield from _table_records(path, "," if fmt == "csv" else "\t", columns, warnings, required, set(optional))
    else:
        raise CatalogImportError(f"Unknown format {fmt!r}; expected one of {list(FORMATS)}")


def _table_records(  # noqa: ANN202
    path: Path, delimiter: str, columns: dict[str, str], warnings: list[str], required: tuple[str, ...],
    optional: set[str],
):
    with open_text(path) as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise CatalogImportError(f"{path} is empty; expected a header line naming the columns.")
        header = [h.strip() for h in header]
        index = _header_index(path, header, columns, warnings, required, optional)
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
    path: Path, header: list[str], columns: dict[str, str], warnings: list[str], required: tuple[str, ...],
    optional: set[str] = frozenset(),
) -> dict[str, int]:
    index = {}
    for name, column in columns.items():
        if column in header:
            index[name] = header.index(column)
        elif name in required:
            fix = "pass --column id=<your column> or another --mapping" if name == "id" else (
                "rename it, or see docs/catalog-format.md")
            raise CatalogImportError(f"{path} has no {name} column {column!r} (columns: {', '.join(header)}); {fix}.")
        elif name.startswith((FACET_PREFIX, OPTION_PREFIX)):
            kind, _, named = name.partition(":")
            warnings.append(f"{path.name}: no {column!r} column; {kind} {named!r} left empty")
        elif name not in optional:
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


def one_line(text: str) -> str:
    """``text`` on one line: control characters and line breaks as spaces, invisible format
    characters dropped, runs of whitespace made one space, trimmed (``"X\n- intent: greet"`` ->
    ``"X - intent: greet"``)."""
    return " ".join(text.translate(_BREAKS).translate(_INVISIBLE).split())


def clean_text(value: Any) -> str | None:
    """Unescape HTML entities (also double-escaped ones like ``&amp;#39;``), then ``one_line``; empty -> None."""
    if value is None:
        return None
    text = str(value)
    for _ in range(3):
        if "&" not in text or (unescaped := html.unescape(text)) == text:
            break
        text = unescaped
    return one_line(text) or None


def clean_id(value: Any) -> str | None:
    """An id as written, trimmed (ids are labels: no HTML unescaping); empty -> None."""
    return (str(value).strip() or None) if value is not None else None


def check_product_id(product_id: str) -> None:
    """Raise ValueError unless the id fits the shopper store (carts, likes): at most MAX_ID_CHARS characters.
    An id is an opaque label, kept as written (the histories name products by it)."""
    if len(product_id) > MAX_ID_CHARS:
        raise ValueError(f"id {product_id[:40]!r}... has {len(product_id):,} characters; at most {MAX_ID_CHARS} "
                         "fit in a cart")


def cap_text(text: str | None, limit: int, field: str, cuts: list[str]) -> str | None:
    """``text`` cut at a word to at most ``limit`` characters (ending in "…"); each cut is noted in ``cuts``."""
    if text is None or len(text) <= limit:
        return text
    head = text[: limit - 1]
    if " " in head[limit // 2 :]:
        head = head[: head.rfind(" ")]
    cuts.append(f"{field} cut from {len(text):,} to {limit:,} characters")
    return head.rstrip() + "…"


def check_label(text: str | None, field: str) -> str | None:
    """A brand or category level: raise ValueError when longer than MAX_LABEL_CHARS (labels are not cut:
    a cut label would be another label)."""
    if text is not None and len(text) > MAX_LABEL_CHARS:
        raise ValueError(f"{field} {text[:40]!r}... has {len(text):,} characters; at most {MAX_LABEL_CHARS}")
    return text


def parse_time(value: Any, column: str) -> float:
    """A number (a position, unix seconds) or an ISO 8601 date as a POSIX timestamp; raises ValueError."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ValueError(f"{column} {text!r} is neither a number nor an ISO 8601 date") from None


def parse_number(value: Any, field: str) -> float | None:
    """A non-negative number ("4.5", "4,5", "1,234"), or None for empty/'None'; raises ValueError naming it."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _NULLS):
        return None
    return read_amount(value, field)


def parse_count(value: Any, field: str) -> int | None:
    """A whole non-negative number ("1,204", "12.0"), or None for empty; raises ValueError."""
    number = parse_number(value, field)
    if number is None:
        return None
    if not number.is_integer():
        raise ValueError(f"{field} {str(value).strip()!r} is not a whole number")
    return int(number)


# A stock cell that says in or out rather than a count (folded: lowercase, spaces and "_" / "-" as one space).
_IN_STOCK = {"in stock", "in", "yes", "y", "true", "available", "instock"}
_OUT_OF_STOCK = {"out of stock", "out", "no", "n", "false", "sold out", "unavailable", "outofstock"}


def parse_stock(value: Any) -> int | None:
    """A stock cell: a whole count ("12", "1,204"), or in / out ("in stock" -> 1: in stock, count unknown;
    "sold out" -> 0), None when empty (not tracked); raises ValueError naming what it accepts."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        said = " ".join(value.replace("_", " ").replace("-", " ").split()).lower()
        if said in _IN_STOCK or said in _OUT_OF_STOCK:
            return int(said in _IN_STOCK)
        if said not in _NULLS and not any(ch.isdigit() for ch in said):
            raise ValueError(f"stock {value.strip()[:40]!r} is neither a whole count nor in / out of stock "
                             "(e.g. 12, 0, in stock, out of stock, yes, no)")
    return parse_count(value, "stock")  # "-2" is negative, "2.5" not a whole number


def parse_price(value: Any) -> tuple[float | None, tuple[str, ...]]:
    """A price cell as the shop wrote it -> (amount, currencies it names); (None, ()) when empty."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _NULLS):
        return None, ()
    if isinstance(value, str):  # an order export repeats a few thousand price texts over many lines
        return _read_price_text(value)
    price = read_price(value)
    return price.amount, price.currencies


@functools.lru_cache(maxsize=8192)
def _read_price_text(text: str) -> tuple[float | None, tuple[str, ...]]:
    price = read_price(text)
    return price.amount, price.currencies


def normalise_facet(text: Any) -> str:
    """A facet name or value as stored and compared: NFKC, whitespace collapsed, stripped, lowercased."""
    return " ".join(unicodedata.normalize("NFKC", str(text)).split()).lower()


def clean_description(value: Any) -> str | None:
    """Description text: HTML tags dropped, entities unescaped, on one line; empty -> None."""
    return clean_text(_TAG.sub(" ", str(value))) if value is not None else None


def parse_facet_values(value: Any) -> list[str]:
    """A facet cell's normalised values: one for text, each item of a JSON list; [] when empty."""
    items = value if isinstance(value, (list, tuple)) else [value]
    values = []
    for item in items:
        text = clean_text(item) if item is not None and not isinstance(item, (dict, list)) else None
        norm = normalise_facet(text) if text else ""
        if norm and norm not in _NULLS and norm not in values:
            values.append(norm)
    return values


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
        if len(text) > MAX_CATEGORY_CHARS:
            raise ValueError(
                f"categories {text[:40]!r}... has {len(text):,} characters; at most {MAX_CATEGORY_CHARS:,}")
        if text[0] in "'\"[":
            literal = text if text[0] == "[" else f"[{text}]"
            try:
                items = ast.literal_eval(literal)
            except (ValueError, SyntaxError):
                raise ValueError(f"categories {text[:60]!r} is not a list") from None
            except (RecursionError, MemoryError):
                raise ValueError(f"categories {text[:60]!r} is nested too deep") from None
            if not isinstance(items, list):
                raise ValueError(f"categories {text[:60]!r} is not a list")
        else:
            items = text.split(">")
    if any(isinstance(i, (list, tuple, dict, set)) for i in items):
        raise ValueError(f"categories {str(value)[:60]!r} is nested too deep; expected one list of levels")
    levels = tuple(c for c in (clean_text(i) for i in items) if c)
    for level in levels:
        check_label(level, "category level")
    return levels


def parse_product(record: dict[str, Any] | BadRecord, mapping: ColumnMapping) -> dict[str, Any]:
    """Clean one raw record into product fields; raises ValueError with the reason.

    ``price_currencies`` holds the currencies the price text names (the importer checks them
    against the catalog's); ``facets`` is a tuple of normalised (name, value) pairs; ``cuts`` lists
    the text cut to its cap ("title cut from 1,532 to 1,000 characters"); ``parent_id`` and ``options``
    ((name, value as written) pairs) make the row a variant (``variants.group_variants``). Text fields come out on
    one line (``one_line``); a brand or category level over MAX_LABEL_CHARS, an id over the store's
    MAX_ID_CHARS and a category cell nested too deep are bad rows.
    """
    if isinstance(record, BadRecord):
        raise ValueError(str(record))
    product_id = clean_id(record.get("id"))
    if not product_id:
        raise ValueError("missing id")
    check_product_id(product_id)
    price, currencies = parse_price(record.get("price"))
    cuts: list[str] = []
    return {
        "id": product_id,
        "title": cap_text(clean_text(record.get("title")), MAX_TITLE_CHARS, "title", cuts),
        "brand": check_label(clean_text(record.get("brand")), "brand"),
        "category_path": parse_categories(record.get("categories")),
        "price": price,
        "price_currencies": currencies,
        "sales_rank": parse_number(record.get("sales_rank"), "sales_rank"),
        "description": cap_text(clean_description(record.get("description")), MAX_DESCRIPTION_CHARS, "description",
                                cuts),
        "facets": tuple((name, value) for name, _ in mapping.facets
                        for value in parse_facet_values(record.get(f"{FACET_PREFIX}{name}"))),
        "rating": parse_number(record.get("rating"), "rating"),
        "review_count": parse_count(record.get("review_count"), "review_count"),
        "image_url": (one_line(str(image)) or None) if (image := record.get("image_url")) is not None else None,
        "stock": parse_stock(record.get("stock")),
        "parent_id": clean_id(record.get("parent_id")),
        "options": tuple((name, value) for name, _ in mapping.options
                         if (value := check_label(clean_text(record.get(f"{OPTION_PREFIX}{name}")), name))),
        "cuts": cuts,
    }
