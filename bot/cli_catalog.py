"""``shopbot catalog ...``: build the product catalog from your files, and inspect it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bot.cli_watches import fire_after_change
from recommender import (
    FORMATS, INTERACTION_FORMATS, INTERACTION_PRESETS, PRESETS, REPEATED_IDS, BadRow, Catalog, CatalogImportError,
    ImportReport, InteractionMapping, OrderRules, config, format_price, import_catalog, parse_not_products, plural,
)
from recommender.catalog.update import update_catalog

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


def _parse_pairs(items: tuple[str, ...], option: str, example: str) -> dict[str, str]:
    """``("id=sku", ...)`` -> ``{"id": "sku"}``; a bad item is a usage error naming the option."""
    parsed = {}
    for item in items:
        key, sep, column = item.partition("=")
        if not sep or not key.strip() or not column.strip():
            what = "NAME=COLUMN" if option in ("--facet", "--option") else "FIELD=COLUMN"
            raise click.BadParameter(f"{item!r} is not {what}, e.g. {example}", param_hint=option)
        parsed[key.strip()] = column.strip()
    return parsed


@click.command("build")
@click.argument("products", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--interactions", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Shopper histories: 'shopper item1 item2 ...' lines (.txt) or a shopper/product/order table. "
                   "Default: the shipped Beauty sequences when PRODUCTS is omitted, else none.")
@click.option("--interactions-format", type=click.Choice(INTERACTION_FORMATS), default=None,
              help="Interactions file format. Default: from the extension (.txt = sequences).")
@click.option("--interactions-column", "interactions_columns", multiple=True, metavar="FIELD=COLUMN",
              help="Map one history field to your column, e.g. --interactions-column shopper=CustomerID "
                   "(repeatable). Fields: shopper, product (or item), order (or time, date), quantity, order_id. "
                   "When --interactions is the PRODUCTS file, product, order, quantity and order_id default to "
                   "the --column mapping of id, date, quantity and order_id.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Products file format. Default: from the extension (.csv, .tsv/.item, .jsonl).")
@click.option("--mapping", type=click.Choice(sorted(PRESETS)), default=None,
              help="Column mapping preset. Default: recbole for .item files, else default "
                   "(columns id,title,brand,category,price).")
@click.option("--column", "columns", multiple=True, metavar="FIELD=COLUMN",
              help="Map one product field to your column, e.g. --column id=sku (repeatable). Fields: id, title, "
                   "brand, category, price, description, rating, review_count, image_url, stock, sales_rank, "
                   "parent_id (rows sharing it are variants of one product, see --option); "
                   "for an order export also date (the latest line wins), quantity and order_id (cancellations).")
@click.option("--repeated-ids", type=click.Choice(REPEATED_IDS), default="latest", show_default=True,
              help="A repeated id is another order line of one product: its latest (or first) line gives title "
                   "and price; 'reject' makes it a bad row.")
@click.option("--not-products", default="auto", metavar="IDS", show_default=True,
              help="Comma-separated ids that are not products (postage, fees), left out of products and "
                   "histories; 'auto' stands for every id without a digit in an order export, e.g. auto,C2.")
@click.option("--facet", "facets", multiple=True, metavar="NAME=COLUMN",
              help="Read a shop attribute shoppers filter by, e.g. --facet colour=PrimaryColour (repeatable).")
@click.option("--option", "options", multiple=True, metavar="NAME=COLUMN",
              help="A column the variants of one product differ in, e.g. --option size=Size (repeatable); "
                   "rows sharing the parent_id column's value are one product, sold in those options.")
@click.option("--currency", default=None, metavar="CODE",
              help="ISO 4217 code of the prices, e.g. EUR. Default: the one the price text names (\"₹1,299\"), "
                   "else USD.")
@click.option("--shop-name", default=None, help="The shop's name, used when the assistant greets shoppers.")
@click.option("--sells", default=None, metavar="TEXT",
              help="What the shop sells, in a few words, e.g. \"clothes and shoes\".")
@click.option("--brand-aliases", type=click.Path(path_type=Path), default=None, metavar="CSV",
              help="Other names of the catalog's brands, a CSV file with columns alias,brand "
                   "(\"欧莱雅,L'Oreal Paris\"): shoppers may name a brand by them. Without PRODUCTS: the "
                   "shipped catalog's.")
@click.option("--category-aliases", type=click.Path(path_type=Path), default=None, metavar="CSV",
              help="Other names of the catalog's categories, a CSV file with columns alias,category "
                   "(\"洗发水,Shampoos\"): shoppers may name a product type by them. Without PRODUCTS: the "
                   "shipped catalog's.")
@db_option
@click.option("--strict", is_flag=True, help="Fail on any bad row instead of skipping it; the old catalog stays.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no warnings (bad rows are still listed).")
def build(products: Path | None, interactions: Path | None, interactions_format: str | None,
          interactions_columns: tuple[str, ...], fmt: str | None, mapping: str | None, columns: tuple[str, ...],
          repeated_ids: str, not_products: str, facets: tuple[str, ...], options: tuple[str, ...],
          currency: str | None,
          shop_name: str | None, sells: str | None, brand_aliases: Path | None, category_aliases: Path | None,
          db_path: Path | None, strict: bool, quiet: bool) -> None:
    """Import PRODUCTS (and shopper histories) into a new catalog file.

    Without PRODUCTS, builds the shipped Amazon Beauty catalog. The old catalog is replaced only
    when the import succeeds. Bad rows are skipped and listed with their line numbers.

    Examples:

        shopbot catalog build

        shopbot catalog build shop.csv --interactions orders.csv --db var/shop.db

        shopbot catalog build items.tsv --column id=sku --column category=department --strict

        shopbot catalog build fashion.csv --column title=ProductName --facet colour=PrimaryColour
        --facet gender=Gender --currency INR --shop-name "Urban Threads" --sells "clothes and shoes"
        --brand-aliases brand_aliases.csv --category-aliases category_aliases.csv

        shopbot catalog build outdoor.csv --column id=sku --column parent_id=parent --option size=Size
        --option colour=Colour --currency EUR

        shopbot catalog build orders.csv --column id=StockCode --column title=Description
        --column price=UnitPrice --column date=InvoiceDate --column quantity=Quantity --currency GBP
        --not-products auto,C2 --interactions orders.csv --interactions-column shopper=CustomerID
    """
    if products is None:
        products = config.SHIPPED_PRODUCTS
        interactions = interactions or config.SHIPPED_SEQUENCES
        currency = currency or "USD"
        brand_aliases = brand_aliases or config.SHIPPED_BRAND_ALIASES
        category_aliases = category_aliases or config.SHIPPED_CATEGORY_ALIASES
    mapping = mapping or ("recbole" if products.suffix.lower() == ".item" else "default")
    col_map = PRESETS[mapping]
    if columns:
        col_map = col_map.with_columns(**_parse_pairs(columns, "--column", "id=sku"))
    if facets:
        col_map = col_map.with_facets(_parse_pairs(facets, "--facet", "colour=PrimaryColour"))
    if options:
        col_map = col_map.with_options(_parse_pairs(options, "--option", "size=Size"))
    inter_map = None
    if interactions_columns:
        same_file = interactions is not None and interactions.resolve() == products.resolve()
        base = InteractionMapping.from_products(col_map) if same_file else INTERACTION_PRESETS[col_map.interactions]
        inter_map = base.with_columns(**_parse_pairs(interactions_columns, "--interactions-column",
                                                     "shopper=CustomerID"))
    rules = OrderRules(repeated_ids=repeated_ids, not_products=parse_not_products(not_products))
    db_path = db_path or config.catalog_path()
    try:
        report = import_catalog(products, db_path, interactions=interactions, format=fmt, mapping=col_map,
                                interactions_format=interactions_format, interactions_mapping=inter_map,
                                order_rules=rules, currency=currency, shop_name=shop_name, sells=sells,
                                brand_aliases=brand_aliases, category_aliases=category_aliases, strict=strict,
                                progress=not quiet and sys.stderr.isatty())
    except CatalogImportError as e:
        _list_to_stderr(f"{plural(len(e.bad_rows), 'bad row')}:", e.bad_rows)
        raise
    _print_report(report, quiet)
    fire_after_change(db_path)


@click.command("update")
@click.argument("products", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Products file format. Default: from the extension (.csv, .tsv, .jsonl).")
@click.option("--column", "columns", multiple=True, metavar="FIELD=COLUMN",
              help="Map id, price or stock to your column, e.g. --column id=sku (repeatable).")
@db_option
@click.option("--strict", is_flag=True, help="Change nothing if any row is bad.")
def update(products: Path, fmt: str | None, columns: tuple[str, ...], db_path: Path | None, strict: bool) -> None:
    """Change the price and stock of the products PRODUCTS names, in the catalog in place; then message
    the shoppers whose watches ("back in stock", "under 20") came true.

    Only the id, price and stock columns count; a missing column or an empty cell leaves the field as it
    is. An id may be a variant's (its product's price and stock follow). The running assistant sees the
    change at once; nothing is rebuilt. Anything else (titles, new products) needs 'shopbot catalog build'.

    Examples:

        shopbot catalog update stock.csv

        shopbot catalog update todays_prices.csv --column id=sku --column price=Price --strict
    """
    col_map = PRESETS["default"].with_columns(**_parse_pairs(columns, "--column", "id=sku")) if columns else \
        PRESETS["default"]
    db_path = db_path or config.catalog_path()
    try:
        report = update_catalog(db_path, products, format=fmt, mapping=col_map, strict=strict)
    except CatalogImportError as e:
        _list_to_stderr(f"{plural(len(e.bad_rows), 'bad row')}:", e.bad_rows)
        raise
    _list_to_stderr(f"Skipped {plural(len(report.errors), 'bad row')}:", report.errors)
    fields = [name for changes in report.changed.values() for name, _, _ in changes]
    click.echo(f"Updated {plural(len(report.changed), 'product')} in {db_path} (price of {fields.count('price'):,}, "
               f"stock of {fields.count('stock'):,}); {report.unchanged:,} already as given.")
    fire_after_change(db_path)


def _print_report(report: ImportReport, quiet: bool) -> None:
    _list_to_stderr(f"Skipped {plural(len(report.errors), 'bad row')}:", report.errors)
    if not quiet:
        _list_to_stderr(f"{plural(len(report.warnings), 'warning')}:", report.warnings)
    for note in report.notes:
        click.echo(note)
    variants = f" ({plural(report.variants, 'variant')})" if report.variants else ""
    click.echo(
        f"Imported {plural(report.products, 'product')}{variants}, {plural(report.shoppers, 'shopper')} and "
        f"{plural(report.interactions, 'interaction')} into {report.db_path} in {report.duration:.1f} s "
        f"(prices in {report.currency})."
    )


@click.command("stats")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
def stats(db_path: Path | None, as_json: bool) -> None:
    """Print counts of products, shoppers, interactions, brands and categories, the currency, the
    facets (with how many products have each) and the shop settings.

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
        if isinstance(value, dict):
            value = ", ".join(f"{name} ({n:,})" for name, n in value.items())
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
        currency = cat.currency()
    if not hits:
        click.echo(f"No products match {query!r}.", err=True)
        return
    for product_id, score, terms in hits:
        p = products[product_id]
        if as_json:
            click.echo(json.dumps({"id": p.id, "score": round(score, 4), "matched": list(terms),
                                   "title": p.display_title, "brand": p.brand, "price": p.price,
                                   "currency": currency}))
            continue
        price = format_price(p.price, currency) if p.price is not None else "price unknown"
        brand = f"{p.brand}, " if p.brand else ""
        click.echo(f"{p.id}  {score:6.2f}  {p.display_title} ({brand}{price})  [{', '.join(terms)}]")
