"""Order exports as a catalog source (issue 16): one product per id, non-products and cancellations
left out, the shopper histories read from the same file. Built from a real cut of the UK gift
shop's order lines (tests/fixtures/catalogs/uk_gifts_orders.csv, see its README)."""

from __future__ import annotations

import csv
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from recommender.catalog.formats import ColumnMapping
from recommender.catalog.histories import InteractionMapping
from recommender.catalog.importer import import_catalog
from recommender.catalog.products import Catalog
from recommender.catalog.order_lines import OrderRules, is_cancellation, parse_not_products
from recommender.errors import CatalogImportError

ORDERS = Path(__file__).parent / "fixtures" / "catalogs" / "uk_gifts_orders.csv"
MAPPING = ColumnMapping(id="StockCode", title="Description", price="UnitPrice", date="InvoiceDate",
                        quantity="Quantity")
RULES = OrderRules(not_products=("auto", "C2"))
# What the fixture holds (checked by hand and with the csv module): 436 lines, 43 stock codes. 28
# cancellation lines (all with a negative quantity and a C invoice), 15 sale lines of the non-products
# POST, M and C2 (D is only ever cancelled), 59 guest lines; 39 products, 8 customers.


def _one(db: Path, sql: str, *params: object) -> object:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchone()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory):
    """The fixture imported as its README says: products and histories from the one export."""
    db = tmp_path_factory.mktemp("uk") / "catalog.db"
    report = import_catalog(ORDERS, db, mapping=MAPPING, interactions=ORDERS,
                            interactions_mapping=InteractionMapping.from_products(MAPPING).with_columns(
                                shopper="CustomerID"),
                            order_rules=RULES, currency="GBP", progress=False)
    return db, report


def test_order_lines_become_one_product_each_with_one_summary_line(shop) -> None:
    db, report = shop
    assert report.products == 39 == _one(db, "SELECT count(*) FROM products")[0]
    assert report.errors == []
    assert report.notes[0] == ("39 products from 436 order lines; latest title and price kept; "
                               "4 renamed, 36 sold at several prices")
    assert not any("duplicate" in w for w in report.warnings)
    assert report.currency == "GBP" == _one(db, "SELECT value FROM meta WHERE key = 'currency'")[0]


def test_latest_line_by_date_gives_title_and_price(shop) -> None:
    db, _ = shop
    # renamed in December 2011; first sold at 2.55, last at 5.79 (a guest line on 2011-12-09)
    assert _one(db, "SELECT title, price FROM products WHERE id = '85123A'") == (
        "CREAM HANGING HEART T-LIGHT HOLDER", 5.79)
    assert _one(db, "SELECT title, price FROM products WHERE id = '22197'") == ("POPCORN HOLDER", 2.46)


def test_each_product_is_dated_by_its_latest_line(shop) -> None:
    db, _ = shop
    latest: dict[str, datetime] = {}
    with ORDERS.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            when = datetime.fromisoformat(row["InvoiceDate"])
            latest[row["StockCode"]] = max(latest.get(row["StockCode"], when), when)
    with Catalog.open(db) as catalog:
        dates = catalog.dates()
    assert len(dates) == 39 and all(dates[pid] == latest[pid].timestamp() for pid in dates)


def test_first_rule_keeps_the_earliest_line(tmp_path: Path) -> None:
    report = import_catalog(ORDERS, tmp_path / "c.db", mapping=MAPPING, currency="GBP", progress=False,
                            order_rules=OrderRules(repeated_ids="first", not_products=("auto", "C2")))
    assert report.notes[0].startswith("39 products from 436 order lines; first title and price kept")
    assert _one(tmp_path / "c.db", "SELECT title, price FROM products WHERE id = '85123A'") == (
        "WHITE HANGING HEART T-LIGHT HOLDER", 2.55)


def test_non_products_and_cancellations_are_left_out_with_one_line_each(shop) -> None:
    db, report = shop
    assert report.left_out == {"not a product": 15, "cancellation": 28}
    assert report.notes[1:3] == [
        "Left out 15 lines of 3 non-product ids (C2, M, POST): ids without a digit and those given as not products.",
        "Left out 28 cancellation lines (a negative quantity, or an order number C followed by a digit).",
    ]
    assert _one(db, "SELECT count(*) FROM products WHERE id IN ('POST', 'M', 'D', 'C2')") == (0,)


def test_histories_come_from_the_same_export(shop) -> None:
    db, report = shop
    assert (report.shoppers, report.interactions) == (8, 334)
    assert report.history_left_out == {"cancellation": 28, "no shopper": 59, "not a product": 15}
    assert report.notes[3] == ("Histories: left out 28 lines of cancellations, 59 lines without a shopper, "
                               "15 lines of non-products.")
    assert _one(db, "SELECT count(*) FROM interactions WHERE product_id IN ('POST', 'M', 'C2')") == (0,)
    # customer 17850 bought 85123A first (2010-12-01 08:26) and it stays first in the history
    assert _one(db, "SELECT product_id FROM interactions WHERE shopper_id = '17850' AND position = 0") == ("85123A",)


def test_without_date_and_quantity_the_file_order_decides(tmp_path: Path) -> None:
    mapping = ColumnMapping(id="StockCode", title="Description", price="UnitPrice")
    report = import_catalog(ORDERS, tmp_path / "c.db", mapping=mapping, currency="GBP", progress=False)
    # cancellations cannot be told apart; C2 has a digit, so only an explicit --not-products C2 leaves it out
    assert report.products == 40
    assert report.left_out == {"not a product": 27}
    assert "D, M, POST" in report.notes[1]


def test_reject_rule_reports_repeated_ids_as_bad_rows(write_file, tmp_path: Path) -> None:
    rows = "id,title,price\np1,Soap,1\np1,Soap again,2\np2,Gel,3\n"
    report = import_catalog(write_file("shop.csv", rows), tmp_path / "c.db", progress=False,
                            order_rules=OrderRules(repeated_ids="reject"))
    assert [str(b) for b in report.errors] == ["line 3: duplicate id 'p1' (first on line 2)"]
    assert report.products == 2 and report.notes == []


def test_a_plain_product_file_keeps_ids_without_digits(write_file, tmp_path: Path) -> None:
    rows = "id,title,price\nsoap,Soap,1\ngel,Gel,3\n"
    report = import_catalog(write_file("shop.csv", rows), tmp_path / "c.db", progress=False)
    assert report.products == 2 and report.left_out == {} and report.notes == []


@pytest.mark.parametrize(("record", "expected"), [
    ({"quantity": "-1"}, True), ({"quantity": "6"}, False), ({"quantity": "1,200"}, False),
    ({"order_id": "C536379"}, True), ({"order_id": "536379"}, False), ({"order_id": "CUST1"}, False),
    ({}, False),
])
def test_cancellation_rule(record: dict, expected: bool) -> None:
    assert is_cancellation(record) is expected


def test_rules_parse_and_check() -> None:
    assert parse_not_products(" auto, C2 ,,") == ("auto", "C2")
    assert OrderRules().is_not_product("POST", order_export=True)
    assert not OrderRules().is_not_product("POST", order_export=False)
    assert not OrderRules(not_products=("C2",)).is_not_product("POST", order_export=True)
    assert not OrderRules(not_products=("auto", "C2")).is_not_product("auto", order_export=False)  # a flag, not an id
    with pytest.raises(ValueError, match="repeated_ids 'last'"):
        OrderRules(repeated_ids="last")
    with pytest.raises(CatalogImportError, match=r"Unknown interactions field\(s\) \['customer'\]"):
        InteractionMapping().with_columns(customer="CustomerID")


def test_cli_builds_the_order_export(tmp_path: Path) -> None:
    db = tmp_path / "uk.db"
    result = CliRunner().invoke(cli, [
        "catalog", "build", str(ORDERS), "--column", "id=StockCode", "--column", "title=Description",
        "--column", "price=UnitPrice", "--column", "date=InvoiceDate", "--column", "quantity=Quantity",
        "--currency", "GBP", "--not-products", "auto,C2", "--interactions", str(ORDERS),
        "--interactions-column", "shopper=CustomerID", "--db", str(db), "-q"])
    assert result.exit_code == 0, result.output
    assert "39 products from 436 order lines; latest title and price kept; 4 renamed, 36 sold at several " \
           "prices" in result.output
    assert "Imported 39 products, 8 shoppers and 334 interactions" in result.output
    assert "duplicate id" not in result.output
    assert _one(db, "SELECT count(DISTINCT shopper_id) FROM interactions") == (8,)
