"""Import a product file (CSV, TSV or JSONL) and optional shopper histories into a catalog file.

The format is documented in docs/catalog-format.md. Bad rows are skipped and reported as
``line N: reason`` (``strict=True`` fails instead). The new catalog is built in a temp file in the
target folder and moved over the old one with ``os.replace`` only when everything succeeded, so a
failed or interrupted import leaves the previous catalog untouched.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from recommender.catalog.formats import PRESETS, ColumnMapping, detect_format, parse_product, read_records
from recommender.catalog.histories import INTERACTION_FORMATS, INTERACTION_PRESETS, InteractionMapping, read_histories
from recommender.catalog.writer import CatalogWriter
from recommender.errors import BadRow, CatalogImportError, InteractionsFormatError

logger = logging.getLogger(__name__)

__all__ = ["ColumnMapping", "InteractionMapping", "ImportReport", "import_catalog", "PRESETS"]


@dataclass
class ImportReport:
    """What an import did: counts, skipped rows (with line numbers), warnings and duration."""

    db_path: Path
    products: int = 0
    shoppers: int = 0
    interactions: int = 0
    errors: list[BadRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    duration: float = 0.0
    fingerprint: str = ""

    @property
    def ok(self) -> bool:
        """True when no row was skipped."""
        return not self.errors


def _resolve_mapping(mapping: str | ColumnMapping) -> ColumnMapping:
    if isinstance(mapping, ColumnMapping):
        return mapping
    try:
        return PRESETS[mapping]
    except KeyError:
        raise CatalogImportError(f"Unknown mapping preset {mapping!r}; expected one of {sorted(PRESETS)}") from None


def _check_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise CatalogImportError(f"{what} file {str(path)!r} not found.")


def _count_rows(path: Path) -> int:
    """Non-blank lines: the progress bar's total (a quoted multi-line field makes it a slight overestimate)."""
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def plural(n: int, noun: str) -> str:
    """``plural(1, "bad row")`` -> "1 bad row"; ``plural(3, "bad row")`` -> "3 bad rows"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@contextmanager
def _utf8(path: Path) -> Iterator[None]:
    """Reading ``path``: bytes that are not UTF-8 become a CatalogImportError naming the fix."""
    try:
        yield
    except UnicodeDecodeError as e:
        bad = e.object[e.start : e.start + 4]
        raise CatalogImportError(
            f"{path} is not UTF-8 text ({e.reason}: {bad!r}); save it as UTF-8 and import again.") from e


def _fail_if_bad(bad: list[BadRow], valid: int, path: Path, what: str, strict: bool) -> None:
    if valid == 0:
        first = f"; first: {bad[0]}" if bad else ""
        raise CatalogImportError(f"No valid {what} in {path} ({plural(len(bad), 'bad row')}{first}).", bad)
    if strict and bad:
        raise CatalogImportError(
            f"{plural(len(bad), 'bad row')} in {path} (first: {bad[0]}); nothing imported (strict mode).", bad
        )


def _import_products(
    writer: CatalogWriter, path: Path, fmt: str, mapping: ColumnMapping, report: ImportReport, strict: bool,
    progress: bool,
) -> set[str]:
    seen: dict[str, int] = {}
    bad: list[BadRow] = []
    batch: list[dict[str, Any]] = []
    total = max(_count_rows(path) - (fmt != "jsonl"), 0)
    records = read_records(path, fmt, mapping.source_columns(), report.warnings)
    for line, record in tqdm(records, total=total, desc="products", unit=" rows", disable=not progress):
        try:
            product = parse_product(record, mapping)
            if product["id"] in seen:
                raise ValueError(f"duplicate id {product['id']!r} (first on line {seen[product['id']]})")
        except ValueError as e:
            bad.append(BadRow(str(path), line, str(e)))
            continue
        seen[product["id"]] = line
        if product["title"] is None:
            report.warnings.append(
                f"line {line}: product {product['id']!r} has no title; kept, shown by brand and category"
            )
        batch.append(product)
        if len(batch) >= 2000:
            writer.add_products(batch)
            batch.clear()
    writer.add_products(batch)
    report.errors += bad
    _fail_if_bad(bad, len(seen), path, "products", strict)
    report.products = len(seen)
    return set(seen)


def _import_interactions(
    writer: CatalogWriter, path: Path, fmt: str, mapping: InteractionMapping, known: set[str],
    report: ImportReport, strict: bool, progress: bool,
) -> None:
    bad: list[BadRow] = []
    total = _count_rows(path) if fmt == "sequences" else None  # tables are grouped before the first yield
    try:
        histories = read_histories(path, fmt, mapping, bad)
    except InteractionsFormatError as e:
        raise CatalogImportError(str(e)) from e
    for shopper, first, items in tqdm(histories, total=total, desc="shoppers", unit=" shoppers",
                                      disable=not progress):
        if not items:
            bad.append(BadRow(str(path), first, f"shopper {shopper!r} has no products"))
        kept = []
        for line, product_id in items:
            if product_id in known:
                kept.append(product_id)
            else:
                bad.append(BadRow(str(path), line, f"unknown product {product_id!r} (shopper {shopper!r})"))
        if kept:
            writer.add_history(shopper, kept)
            report.shoppers += 1
            report.interactions += len(kept)
    bad.sort(key=lambda b: b.line)
    report.errors += bad
    _fail_if_bad(bad, report.interactions, path, "interactions", strict)


def import_catalog(
    products: str | Path,
    db_path: str | Path,
    *,
    interactions: str | Path | None = None,
    format: str | None = None,
    mapping: str | ColumnMapping = "default",
    interactions_format: str | None = None,
    interactions_mapping: str | InteractionMapping | None = None,
    strict: bool = False,
    progress: bool = True,
) -> ImportReport:
    """Build a catalog at ``db_path`` from a product file and, optionally, shopper histories.

    Args:
        products: CSV, TSV (.tsv/.item) or JSONL file; see docs/catalog-format.md.
        db_path: the catalog file to create or replace (atomically, only on success).
        interactions: ``shopper item1 item2 ...`` lines (.txt) or a shopper/product/order table.
        format: "csv", "tsv" or "jsonl"; detected from the extension when None.
        mapping: a preset name ("default", "recbole") or a ColumnMapping.
        interactions_format: "sequences", "csv", "tsv" or "jsonl"; detected when None.
        interactions_mapping: a preset name or InteractionMapping; defaults to the products preset's.
        strict: fail on the first file with a bad row instead of skipping bad rows.
        progress: show tqdm progress bars.

    Raises:
        CatalogImportError: nothing valid to import, a bad row in strict mode, or unreadable input.
    """
    started = time.perf_counter()
    products, db_path = Path(products), Path(db_path)
    col_map = _resolve_mapping(mapping)
    fmt = format or detect_format(products)
    _check_file(products, "Products")
    inter_path = Path(interactions) if interactions is not None else None
    inter_fmt = ""
    if inter_path is not None:
        _check_file(inter_path, "Interactions")
        inter_fmt = interactions_format or detect_format(inter_path, INTERACTION_FORMATS)
    inter_map = interactions_mapping or col_map.interactions
    if isinstance(inter_map, str):
        if inter_map not in INTERACTION_PRESETS:
            raise CatalogImportError(
                f"Unknown interactions mapping {inter_map!r}; expected one of {sorted(INTERACTION_PRESETS)}"
            )
        inter_map = INTERACTION_PRESETS[inter_map]

    report = ImportReport(db_path=db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}.tmp")
    writer: CatalogWriter | None = None
    try:
        writer = CatalogWriter(tmp)
        with _utf8(products):
            known = _import_products(writer, products, fmt, col_map, report, strict, progress)
        if inter_path is not None:
            with _utf8(inter_path):
                _import_interactions(writer, inter_path, inter_fmt, inter_map, known, report, strict, progress)
        meta = {
            "source": str(products),
            "format": fmt,
            "mapping": col_map.name,
            "interactions_source": str(inter_path) if inter_path else "",
            "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        report.fingerprint = writer.finish(meta)
        writer.close()
        _fsync(tmp)
        os.replace(tmp, db_path)
    except BaseException:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        logger.info("import into %s failed; previous catalog left untouched", db_path)
        raise
    report.duration = time.perf_counter() - started
    logger.info(
        "imported %d products, %d shoppers, %d interactions into %s in %.1f s (%d bad rows)",
        report.products, report.shoppers, report.interactions, db_path, report.duration, len(report.errors),
    )
    return report


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
