"""``shopbot catalog ...``: build the product catalog from your files, and inspect it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from recommender import (
    FORMATS, INTERACTION_FORMATS, PRESETS, BadRow, Catalog, CatalogImportError, ImportReport, config, import_catalog,
    plural,
)

MAX_SHOWN = 20  # bad rows / warnings listed before "... and N more"


def db_option(func: Any) -> Any:
    """The ``--db PATH`` option shared by the catalog commands."""
    return click.option(
        "--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Catalog file. Default: $SHOPBOT_CATALOG or var/catalog.db.",
    )(func)


def _list_to_stderr(title: str, items: list[BadRow] | list[str]) -> None:
    if not items:
        return
    click.echo(title, err=True)
    for item in items[:MAX_SHOWN]:
        where = f"{Path(item.source).name} " if isinstance(item, BadRow) else ""
        click.echo(f"  {where}{item}", err=True)
    if len(items) > MAX_SHOWN:
        click.echo(f"  ... and {len(items) - MAX_SHOWN:,} more", err=True)


def _parse_columns(columns: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for item in columns:
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise click.BadParameter(f"{item!r} is not FIELD=COLUMN, e.g. id=sku", param_hint="--column")
        parsed[field.strip()] = column.strip()
    return parsed


@click.command("build")
@click.argument("products", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--interactions", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Shopper histories: 'shopper item1 item2 ...' lines (.txt) or a shopper/product/order table. "
                   "Default: the shipped Beauty sequences when PRODUCTS is omitted, else none.")
@click.option("--interactions-format", type=click.Choice(INTERACTION_FORMATS), default=None,
              help="Interactions file format. Default: from the extension (.txt = sequences).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Products file format. Default: from the extension (.csv, .tsv/.item, .jsonl).")
@click.option("--mapping", type=click.Choice(sorted(PRESETS)), default=None,
              help="Column mapping preset. Default: recbole for .item files, else default "
                   "(columns id,title,brand,category,price).")
@click.option("--column", "columns", multiple=True, metavar="FIELD=COLUMN",
              help="Map one product field to your column, e.g. --column id=sku (repeatable).")
@db_option
@click.option("--strict", is_flag=True, help="Fail on any bad row instead of skipping it; the old catalog stays.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no warnings (bad rows are still listed).")
def build(products: Path | None, interactions: Path | None, interactions_format: str | None, fmt: str | None,
          mapping: str | None, columns: tuple[str, ...], db_path: Path | None, strict: bool, quiet: bool) -> None:
    """Import PRODUCTS (and shopper histories) into a new catalog file.

    Without PRODUCTS, builds the shipped Amazon Beauty catalog. The old catalog is replaced only
    when the import succeeds. Bad rows are skipped and listed with their line numbers.

    Examples:

        shopbot catalog build

        shopbot catalog build shop.csv --interactions orders.csv --db var/shop.db

        shopbot catalog build items.tsv --column id=sku --column category=department --strict
    """
    if products is None:
        products = config.SHIPPED_PRODUCTS
        interactions = interactions or config.SHIPPED_SEQUENCES
    mapping = mapping or ("recbole" if products.suffix.lower() == ".item" else "default")
    col_map = PRESETS[mapping].with_columns(**_parse_columns(columns)) if columns else PRESETS[mapping]
    db_path = db_path or config.catalog_path()
    try:
        report = import_catalog(products, db_path, interactions=interactions, format=fmt, mapping=col_map,
                                interactions_format=interactions_format,
                                strict=strict, progress=not quiet and sys.stderr.isatty())
    except CatalogImportError as e:
        _list_to_stderr(f"{plural(len(e.bad_rows), 'bad row')}:", e.bad_rows)
        raise
    _print_report(report, quiet)


def _print_report(report: ImportReport, quiet: bool) -> None:
    _list_to_stderr(f"Skipped {plural(len(report.errors), 'bad row')}:", report.errors)
    if not quiet:
        _list_to_stderr(f"{plural(len(report.warnings), 'warning')}:", report.warnings)
    click.echo(
        f"Imported {plural(report.products, 'product')}, {plural(report.shoppers, 'shopper')} and "
        f"{plural(report.interactions, 'interaction')} into {report.db_path} in {report.duration:.1f} s."
    )


@click.command("stats")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
def stats(db_path: Path | None, as_json: bool) -> None:
    """Print counts of products, shoppers, interactions, brands and categories.

    Example:

        shopbot catalog stats --db var/catalog.db
    """
    with Catalog.open(db_path or config.catalog_path()) as cat:
        numbers = cat.stats()
    if as_json:
        click.echo(json.dumps(numbers, indent=2))
        return
    width = max(len(k) for k in numbers)
    for key, value in numbers.items():
        shown = f"{value:,}" if isinstance(value, int) else (value or "-")
        click.echo(f"{key:<{width}}  {shown}")


@click.command("keyword-search")
@click.argument("query")
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Number of results.")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON lines.")
def keyword_search(query: str, limit: int, db_path: Path | None, as_json: bool) -> None:
    """Full-text (keyword) search of titles, brands and categories; any word may match.

    Example:

        shopbot catalog keyword-search "shampoo for dry hair" --limit 5
    """
    with Catalog.open(db_path or config.catalog_path()) as cat:
        hits = cat.keyword_search(query, limit=limit)
        products = {p.id: p for p in cat.get_products([h[0] for h in hits])}
    if not hits:
        click.echo(f"No products match {query!r}.", err=True)
        return
    for product_id, score, terms in hits:
        p = products[product_id]
        if as_json:
            click.echo(json.dumps({"id": p.id, "score": round(score, 4), "matched": list(terms),
                                   "title": p.display_title, "brand": p.brand, "price": p.price}))
            continue
        price = f"${p.price:,.2f}" if p.price is not None else "price unknown"
        brand = f"{p.brand}, " if p.brand else ""
        click.echo(f"{p.id}  {score:6.2f}  {p.display_title} ({brand}{price})  [{', '.join(terms)}]")
