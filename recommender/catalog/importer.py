"""Import a product file (CSV, TSV or JSONL) and optional shopper histories into a catalog file.

The format is documented in docs/catalog-format.md. Bad rows are skipped and reported as
``line N: reason`` (``strict=True`` fails instead). An order export (one line per sale) becomes one
product per id by ``order_lines.OrderRules``: cancellations and non-products are left out, each
with one summary line in ``ImportReport.notes``. The catalog's currency is the one given, else the
one its price text names ("₹1,299"), else USD with a warning; a price in another currency is a bad
row. A catalog whose products have no category gets them from ``categories_without_column``.
The new catalog is built in a temp file with a unique name in the target folder and moved over
the old one with ``os.replace`` only when everything succeeded, so a failed or interrupted import
leaves the previous catalog untouched. The histories of shoppers who asked to be forgotten
(``recommender/store/forgotten.py``) are left out, and only counted.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from recommender.catalog.formats import (
    PRESETS, BadRecord, ColumnMapping, clean_id, detect_format, parse_product, parse_time, read_records,
)
from recommender.catalog.histories import INTERACTION_FORMATS, INTERACTION_PRESETS, InteractionMapping, read_histories
from recommender.catalog.money import DEFAULT_CURRENCY, CatalogCurrency, currency_code
from recommender.catalog.order_lines import AUTO, OrderRules, ProductLines, is_cancellation
from recommender.catalog.types import derive_type_paths
from recommender.catalog.variants import group_variants
from recommender.catalog.writer import CatalogWriter
from recommender.errors import BadRow, CatalogImportError, InteractionsFormatError
from recommender.store.forgotten import ForgottenShoppers

logger = logging.getLogger(__name__)

__all__ = ["ColumnMapping", "InteractionMapping", "ImportReport", "OrderRules", "import_catalog", "PRESETS"]


@dataclass
class ImportReport:
    """What an import did: counts, skipped rows (with line numbers), warnings and duration."""

    db_path: Path
    products: int = 0
    variants: int = 0  # of the products sold in several options (sizes, colours)
    shoppers: int = 0
    interactions: int = 0
    errors: list[BadRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one line per summary: order lines folded, lines left out
    left_out: dict[str, int] = field(default_factory=dict)  # product lines left out: "cancellation", "not a product"
    history_left_out: dict[str, int] = field(default_factory=dict)  # and history lines: also "no shopper"
    forgotten: int = 0  # shoppers left out because they asked to be forgotten (never named)
    duration: float = 0.0
    fingerprint: str = ""
    currency: str = DEFAULT_CURRENCY
    category_source: str = "column"  # or, for a file without categories, what categories_without_column says

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


def categories_without_column(titles: dict[str, str | None]) -> tuple[dict[str, tuple[str, ...]], str]:
    """The categories of a catalog none of whose products has one (its file has no category column).

    Args:
        titles: product id -> title, for every product.

    Returns:
        product id -> category path to store: the product type ``types.derive_type_paths`` reads
        from the title, general word first (``("shoes", "running shoes")``, ``("jeans",)``), and the
        meta "category_source" value ("derived", or "none" when no title shares a type with others).
    """
    ids = list(titles)
    paths = {pid: path for pid, path in zip(ids, derive_type_paths([titles[pid] for pid in ids])) if path}
    return paths, "derived" if paths else "none"


def _import_products(
    writer: CatalogWriter, path: Path, fmt: str, mapping: ColumnMapping, currency: CatalogCurrency,
    rules: OrderRules, report: ImportReport, strict: bool, progress: bool,
) -> tuple[dict[str, str], set[str], dict[str, str | None] | None, int]:
    """Write the valid products; returns their ids and their variants' (id -> the product's id), the ids left
    out as non-products, id -> title when no product has a category (else None), and how many have a price."""
    folded = ProductLines(rules)
    bad: list[tuple[BadRow, str | None]] = []  # with the row's id, to leave out non-products' bad lines too
    read = cancelled = 0
    total = max(_count_rows(path) - (fmt != "jsonl"), 0)
    records = read_records(path, fmt, mapping.source_columns(), report.warnings, optional=mapping.optional_fields())
    for line, record in tqdm(records, total=total, desc="products", unit=" rows", disable=not progress):
        read += 1
        try:
            if not isinstance(record, BadRecord) and is_cancellation(record):
                cancelled += 1
                continue
            product = parse_product(record, mapping)
            currency.check(product.pop("price_currencies"), record.get("price"), line)
            date = record.get("date")
            folded.add(product, line, parse_time(date, mapping.date) if date not in (None, "") else None)
        except ValueError as e:
            raw_id = None if isinstance(record, BadRecord) else clean_id(record.get("id"))
            bad.append((BadRow(str(path), line, str(e)), raw_id))
            continue
        report.warnings += [f"line {line}: {cut}" for cut in product.pop("cuts")]

    order_export = folded.repeated or bool(mapping.quantity or mapping.order_id)
    not_products = {pid for pid in folded.first_line if rules.is_not_product(pid, order_export)}
    kept_bad = [row for row, pid in bad if not (pid and rules.is_not_product(pid, order_export))]
    products, variants, bad_variants = group_variants(folded.products(drop=not_products), folded.first_line)
    for start in range(0, len(products), 2000):
        writer.add_products(products[start : start + 2000])
    writer.add_variants(variants)
    not_product_lines = len(bad) - len(kept_bad)
    kept_bad = sorted(kept_bad + [BadRow(str(path), line, why) for line, why in bad_variants], key=lambda b: b.line)
    report.errors += kept_bad
    _fail_if_bad(kept_bad, len(products), path, "products", strict)
    report.products, report.variants = len(products), len(variants)
    if variants:
        report.notes.append(f"{plural(len({v['product_id'] for v in variants}), 'product')} sold in "
                            f"{plural(len(variants), 'variant')} (rows sharing a parent id).")
    _note_left_out(report, folded, rules, not_products, not_product_lines, cancelled, read)
    for p in products:
        if p["title"] is None:
            report.warnings.append(f"line {folded.first_line[p['id']]}: product {p['id']!r} has no title; "
                                   "kept, shown by brand and category")
    titles = None if any(p["category_path"] for p in products) else {p["id"]: p["title"] for p in products}
    known = {p["id"]: p["id"] for p in products} | {v["id"]: v["product_id"] for v in variants}
    return known, not_products, titles, sum(p["price"] is not None for p in products)


def _note_left_out(report: ImportReport, folded: ProductLines, rules: OrderRules, not_products: set[str],
                   bad_lines: int, cancelled: int, read: int) -> None:
    """The summary lines of an order export: lines folded into products, non-products, cancellations."""
    if folded.repeated:
        report.notes.append(folded.summary((pid for pid in folded.first_line if pid not in not_products), read))
    lines = sum(folded.lines[pid] for pid in not_products) + bad_lines
    if lines:
        shown = sorted(not_products)
        listed = ", ".join(shown[:8]) + (", ..." if len(shown) > 8 else "")
        report.left_out["not a product"] = lines
        why = "ids without a digit and those given as not products" if AUTO in rules.not_products else (
            "given as not products")
        report.notes.append(f"Left out {plural(lines, 'line')} of {plural(len(shown), 'non-product id')} "
                            f"({listed}): {why}.")
    if cancelled:
        report.left_out["cancellation"] = cancelled
        report.notes.append(f"Left out {plural(cancelled, 'cancellation line')} (a negative quantity, or an order "
                            "number C followed by a digit).")


def _import_interactions(
    writer: CatalogWriter, path: Path, fmt: str, mapping: InteractionMapping, known: dict[str, str],
    not_products: set[str], is_forgotten: Callable[[str], bool], report: ImportReport, strict: bool,
    progress: bool,
) -> None:
    bad: list[BadRow] = []
    left_out: Counter[str] = Counter()
    total = _count_rows(path) if fmt == "sequences" else None  # tables are grouped before the first yield
    try:
        histories = read_histories(path, fmt, mapping, bad, left_out=left_out)
    except InteractionsFormatError as e:
        raise CatalogImportError(str(e)) from e
    for shopper, first, items in tqdm(histories, total=total, desc="shoppers", unit=" shoppers",
                                      disable=not progress):
        if is_forgotten(shopper):
            report.forgotten += 1
            continue
        if not items:
            bad.append(BadRow(str(path), first, f"shopper {shopper!r} has no products"))
        kept = []
        for line, product_id in items:
            if product_id in known:
                kept.append(known[product_id])  # a variant's id stands for its product
            elif product_id in not_products:
                left_out["not a product"] += 1
            else:
                bad.append(BadRow(str(path), line, f"unknown product {product_id!r} (shopper {shopper!r})"))
        if kept:
            writer.add_history(shopper, kept)
            report.shoppers += 1
            report.interactions += len(kept)
    bad.sort(key=lambda b: b.line)
    report.errors += bad
    _fail_if_bad(bad, report.interactions or report.forgotten, path, "interactions", strict)
    report.history_left_out = dict(left_out)
    if report.forgotten:
        report.notes.append(f"Histories: left out {plural(report.forgotten, 'shopper')} who asked to be forgotten.")
    if left_out:
        counts = ", ".join(f"{plural(n, 'line')} {_WHY[why]}" for why, n in sorted(left_out.items()))
        report.notes.append(f"Histories: left out {counts}.")


_WHY = {"cancellation": "of cancellations", "not a product": "of non-products", "no shopper": "without a shopper"}


def import_catalog(
    products: str | Path,
    db_path: str | Path,
    *,
    interactions: str | Path | None = None,
    format: str | None = None,
    mapping: str | ColumnMapping = "default",
    interactions_format: str | None = None,
    interactions_mapping: str | InteractionMapping | None = None,
    order_rules: OrderRules = OrderRules(),
    currency: str | None = None,
    shop_name: str | None = None,
    sells: str | None = None,
    brand_aliases: str | Path | None = None,
    category_aliases: str | Path | None = None,
    strict: bool = False,
    progress: bool = True,
    forgotten: ForgottenShoppers | None = None,
) -> ImportReport:
    """Build a catalog at ``db_path`` from a product file and, optionally, shopper histories.

    Args:
        products: CSV, TSV (.tsv/.item) or JSONL file; see docs/catalog-format.md.
        db_path: the catalog file to create or replace (atomically, only on success).
        interactions: ``shopper item1 item2 ...`` lines (.txt) or a shopper/product/order table.
        format: "csv", "tsv" or "jsonl"; detected from the extension when None.
        mapping: a preset name ("default", "recbole") or a ColumnMapping.
        interactions_format: "sequences", "csv", "tsv" or "jsonl"; detected when None.
        interactions_mapping: a preset name or InteractionMapping; defaults to the products preset's,
            or, when ``interactions`` is the products file itself, ``InteractionMapping.from_products``.
        order_rules: how repeated ids, cancellations and non-products of an order export are handled.
        currency: the ISO 4217 code of the prices; None: the one the price text names, else USD.
        shop_name: the shop's name (meta "shop_name"), for greetings.
        sells: what the shop sells, in a few words (meta "shop_sells").
        brand_aliases: a CSV file of other names of the catalog's brands (columns ``alias`` and ``brand``:
            "欧莱雅,L'Oreal Paris"), so that shoppers may name a brand in their own script (meta
            "brand_aliases"); rows naming no catalog brand are skipped with a warning.
        category_aliases: the same for the catalog's categories (columns ``alias`` and ``category``, any
            level of a category path: "洗发水,Shampoos"; meta "category_aliases").
        strict: fail on the first file with a bad row instead of skipping bad rows.
        progress: show tqdm progress bars.
        forgotten: the shoppers whose histories are never imported; None: the record beside the
            configured shopper store (``ForgottenShoppers.configured()``).

    Raises:
        CatalogImportError: nothing valid to import, a bad row in strict mode, unreadable input, or an
            unknown currency code.
    """
    started = time.perf_counter()
    products, db_path = Path(products), Path(db_path)
    col_map = _resolve_mapping(mapping)
    try:
        catalog_currency = CatalogCurrency(currency_code(currency) if currency is not None else None)
    except ValueError as e:
        raise CatalogImportError(f"Unknown currency: {e}.") from None
    fmt = format or detect_format(products)
    _check_file(products, "Products")
    inter_path = Path(interactions) if interactions is not None else None
    inter_fmt = ""
    if inter_path is not None:
        _check_file(inter_path, "Interactions")
        inter_fmt = interactions_format or detect_format(inter_path, INTERACTION_FORMATS)
    same_file = inter_path is not None and inter_path.resolve() == products.resolve()
    inter_map = interactions_mapping or (InteractionMapping.from_products(col_map) if same_file
                                         else col_map.interactions)
    if isinstance(inter_map, str):
        if inter_map not in INTERACTION_PRESETS:
            raise CatalogImportError(
                f"Unknown interactions mapping {inter_map!r}; expected one of {sorted(INTERACTION_PRESETS)}"
            )
        inter_map = INTERACTION_PRESETS[inter_map]

    report = ImportReport(db_path=db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{db_path.name}.", suffix=".tmp", dir=db_path.parent)
    os.close(fd)
    tmp = Path(name)
    writer: CatalogWriter | None = None
    try:
        writer = CatalogWriter(tmp)
        with _utf8(products):
            known, not_products, titles, priced = _import_products(
                writer, products, fmt, col_map, catalog_currency, order_rules, report, strict, progress)
        if titles is not None:
            paths, report.category_source = categories_without_column(titles)
            writer.set_categories(paths)
            report.warnings.append(f"No category column: product types read from the titles for {len(paths):,} of "
                                   f"{len(titles):,} products (see docs/catalog-format.md, product types).")
        report.currency = catalog_currency.code or DEFAULT_CURRENCY
        if catalog_currency.code is None and priced:
            report.warnings.append(f"No currency in the prices and none given: prices are taken as {DEFAULT_CURRENCY}. "
                                   "If they are not, import again with --currency CODE (e.g. --currency EUR).")
        if inter_path is not None:
            with _utf8(inter_path):
                record = forgotten if forgotten is not None else ForgottenShoppers.configured()
                is_forgotten = record.matcher()
                _import_interactions(writer, inter_path, inter_fmt, inter_map, known,
                                     not_products | order_rules.listed, is_forgotten, report, strict, progress)
        aliases = {f"{kind}_aliases": _read_aliases(Path(path), kind, names(), report)
                   for kind, path, names in (("brand", brand_aliases, writer.brands),
                                             ("category", category_aliases, writer.categories)) if path}
        meta = {
            "source": str(products),
            "format": fmt,
            "mapping": col_map.name,
            "interactions_source": str(inter_path) if inter_path else "",
            "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "currency": report.currency,
            "category_source": report.category_source,
            **{key: " ".join(value.split()) for key, value in (("shop_name", shop_name), ("shop_sells", sells))
               if value and value.strip()},
            **{key: json.dumps(value, ensure_ascii=False, sort_keys=True) for key, value in aliases.items() if value},
        }
        report.fingerprint = writer.finish(meta)
        writer.close()
        _fsync(tmp)
        os.chmod(tmp, db_path.stat().st_mode & 0o777 if db_path.exists() else 0o644)  # mkstemp made it 0600
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


def _read_aliases(path: Path, kind: str, names: Iterable[str], report: ImportReport) -> dict[str, str]:
    """alias -> the catalog's spelling of the name it stands for, from a CSV file with the columns
    ``alias`` and ``kind`` ("brand" or "category").

    A row with an empty field, a name the catalog does not have or an alias given twice is skipped,
    with a warning naming its line. Raises CatalogImportError when the file cannot be read or lacks a column.
    """
    _check_file(path, f"{kind.capitalize()} aliases")
    spelling = {name.casefold(): name for name in names}
    aliases: dict[str, str] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            missing = {"alias", kind} - set(reader.fieldnames or ())
            if missing:
                raise CatalogImportError(f"{path}: no {' or '.join(sorted(missing))} column "
                                         f"(expected a header line: alias,{kind}).")
            for line, row in enumerate(reader, start=2):
                alias, name = " ".join((row["alias"] or "").split()), (row[kind] or "").strip()
                if not alias or not name:
                    report.warnings.append(f"{path.name} line {line}: an empty alias or {kind}; skipped.")
                elif name.casefold() not in spelling:
                    report.warnings.append(f"{path.name} line {line}: the catalog has no {kind} {name!r}; "
                                           f"alias {alias!r} skipped.")
                elif alias.casefold() in aliases:
                    report.warnings.append(f"{path.name} line {line}: alias {alias!r} is given twice; the first kept.")
                else:
                    aliases[alias.casefold()] = spelling[name.casefold()]
    except (UnicodeDecodeError, csv.Error) as e:
        raise CatalogImportError(f"{path}: cannot read it as a UTF-8 CSV file ({e}).") from None
    return aliases


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
