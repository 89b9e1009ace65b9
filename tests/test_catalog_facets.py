"""Catalogs of other shops: facets, currency, shop settings, descriptions and the optional product fields,
imported from the two fixture catalogs (tests/fixtures/catalogs/) and checked against the SQLite file."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from recommender import config
from recommender.catalog.formats import PRESETS, ColumnMapping
from recommender.catalog.importer import import_catalog
from recommender.catalog.products import Catalog, Product, ShopProfile
from recommender.errors import CatalogImportError
from recommender.text.embeddings import product_text
from tests.conftest import TINY_PRODUCTS_CSV

FIXTURES = config.REPO_ROOT / "tests" / "fixtures" / "catalogs"
ELECTRONICS = FIXTURES / "electronics_eur.csv"
FASHION = FIXTURES / "fashion_inr.csv"
ELECTRONICS_MAPPING = PRESETS["default"].with_columns(id="sku").with_facets(
    {"colour": "colour", "Screen Size": "screen_size"})
FASHION_MAPPING = PRESETS["default"].with_columns(
    id="ProductID", title="ProductName", brand="ProductBrand", price="Price", description="Description",
    category=None).with_facets([("gender", "Gender"), ("colour", "PrimaryColor")])
FASHION_OPTIONS = ["--column", "id=ProductID", "--column", "title=ProductName", "--column", "brand=ProductBrand",
                   "--column", "price=Price", "--column", "description=Description",
                   "--facet", "gender=Gender", "--facet", "colour=PrimaryColor"]


@pytest.fixture(scope="module")
def electronics_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("electronics") / "catalog.db"
    report = import_catalog(ELECTRONICS, db, mapping=ELECTRONICS_MAPPING, progress=False)
    assert (report.products, report.errors, report.warnings, report.currency) == (124, [], [], "EUR")
    return db


@pytest.fixture(scope="module")
def fashion_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("fashion") / "catalog.db"
    report = import_catalog(FASHION, db, mapping=FASHION_MAPPING, shop_name="  Urban\tThreads ",
                            sells="clothes, shoes and bags", progress=False)
    assert (report.products, report.errors, report.currency) == (93, [], "INR")
    assert report.warnings == [f"No category column: product types read from the titles for "
                               f"{report.products - untyped(report.db_path)} of 93 products "
                               "(see docs/catalog-format.md, product types)."]
    assert report.category_source == "derived"
    return db


def _sql(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# -- what the import stores -------------------------------------------------------------------------


def test_electronics_fields_are_stored(electronics_db: Path) -> None:
    assert _sql(electronics_db, "SELECT value FROM meta WHERE key = 'currency'") == [("EUR",)]
    row = _sql(electronics_db, "SELECT price, rating, review_count, image_url, stock, category_path FROM products"
                               " WHERE title LIKE 'Samsung 55\" QLED%'")
    assert row == [(649.0, 4.5, 1204, "https://img.example.com/electronics/el-1021.jpg", 0,
                    "Electronics > TV & Video > Televisions")]
    assert _sql(electronics_db, "SELECT price FROM products WHERE title LIKE 'Apple MacBook Air%'") == [(1299.0,)]
    assert _sql(electronics_db, "SELECT name, value FROM product_facets WHERE product_id = 'EL-1021' ORDER BY rowid") \
        == [("colour", "titan grey"), ("screen size", "55 inch")]
    # no rating without reviews, no screen size where it does not apply
    assert _sql(electronics_db, "SELECT count(*) FROM products WHERE rating IS NULL AND review_count > 0") == [(0,)]
    assert _sql(electronics_db, "SELECT count(DISTINCT product_id) FROM product_facets WHERE name = 'screen size'"
                ) == [(54,)]
    assert _sql(electronics_db, "SELECT count(*) FROM products WHERE description IS NULL") == [(0,)]


def untyped(db_path) -> int:
    """Products of a catalog left without a category (no derived type), counted in the file."""
    db = sqlite3.connect(db_path)
    try:
        return db.execute("SELECT count(*) FROM products WHERE category IS NULL").fetchone()[0]
    finally:
        db.close()


def test_fashion_fields_are_stored(fashion_db: Path) -> None:
    meta = dict(_sql(fashion_db, "SELECT key, value FROM meta"))
    assert (meta["currency"], meta["shop_name"], meta["shop_sells"], meta["category_source"]) == (
        "INR", "Urban Threads", "clothes, shoes and bags", "derived")
    # " Black" and "Black" are one value; "Rs. 4,599" and "₹1,299" are rupees
    assert _sql(fashion_db, "SELECT DISTINCT value FROM product_facets WHERE name = 'colour' AND value LIKE '%black%'"
                ) == [("black",)]
    assert _sql(fashion_db, "SELECT price FROM products WHERE title = 'ADIDAS Men Navy Blue Duramo SL Running Shoes'"
                ) == [(4599.0,)]
    assert _sql(fashion_db, "SELECT price FROM products WHERE title LIKE 'Levis Women Black 711%'") == [(2599.0,)]
    # no category column: the product types read from the titles are the categories
    assert _sql(fashion_db, "SELECT count(*) FROM products WHERE category = 'jeans' AND category_path = 'jeans'"
                ) >= [(8,)]
    assert _sql(fashion_db, "SELECT count(*) FROM products WHERE brand = 'Puma'") == [(12,)]


# -- facet filters, checked against SQL on the file ------------------------------------------------


def _sql_facet_filter(db: Path, pairs: list[tuple[str, str]], price_max: float | None = None) -> list[str]:
    where = " AND ".join(["id IN (SELECT product_id FROM product_facets WHERE name = ? AND value = ?)"] * len(pairs)
                         + (["price <= ?"] if price_max is not None else [])) or "1"
    params = tuple(x for pair in pairs for x in pair) + ((price_max,) if price_max is not None else ())
    return [r[0] for r in _sql(db, f"SELECT id FROM products WHERE {where} ORDER BY id", params)]


@pytest.mark.parametrize(("pairs", "price_max"), [
    ([("colour", "black"), ("gender", "women")], None),
    ([("colour", "black"), ("gender", "women")], 1500),
    ([("gender", "unisex")], None),
    ([("colour", "navy blue")], 2000),
    ([("colour", "black"), ("colour", "white")], None),  # one colour each: nothing
    ([("colour", "purple")], None),  # not in this catalog
    ([], 500),
])
def test_fashion_facet_filters_match_sql(fashion_db: Path, pairs: list, price_max: float | None) -> None:
    with Catalog.open(fashion_db) as cat:
        assert cat.filter_ids(facets=pairs, price_max=price_max) == _sql_facet_filter(fashion_db, pairs, price_max)


def test_black_jeans_for_women_under_1500(fashion_db: Path) -> None:
    with Catalog.open(fashion_db) as cat:
        ids = cat.filter_ids(facets=[(" Colour", "BLACK "), ("gender", "Women")], price_max=1500)  # normalised
        titles = [p.title for p in cat.get_products(ids) if "Jeans" in p.title]
        mask = cat.filter_mask(facets=(("colour", "black"),))
        assert mask.dtype == bool and mask.sum() == 26
    assert sorted(titles) == ["Kraus Jeans Women Black Bootcut High-Rise Stretchable Jeans",
                              "ONLY Women Black Slim Fit High-Rise Clean Look Jeans",
                              "Roadster Women Black Skinny Fit Mid-Rise Stretchable Jeans",
                              "Tokyo Talkies Women Black Mom Fit High-Rise Jeans"]


def test_55_inch_tvs_by_facet_category_and_price(electronics_db: Path) -> None:
    with Catalog.open(electronics_db) as cat:
        ids = cat.filter_ids(category="Televisions", facets=[("screen size", "55 inch")], price_min=300, price_max=900)
        products = cat.get_products(ids)
    expected = _sql(electronics_db, "SELECT p.id FROM products p JOIN product_facets f ON f.product_id = p.id"
                                    " WHERE p.category = 'Televisions' AND f.name = 'screen size' AND f.value ="
                                    " '55 inch' AND p.price BETWEEN 300 AND 900 ORDER BY p.id")
    assert ids == [r[0] for r in expected] and len(ids) == 10
    assert all(("screen size", "55 inch") in p.facets and 300 <= p.price <= 900 for p in products)


def test_facets_with_counts(electronics_db: Path, fashion_db: Path) -> None:
    with Catalog.open(fashion_db) as cat:
        facets = cat.facets()
    assert list(facets) == ["colour", "gender"]
    assert facets["gender"] == [("men", 44), ("women", 44), ("unisex", 3), ("boys", 1), ("girls", 1)]
    assert facets["colour"][:3] == [("black", 26), ("blue", 13), ("white", 13)]
    assert sum(n for _, n in facets["colour"]) == 93
    with Catalog.open(electronics_db) as cat:
        facets = cat.facets()
    assert list(facets) == ["colour", "screen size"]
    assert dict(facets["screen size"])["55 inch"] == 12
    counted = _sql(electronics_db, "SELECT value, count(*) FROM product_facets WHERE name = 'colour' GROUP BY value")
    assert sorted(facets["colour"]) == sorted(counted)


def test_products_carry_their_facets_and_fields(electronics_db: Path) -> None:
    with Catalog.open(electronics_db) as cat:
        one = cat.get_product("EL-1021")
        listed = {p.id: p for p in cat.iter_products()}
        chunk = cat.get_products(["EL-1021", "EL-1007"])
    assert one.facets == (("colour", "titan grey"), ("screen size", "55 inch"))
    assert (one.rating, one.review_count, one.stock, one.price) == (4.5, 1204, 0, 649.0)
    assert one.description.startswith("Quantum Dot colour")
    assert listed["EL-1021"] == one and chunk[0] == one and chunk[1] == listed["EL-1007"]
    assert len(listed) == 124 and sum(bool(p.facets) for p in listed.values()) == 124


# -- shop settings, currency, main categories -------------------------------------------------------


def test_shop_currency_and_main_categories(electronics_db: Path, fashion_db: Path, tiny_catalog: Catalog) -> None:
    with Catalog.open(fashion_db) as cat:
        assert cat.shop() == ShopProfile(name="Urban Threads", sells="clothes, shoes and bags", currency="INR")
        assert cat.currency() == "INR"
        assert cat.main_categories(2) == ["jeans", "shoes"]   # the general words of the derived types
    with Catalog.open(electronics_db) as cat:
        assert cat.shop() == ShopProfile(name=None, sells=None, currency="EUR")
        assert cat.main_categories() == ["Electronics", "Home & Kitchen"]
    # a single root ("Beauty") is not what the shop carries: the next level is
    assert tiny_catalog.main_categories() == ["Hair Care", "Skin Care", "Fragrance", "Makeup"]
    assert tiny_catalog.main_categories(2) == ["Hair Care", "Skin Care"]
    assert tiny_catalog.currency() == "USD"
    assert tiny_catalog.facets() == {}


def test_one_category_shop_names_it(write_file, tmp_path: Path) -> None:
    rows = "id,title,category,price\na,Oak Desk,Furniture > Desks,100\nb,Pine Desk,Furniture > Desks,80\n"
    import_catalog(write_file("desks.csv", rows), tmp_path / "d.db", currency="GBP", progress=False)
    with Catalog.open(tmp_path / "d.db") as cat:
        assert cat.main_categories() == ["Desks"]
        assert cat.currency() == "GBP"


# -- a catalog without the new fields reads and fingerprints as before ------------------------------


def _old_product_text(p: Product) -> str:
    """product_text as it was before descriptions and facets (commit 8cbc1fd)."""
    parts = [p.display_title.strip()]
    if p.brand:
        parts.append(f"Brand: {p.brand.strip()}")
    path = [c.strip() for c in p.category_path if c and c.strip()]
    if not path and p.category:
        path = [p.category.strip()]
    if path:
        parts.append("Category: " + " > ".join(path))
    return ". ".join(part for part in parts if part)


def _old_fingerprint(db: Path) -> str:
    """compute_fingerprint as it was before descriptions and facets (commit 8cbc1fd)."""
    digest = hashlib.sha256()
    for row in _sql(db, "SELECT id, title, brand, category_path, price FROM products ORDER BY id"):
        digest.update(json.dumps(list(row), ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


def test_catalog_without_new_fields_keeps_text_and_fingerprint(tiny_catalog: Catalog, tiny_catalog_path: Path,
                                                               write_file, tmp_path: Path) -> None:
    assert tiny_catalog.fingerprint() == _old_fingerprint(tiny_catalog_path)
    products = list(tiny_catalog.iter_products())
    assert all(p.description is None and p.facets == () for p in products)
    assert [product_text(p) for p in products] == [_old_product_text(p) for p in products]
    # the shipped recbole preset reads a file without description or facet columns the same way
    recbole = "item_id:token\ttitle:token\tcategories:token_seq\tprice:float\tbrand:token\n" \
              "A1\tPrada Candy\t'Beauty', 'Fragrance'\t65.86\tPrada\n"
    report = import_catalog(write_file("b.item", recbole), tmp_path / "b.db", mapping="recbole", currency="USD",
                            progress=False)
    assert report.fingerprint == _old_fingerprint(tmp_path / "b.db")


def test_description_and_facets_change_text_and_fingerprint(write_file, tmp_path: Path) -> None:
    plain = "id,title,brand,category,price\np1,Slim Jeans,Levis,Jeans,20\n"
    described = "id,title,brand,category,price,description,colour\np1,Slim Jeans,Levis,Jeans,20,Stretch denim.,Black\n"
    mapping = PRESETS["default"].with_facets({"colour": "colour"})
    a = import_catalog(write_file("a.csv", plain), tmp_path / "a.db", currency="USD", progress=False)
    b = import_catalog(write_file("b.csv", described), tmp_path / "b.db", mapping=mapping, currency="USD",
                       progress=False)
    assert a.fingerprint == _old_fingerprint(tmp_path / "a.db") != b.fingerprint
    with Catalog.open(tmp_path / "b.db") as cat:
        assert product_text(cat.get_product("p1")) == (
            "Slim Jeans. Brand: Levis. Category: Jeans. Colour: black. Stretch denim.")
        assert cat.fingerprint() == b.fingerprint


def test_description_is_cut_at_a_sentence_or_a_word(write_file, tmp_path: Path) -> None:
    sentence = "This sentence has exactly ten words in it, you see. "
    words = " ".join(f"word{i}" for i in range(80))
    rows = ("id,title,description\n"
            f"s,Sentences,\"{sentence * 8}\"\n"
            f"w,Words,\"{words}\"\n"
            "h,Html,\"<p>Soft <b>cotton</b> &amp; linen.</p><ul><li>Machine wash</li></ul>\"\n")
    import_catalog(write_file("d.csv", rows), tmp_path / "d.db", progress=False)
    with Catalog.open(tmp_path / "d.db") as cat:
        s, w, h = cat.get_products(["s", "w", "h"])
    assert product_text(s) == "Sentences. " + (sentence * 5).strip()  # 50 words, ending with a sentence
    assert product_text(w) == "Words. " + " ".join(f"word{i}" for i in range(50)) + "..."
    assert h.description == "Soft cotton & linen. Machine wash"


def test_schema_1_catalog_reads_with_no_new_fields(tiny_catalog_path: Path, tmp_path: Path) -> None:
    # A catalog file written before this change: no new columns, no product_facets, no currency in meta.
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.execute(f"ATTACH DATABASE '{tiny_catalog_path}' AS new")
    conn.execute("CREATE TABLE products AS SELECT id, title, brand, category, category_path, price, sales_rank"
                 " FROM new.products")
    conn.execute("CREATE TABLE meta AS SELECT * FROM new.meta WHERE key NOT IN ('currency', 'category_source')")
    conn.execute("CREATE TABLE shoppers AS SELECT * FROM new.shoppers")
    conn.execute("CREATE TABLE interactions AS SELECT * FROM new.interactions")
    conn.commit()
    conn.close()
    with Catalog.open(old) as cat, Catalog.open(tiny_catalog_path) as new:
        assert list(cat.iter_products()) == list(new.iter_products())
        assert cat.get_product("p2") == new.get_product("p2")
        assert cat.filter_ids(category="shampoos", facets=[("colour", "red")]) == []
        assert (cat.currency(), cat.facets(), cat.shop()) == ("USD", {}, ShopProfile(None, None, "USD"))
        assert cat.stats()["facets"] == {}


# -- optional fields: bad values name the line -----------------------------------------------------


def test_bad_optional_values_are_bad_rows(write_file, tmp_path: Path) -> None:
    rows = ("id,title,price,rating,review_count,stock\n"
            "a,Ok,\"1,299\",\"4,5\",\"1,204\",3\n"
            "b,Bad rating,5,great,,\n"
            "c,Half review,5,,12.5,\n"
            "d,Text stock,5,,,lots\n"
            "e,Negative stock,5,,,-2\n"
            "f,Half stock,5,,,2.5\n"
            "g,Sold out,5,,,Sold Out\n"
            "h,In stock,5,,,in_stock\n")
    report = import_catalog(write_file("o.csv", rows), tmp_path / "o.db", currency="USD", progress=False)
    assert [str(e) for e in report.errors] == [
        "line 3: rating 'great' is not a number",
        "line 4: review_count '12.5' is not a whole number",
        "line 5: stock 'lots' is neither a whole count nor in / out of stock (e.g. 12, 0, in stock, out of stock, "
        "yes, no)",
        "line 6: stock '-2' is negative",
        "line 7: stock '2.5' is not a whole number",
    ]
    with Catalog.open(tmp_path / "o.db") as cat:
        a, g, h = cat.get_products(["a", "g", "h"])
    assert (a.price, a.rating, a.review_count, a.stock) == (1299.0, 4.5, 1204, 3)
    assert (g.stock, g.in_stock, h.stock, h.in_stock, a.in_stock) == (0, False, 1, True, True)


def test_jsonl_facets_may_be_lists(write_file, tmp_path: Path) -> None:
    rows = ('{"id": "t1", "title": "Tee", "price": "€12,99", "colours": ["Black", " black", "White"],'
            ' "fit": "Slim"}\n'
            '{"id": "t2", "title": "Top", "price": 9, "colours": null, "fit": ""}\n')
    mapping = PRESETS["default"].with_facets({"colour": "colours", "fit": "fit"})
    report = import_catalog(write_file("t.jsonl", rows), tmp_path / "t.db", mapping=mapping, progress=False)
    assert (report.errors, report.currency) == ([], "EUR")
    with Catalog.open(tmp_path / "t.db") as cat:
        assert cat.get_product("t1").facets == (("colour", "black"), ("colour", "white"), ("fit", "slim"))
        assert cat.get_product("t2").facets == ()
        assert cat.filter_ids(facets=[("colour", "white"), ("colour", "black")]) == ["t1"]


def test_missing_facet_column_is_a_warning(write_file, tmp_path: Path) -> None:
    mapping = PRESETS["default"].with_facets({"colour": "Colour"})
    report = import_catalog(write_file("shop.csv", TINY_PRODUCTS_CSV), tmp_path / "c.db", mapping=mapping,
                            currency="USD", progress=False)
    assert "shop.csv: no 'Colour' column; facet 'colour' left empty" in report.warnings


def test_facet_mapping_errors() -> None:
    with pytest.raises(CatalogImportError, match="Facet names must differ"):
        PRESETS["default"].with_facets([("Colour", "a"), ("colour", "b")])
    with pytest.raises(CatalogImportError, match="needs a name and a column"):
        PRESETS["default"].with_facets({" ": "a"})
    assert ColumnMapping().with_facets({"Screen  Size": " size "}).facets == (("screen size", "size"),)


# -- the command line --------------------------------------------------------------------------------


def test_cli_builds_fashion_with_facets_and_shop_settings(tmp_path: Path) -> None:
    db = tmp_path / "fashion.db"
    runner = CliRunner()
    result = runner.invoke(cli, ["catalog", "build", str(FASHION), *FASHION_OPTIONS, "--shop-name", "Urban Threads",
                                 "--sells", "clothes and shoes", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Imported 93 products, 0 shoppers and 0 interactions into {db} in ")
    assert result.stdout.rstrip().endswith("(prices in INR).")
    assert "No category column: product types read from the titles for" in result.stderr
    assert _sql(db, "SELECT count(*) FROM product_facets WHERE name = 'gender' AND value = 'women'") == [(44,)]

    result = runner.invoke(cli, ["catalog", "stats", "--db", str(db)])
    assert result.exit_code == 0, result.output
    shown = dict(line.split(maxsplit=1) for line in result.stdout.splitlines())
    assert shown["currency"] == "INR"
    assert shown["facets"] == "colour (93), gender (93)"
    assert (shown["shop_name"], shown["shop_sells"]) == ("Urban Threads", "clothes and shoes")


def test_cli_builds_electronics_and_shows_euros(tmp_path: Path) -> None:
    db = str(tmp_path / "electronics.db")
    runner = CliRunner()
    result = runner.invoke(cli, ["catalog", "build", str(ELECTRONICS), "--column", "id=sku", "--facet", "colour=colour",
                                 "--facet", "screen size=screen_size", "--currency", "eur", "--db", db, "-q"])
    assert result.exit_code == 0, result.output
    assert _sql(Path(db), "SELECT value FROM meta WHERE key = 'currency'") == [("EUR",)]
    result = runner.invoke(cli, ["catalog", "keyword-search", "sonos beam soundbar", "--limit", "1", "--db", db])
    assert result.exit_code == 0, result.output
    assert "Sonos Beam (Gen 2) Smart Soundbar (Sonos, €499)" in result.stdout


def test_cli_column_category_and_unknown_field_suggests_facet(write_file, tmp_path: Path) -> None:
    shop = write_file("shop.csv", "id,title,department,price,Colour\nA1,Desk,Office > Desks,120,Oak\n")
    db = tmp_path / "c.db"
    runner = CliRunner()
    result = runner.invoke(cli, ["catalog", "build", str(shop), "--column", "category=department", "--db", str(db),
                                 "--currency", "GBP", "-q"])
    assert result.exit_code == 0, result.output
    assert _sql(db, "SELECT category, category_path FROM products") == [("Desks", "Office > Desks")]
    result = runner.invoke(cli, ["catalog", "build", str(shop), "--column", "colour=Colour", "--db", str(db)])
    assert result.exit_code == 1
    assert "Unknown product field(s) ['colour']" in result.output
    assert "--facet colour=COLUMN" in result.output
    result = runner.invoke(cli, ["catalog", "build", str(shop), "--facet", "colour", "--db", str(db)])
    assert result.exit_code == 2
    assert "Invalid value for --facet: 'colour' is not NAME=COLUMN, e.g. colour=PrimaryColour" in result.stderr
    result = runner.invoke(cli, ["catalog", "build", str(shop), "--currency", "euro", "--db", str(db)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: Unknown currency: 'euro' is not an ISO 4217 currency code")


def test_fixture_with_bad_rows_reports_their_lines(tmp_path: Path) -> None:
    bad = tmp_path / "fashion_bad.csv"
    bad.write_text(FASHION.read_text(encoding="utf-8")
                   + "10099999,Puma Men Red Cap,Puma,Men,$25,A cap.,Red\n"
                   + '10099998,Puma Men Blue Cap,Puma,Men,"₹6,99,9",A cap.,Blue\n', encoding="utf-8")
    expected = ["line 95: price '$25' is in USD, but this catalog's prices are in INR (from line 2)",
                "line 96: price '₹6,99,9' is not a number"]
    report = import_catalog(bad, tmp_path / "a.db", mapping=FASHION_MAPPING, progress=False)
    assert ([str(e) for e in report.errors], report.products) == (expected, 93)
    result = CliRunner().invoke(cli, ["catalog", "build", str(bad), *FASHION_OPTIONS, "--db", str(tmp_path / "b.db")])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[:3] == ["Skipped 2 bad rows:", *(f"  fashion_bad.csv {e}" for e in expected)]
