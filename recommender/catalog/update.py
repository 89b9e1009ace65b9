"""Change the price and stock of the products a file names, in the catalog file in place.

``update_catalog`` reads a product file (the same formats and ``--column`` mapping as an import) of
which only the id, price and stock columns count; a missing column or an empty cell leaves that field
as it is. An id may be a product's or, for a product sold in several options, a variant's (the
product's lowest price and summed stock follow). Every valid row is written in one transaction, so
the servers reading the file see all of the update or none; a bad row (an unknown id, a price in
another currency, a stock cell that is neither a count nor in / out) is skipped and reported with its
line, and with ``strict`` nothing is written. Price and stock feed no vector and no trained model, so
the catalog's fingerprint stays and nothing is rebuilt; anything else changes with a new import.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from recommender.catalog.formats import ColumnMapping, clean_id, detect_format, parse_price, parse_stock, read_records
from recommender.catalog.money import DEFAULT_CURRENCY, CatalogCurrency
from recommender.catalog.variants import totals
from recommender.errors import BadRow, CatalogImportError, CatalogNotFound

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 10.0


@dataclass
class UpdateReport:
    """What an update changed: product or variant id -> (field, old, new) for each field that changed."""

    db_path: Path
    changed: dict[str, list[tuple[str, float | int | None, float | int | None]]] = field(default_factory=dict)
    unchanged: int = 0  # rows naming what the catalog already had
    errors: list[BadRow] = field(default_factory=list)


def update_catalog(db_path: str | Path, products: str | Path, *, format: str | None = None,
                   mapping: ColumnMapping = ColumnMapping(), strict: bool = False) -> UpdateReport:
    """Write the price and stock a file gives for the products (or variants) it names (module docstring).

    Raises:
        CatalogNotFound: no catalog at ``db_path``.
        CatalogImportError: the file cannot be read, has no id column, or (``strict``) has a bad row.
    """
    db_path, products = Path(db_path), Path(products)
    if not db_path.is_file():
        raise CatalogNotFound(f"No catalog at {db_path}. Build it with \"shopbot catalog build --db {db_path}\".")
    if not products.is_file():
        raise CatalogImportError(f"Products file {str(products)!r} not found.")
    report = UpdateReport(db_path)
    warnings: list[str] = []
    columns = {name: column for name, column in mapping.source_columns().items() if name in ("id", "price", "stock")}
    conn = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        stored = conn.execute("SELECT value FROM meta WHERE key = 'currency'").fetchone()  # none before schema 2
        currency = CatalogCurrency(stored[0] if stored else DEFAULT_CURRENCY)
        parents: set[str] = set()
        seen: dict[str, int] = {}
        with_variants = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'variants'").fetchone() is not None
        for line, record in read_records(products, format or detect_format(products), columns, warnings,
                                         optional=("price", "stock")):
            try:
                parent = _update_row(conn, record, line, currency, seen, report, with_variants)
            except ValueError as e:
                report.errors.append(BadRow(str(products), line, str(e)))
                continue
            if parent:
                parents.add(parent)
        for parent in sorted(parents):
            _sum_up(conn, parent)
        if strict and report.errors:
            raise CatalogImportError(f"{len(report.errors)} bad row(s) in {products} (first: {report.errors[0]}); "
                                     "nothing updated (strict mode).", report.errors)
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('updated_at', ?)",
                     [datetime.now(timezone.utc).isoformat(timespec="seconds")])
        conn.execute("COMMIT")
    except BaseException as e:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(e, UnicodeDecodeError):
            raise CatalogImportError(f"{products} is not UTF-8 text ({e.reason}); nothing updated.") from e
        raise
    finally:
        conn.close()
    logger.info("updated %d products or variants of %s (%d bad rows)", len(report.changed), db_path,
                len(report.errors))
    return report


def _update_row(conn: sqlite3.Connection, record: object, line: int, currency: CatalogCurrency,
                seen: dict[str, int], report: UpdateReport, with_variants: bool) -> str | None:
    """Apply one row; returns the product whose variant it changed (its totals follow), else None."""
    if not isinstance(record, dict):
        raise ValueError(str(record))
    pid = clean_id(record.get("id"))
    if not pid:
        raise ValueError("missing id")
    if pid in seen:
        raise ValueError(f"{pid!r} is already on line {seen[pid]}")
    seen[pid] = line
    new: dict[str, float | int] = {}
    if record.get("price") not in (None, ""):
        price, currencies = parse_price(record["price"])
        currency.check(currencies, record["price"], line)
        if price is not None:
            new["price"] = price
    if record.get("stock") not in (None, "") and (stock := parse_stock(record["stock"])) is not None:
        new["stock"] = stock
    table, parent = "products", None
    row = conn.execute("SELECT price, stock FROM products WHERE id = ?", [pid]).fetchone()
    if row is None:
        found = conn.execute("SELECT price, stock, product_id FROM variants WHERE id = ?", [pid]).fetchone() \
            if with_variants else None
        if found is None:
            raise ValueError(f"unknown product {pid!r}: the catalog has no such product (a new product needs "
                             "'shopbot catalog build')")
        table, row, parent = "variants", found[:2], found[2]
    elif with_variants and conn.execute("SELECT 1 FROM variants WHERE product_id = ?", [pid]).fetchone():
        raise ValueError(f"{pid!r} is sold in several options: give the rows of its variants")
    old = dict(zip(("price", "stock"), row))
    changes = [(name, old[name], value) for name, value in new.items() if old[name] != value]
    if not changes:
        report.unchanged += 1
        return None
    assignments = ", ".join(f"{name} = ?" for name, _, _ in changes)  # names from the fixed ("price", "stock")
    conn.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", [*(value for _, _, value in changes), pid])
    report.changed[pid] = changes
    return parent


def _sum_up(conn: sqlite3.Connection, product_id: str) -> None:
    """A product sold in several options gets its options' totals (``variants.totals``)."""
    rows = conn.execute("SELECT price, stock FROM variants WHERE product_id = ?", [product_id]).fetchall()
    price, stock = totals(rows)
    conn.execute("UPDATE products SET price = coalesce(?, price), stock = ? WHERE id = ?", [price, stock, product_id])
