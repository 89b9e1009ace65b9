"""Read API of recommender.catalog.products against small catalogs built by the importer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from recommender.catalog import keyword_index
from recommender.catalog.products import Catalog, Product, query_terms
from recommender.errors import CatalogNotFound, ProductNotFound
from recommender.catalog.importer import import_catalog


def test_get_product_cleans_fields(tiny_catalog: Catalog) -> None:
    assert tiny_catalog.get_product("p2") == Product(
        id="p2", title="Matte Lipstick Red", brand="L'Oreal Paris", category="Lipstick",
        category_path=("Beauty", "Makeup", "Lips", "Lipstick"), price=8.99,
    )
    assert tiny_catalog.get_product("p1").brand == "Crabtree & Evelyn"
    assert tiny_catalog.get_product("p3").price is None
    assert tiny_catalog.get_product("p6").brand is None


def test_missing_title_is_none_with_display_fallback(tiny_catalog: Catalog) -> None:
    p4 = tiny_catalog.get_product("p4")
    assert p4.title is None
    assert p4.display_title == "Neutrogena Lotions (untitled)"
    assert tiny_catalog.get_product("p1").display_title == "Gentle Shampoo for Dry Hair"
    bare = Product(id="x9", title=None, brand=None, category=None, category_path=(), price=None)
    assert bare.display_title == "Product x9 (untitled)"


def test_get_product_unknown_raises(tiny_catalog: Catalog) -> None:
    with pytest.raises(ProductNotFound, match="No product with id 'nope'"):
        tiny_catalog.get_product("nope")


def test_get_products_keeps_order_and_skips_unknown(tiny_catalog: Catalog) -> None:
    products = tiny_catalog.get_products(["p5", "nope", "p1", "p5"])
    assert [p.id for p in products] == ["p5", "p1", "p5"]
    assert tiny_catalog.get_products([]) == []


def test_ids_counts_and_iteration(tiny_catalog: Catalog) -> None:
    ids = ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert tiny_catalog.product_ids() == ids
    assert [p.id for p in tiny_catalog.iter_products()] == ids
    assert tiny_catalog.count_products() == 6


def test_brands_and_categories(tiny_catalog: Catalog) -> None:
    assert tiny_catalog.brands() == [("Neutrogena", 2), ("Crabtree & Evelyn", 1), ("L'Oreal Paris", 1), ("Prada", 1)]
    assert tiny_catalog.categories()[0] == ("Shampoos", 2)
    assert len(tiny_catalog.categories()) == 5


def test_histories_and_popularity(tiny_catalog: Catalog) -> None:
    assert tiny_catalog.shopper_history("s1") == ["p1", "p2", "p3"]
    assert tiny_catalog.shopper_history("unknown") == []
    assert list(tiny_catalog.iter_histories()) == [
        ("s1", ["p1", "p2", "p3"]), ("s2", ["p2", "p5"]), ("s3", ["p1", "p2"]),
    ]
    assert tiny_catalog.popularity() == {"p1": 2, "p2": 3, "p3": 1, "p5": 1}


def test_stats(tiny_catalog: Catalog) -> None:
    stats = tiny_catalog.stats()
    assert {k: stats[k] for k in ("products", "shoppers", "interactions", "brands", "categories", "priced")} == {
        "products": 6, "shoppers": 3, "interactions": 7, "brands": 4, "categories": 5, "priced": 5,
    }
    assert stats["source"].endswith("tiny.csv")
    assert stats["imported_at"]


def test_fingerprint_is_stable_and_tracks_product_changes(tiny_catalog: Catalog, write_file, tmp_path: Path) -> None:
    from tests.conftest import TINY_PRODUCTS_CSV

    again = tmp_path / "again.db"
    import_catalog(write_file("again.csv", TINY_PRODUCTS_CSV), again, progress=False)
    changed = tmp_path / "changed.db"
    import_catalog(write_file("changed.csv", TINY_PRODUCTS_CSV.replace("8.99", "9.99")), changed, progress=False)
    fp = tiny_catalog.fingerprint()
    assert len(fp) == 64
    with Catalog.open(again) as a, Catalog.open(changed) as c:
        assert a.fingerprint() == fp  # interactions do not count
        assert c.fingerprint() != fp


# -- keyword search -------------------------------------------------------------------------------


def test_keyword_search_ranks_and_reports_matched_terms(tiny_catalog: Catalog) -> None:
    hits = tiny_catalog.keyword_search("shampoo for dry hair")
    assert hits[0][0] == "p1"
    assert hits[0][2] == ("shampoo", "for", "dry", "hair")
    by_id = {pid: (score, terms) for pid, score, terms in hits}
    assert set(by_id) == {"p1", "p3", "p6"}
    assert by_id["p6"][1] == ("shampoo", "hair")  # "Hair Care" in its category path
    assert by_id["p3"][1] == ("for", "dry")
    assert all(score > 0 for score, _ in by_id.values())
    assert [h[1] for h in hits] == sorted((h[1] for h in hits), reverse=True)


def test_keyword_search_covers_brand_and_category_path(tiny_catalog: Catalog) -> None:
    assert {h[0] for h in tiny_catalog.keyword_search("neutrogena")} == {"p3", "p4"}
    assert {h[0] for h in tiny_catalog.keyword_search("FRAGRANCE")} == {"p5"}
    assert {h[0] for h in tiny_catalog.keyword_search("l'oreal")} == {"p2"}


def test_keyword_search_limit(tiny_catalog: Catalog) -> None:
    assert len(tiny_catalog.keyword_search("beauty", limit=2)) == 2
    assert tiny_catalog.keyword_search("beauty", limit=0) == []


@pytest.mark.parametrize(
    "query",
    [
        "", "   ", '"', '""', "'", "*", "OR", "AND", "NOT", "shampoo OR", "OR shampoo", "NEAR(", "NEAR(shampoo dry",
        "sham*", '"unbalanced', "col:shampoo", "title:shampoo", "^shampoo", "-shampoo", "(shampoo", "shampoo)",
        "'; DROP TABLE products; --", "1 OR 1=1", "\x00", "ümlaut café", "🙂 lipstick", "a" * 5000,
        " ".join(f"w{i}" for i in range(500)),
    ],
)
def test_keyword_search_hostile_input_never_errors(tiny_catalog: Catalog, query: str) -> None:
    hits = tiny_catalog.keyword_search(query)
    assert isinstance(hits, list)
    assert tiny_catalog.count_products() == 6


def test_keyword_search_treats_operators_as_words(tiny_catalog: Catalog) -> None:
    assert {h[0] for h in tiny_catalog.keyword_search("NOT shampoo")} == {"p1", "p6"}
    assert {h[0] for h in tiny_catalog.keyword_search('"lipstick" OR *')} == {"p2"}


def test_query_terms() -> None:
    assert query_terms('Dry "Skin" dry, NEAR(skin*') == ["dry", "skin", "near"]


def _fts5_or_query(path: Path, query: str, limit: int) -> list[tuple[str, float, tuple[str, ...]]]:
    """The reference: FTS5's own bm25 of the OR of the quoted terms, then one MATCH per term."""
    conn = sqlite3.connect(path)
    terms = query_terms(query)
    phrase = ['"' + t.replace('"', '""') + '"' for t in terms]
    rows = conn.execute(
        "SELECT p.id, -bm25(products_fts) AS score FROM products_fts JOIN products p ON p.rowid = products_fts.rowid"
        " WHERE products_fts MATCH ? ORDER BY score DESC, p.id LIMIT ?", [" OR ".join(phrase), limit]).fetchall()
    hits = [{pid for (pid,) in conn.execute("SELECT p.id FROM products_fts JOIN products p ON p.rowid ="
                                            " products_fts.rowid WHERE products_fts MATCH ?", [q])} for q in phrase]
    conn.close()
    return [(pid, max(score, 1e-9), tuple(t for t, found in zip(terms, hits) if pid in found)) for pid, score in rows]


@pytest.mark.parametrize("query", ["shampoo for dry hair", "beauty", "beauty shampoo neutrogena", "dry dry skin",
                                   "l'oreal lipstick", "parfum women's spray", "care hair skin face body"])
@pytest.mark.parametrize("limit", [1, 3, 200])
def test_keyword_search_is_fts5_bm25_of_the_or_query(tiny_catalog: Catalog, tiny_catalog_path: Path, query: str,
                                                     limit: int) -> None:
    # One statement of per-term matches summed in query order: the same scores to the last bit,
    # the same order (ties by id) and the same matched terms as the OR query plus a query per term.
    assert tiny_catalog.keyword_search(query, limit=limit) == _fts5_or_query(tiny_catalog_path, query, limit)


def test_keyword_search_computes_each_terms_bm25_once_within_the_cap(tiny_catalog_path: Path, monkeypatch) -> None:
    # shampoo, for, dry, hair: 2 (product, part) pairs each, 12 bytes a pair: room for two terms
    monkeypatch.setattr(keyword_index, "KEPT_POSTINGS_BYTES", 4 * 12)
    queries = ["shampoo for dry hair", "dry hair", "shampoo for dry hair", "dry hair", "hair"]
    with Catalog.open(tiny_catalog_path) as cat:
        statements: list[str] = []
        cat.db.conn.set_trace_callback(statements.append)
        looked_up = []
        results = []
        for q in queries:
            results.append(cat.keyword_search(q))
            looked_up.append(sum("products_fts_instances WHERE" in s for s in statements))
            statements.clear()
    assert results == [_fts5_or_query(tiny_catalog_path, q, 200) for q in queries]  # kept or not: the same
    # kept after each query: dry hair | dry hair | shampoo for | dry hair | dry hair (least recent dropped)
    assert looked_up == [4, 0, 2, 2, 0]


# Ties (the same text under several ids, written out of id order so rowids are not id order), a
# title of 150 words (its row length is a 2-byte varint), words that are 2 tokens to FTS5.
TRICKY_CSV = """id,title,brand,category,price
t9,Argan Oil Shampoo,Acme,Beauty > Hair Care > Shampoos,5
t3,Argan Oil Shampoo,Acme,Beauty > Hair Care > Shampoos,5
t5,Argan Oil Shampoo,Acme,Beauty > Hair Care > Shampoos,6
t1,Shampoo Shampoo Shampoo for hair,Acme,Beauty > Hair Care > Shampoos,7
t7,"Body Lotion {words}",Zeta,Beauty > Skin Care > Body > Lotions,8
t2,Hair_Care Kit (2-pack),,Beauty > Hair Care,9
t8,Crème brûlée lip balm,Éclat,Beauty > Makeup > Lips,3
t4,NEAR OR AND NOT * lip,,Beauty > Makeup,2
t6,Dry shampoo for oily hair,Acme,Beauty > Hair Care > Shampoos > Dry,11
""".format(words=" ".join(f"w{i % 7}" for i in range(150)))


@pytest.fixture
def tricky_catalog_path(write_file, tmp_path: Path) -> Path:
    db_path = tmp_path / "tricky.db"
    import_catalog(write_file("tricky.csv", TRICKY_CSV), db_path, progress=False)
    return db_path


TRICKY_QUERIES = ["argan shampoo", "shampoo shampoo", "shampoo", "hair", "hair_care", "hair_care kit", "2-pack",
                  "zzz nothing", "nothing hair", "creme brulee", "crème brûlée", "w3 lotion", "w0 w1 w2 w3 w4 w5 w6",
                  "near or and not", 'NEAR(lip "balm" *', "beauty", "beauty hair shampoo dry oily", "2 pack kit",
                  "lotion", "shampoos", "oil_ shampoo", "_"]


@pytest.mark.parametrize("limit", [1, 2, 4, 200])
def test_keyword_search_tricky_cases_are_fts5_bm25_of_the_or_query(tricky_catalog_path: Path, limit: int) -> None:
    # Each query twice on one catalog: its terms seen for the first time, then kept (or seen in
    # earlier queries): to the last bit the same as FTS5, ties by id, in either case.
    with Catalog.open(tricky_catalog_path) as cat:
        for query in TRICKY_QUERIES * 2:
            assert cat.keyword_search(query, limit=limit) == _fts5_or_query(tricky_catalog_path, query, limit), query


def test_keyword_search_ties_are_by_id(tricky_catalog_path: Path) -> None:
    with Catalog.open(tricky_catalog_path) as cat:
        assert [h[0] for h in cat.keyword_search("argan", limit=2)] == ["t3", "t5"]
        hits = cat.keyword_search("argan oil", limit=3)
    assert [h[0] for h in hits] == ["t3", "t5", "t9"] and hits[0][1] == hits[1][1] == hits[2][1]


def test_keyword_search_looks_up_tokens_in_the_index_and_phrases_with_fts5(tricky_catalog_path: Path) -> None:
    with Catalog.open(tricky_catalog_path) as cat:
        statements: list[str] = []
        cat.db.conn.set_trace_callback(statements.append)
        hits = cat.keyword_search("Shampoos hair_care crème")  # stemmed, 2 tokens, accent folded
    lookups = [s for s in statements if not s.startswith("--")  # not FTS5's own statements
               and ("products_fts_instances WHERE" in s or "MATCH" in s)]
    assert lookups == ["SELECT group_concat(doc) FROM temp.products_fts_instances WHERE term = 'shampoo'",
                       "SELECT group_concat(doc) FROM temp.products_fts_instances WHERE term = 'creme'",
                       "SELECT 0, rowid, -bm25(products_fts) FROM products_fts WHERE products_fts MATCH"
                       " '\"hair_care\"'"]
    assert {pid: terms for pid, _, terms in hits}["t2"] == ("hair_care",)


def test_keyword_search_part_of_every_token_is_fts5_bm25(tricky_catalog_path: Path) -> None:
    # Every token of the index alone: the same products and bm25 parts as FTS5's per-row bm25().
    conn = sqlite3.connect(tricky_catalog_path)
    conn.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, products_fts, row)")
    tokens = [t for (t,) in conn.execute("SELECT term FROM temp.v")]
    with Catalog.open(tricky_catalog_path) as cat:
        ids = cat.product_ids()
        for token, (pos, part) in zip(tokens, cat._keyword_index().postings(tokens)):
            fts5 = conn.execute("SELECT p.id, -bm25(products_fts) FROM products_fts JOIN products p ON p.rowid ="
                                " products_fts.rowid WHERE products_fts MATCH ? ORDER BY p.id", [f'"{token}"'])
            assert sorted(zip([ids[p] for p in pos.tolist()], part.tolist())) == fts5.fetchall(), token
    conn.close()
    assert len(tokens) > 30


@pytest.mark.parametrize("values", [[0], [1, 127, 128, 300, 16383, 16384, 2**21 + 5, 2**40 + 1],
                                    list(range(0, 600, 7))])
def test_varints_decode_sqlite_varints(values: list[int]) -> None:
    def encode(v: int) -> bytes:
        groups = [v & 0x7F]
        while v := v >> 7:
            groups.append(v & 0x7F | 0x80)
        return bytes(reversed(groups))

    assert keyword_index._varints(b"".join(encode(v) for v in values)).tolist() == values
    assert keyword_index._varints(b"").tolist() == []


# -- filters, checked against independent SQL ------------------------------------------------------


def _independent_filter(path: Path, category=None, brand=None, price_min=None, price_max=None) -> list[str]:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT id, category_path, brand, price FROM products").fetchall()
    conn.close()
    keep = []
    for pid, path_text, row_brand, price in rows:
        levels = [level.lower() for level in (path_text or "").split(" > ")]
        if category is not None and category.lower() not in levels:
            continue
        if brand is not None and (row_brand or "").lower() != brand.lower():
            continue
        if price_min is not None and (price is None or price < price_min):
            continue
        if price_max is not None and (price is None or price > price_max):
            continue
        keep.append(pid)
    return sorted(keep)


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"category": "Shampoos"},
        {"category": "hair care"},
        {"category": "BEAUTY"},
        {"category": "women's"},
        {"category": "Hair"},  # not a whole level: no match
        {"brand": "neutrogena"},
        {"brand": "l'oreal paris"},
        {"brand": "%"},
        {"price_max": 12.5},
        {"price_min": 10},
        {"price_min": 5, "price_max": 20},
        {"category": "skin care", "brand": "Neutrogena"},
        {"category": "skin care", "price_max": 100},
        {"category": "' OR 1=1 --"},
    ],
)
def test_filter_ids_matches_independent_sql(tiny_catalog: Catalog, tiny_catalog_path: Path, filters: dict) -> None:
    assert tiny_catalog.filter_ids(**filters) == _independent_filter(tiny_catalog_path, **filters)


def test_filter_ids_examples(tiny_catalog: Catalog) -> None:
    assert tiny_catalog.filter_ids(category="shampoos") == ["p1", "p6"]
    assert tiny_catalog.filter_ids(category="Skin Care", price_max=20) == ["p4"]  # p3 has no price


def test_filter_mask_is_over_product_ids(tiny_catalog: Catalog) -> None:
    mask = tiny_catalog.filter_mask(category="beauty", price_min=9)
    assert mask.dtype == bool and len(mask) == tiny_catalog.count_products()
    assert [pid for pid, keep in zip(tiny_catalog.product_ids(), mask) if keep] == ["p1", "p4", "p5"]


ACCENTED_CSV = """\
id,title,brand,category,price
a1,Crème Riche,Éclat,Beauty > Crème > Visage,20
a2,Rich Cream,ÉCLAT,Beauty > CRÈME > Face,30
a3,Soap,eclat,Beauty > Creme,
a4,Lotion,,Beauty > Crème > Visage > Nuit,5
"""


def _sqlite_filter(path: Path, category=None, brand=None, price_min=None, price_max=None) -> list[str]:
    """The filters as one SQL statement, with SQLite's ASCII-only lower() and NOCASE."""
    where, params = ["1"], []
    if category is not None:
        where.append("(lower(category) = lower(?) OR instr(' > ' || lower(category_path) || ' > ',"
                     " ' > ' || lower(?) || ' > ') > 0)")
        params += [category.strip()] * 2
    if brand is not None:
        where.append("brand = ? COLLATE NOCASE")
        params.append(brand.strip())
    if price_min is not None:
        where.append("price >= ?")
        params.append(price_min)
    if price_max is not None:
        where.append("price <= ?")
        params.append(price_max)
    conn = sqlite3.connect(path)
    ids = [r[0] for r in conn.execute(f"SELECT id FROM products WHERE {' AND '.join(where)} ORDER BY id", params)]
    conn.close()
    return ids


@pytest.mark.parametrize(
    "filters",
    [{"category": c} for c in ["crème", "Crème", "CRÈME", "CRème", "creme", "crème > visage", " Visage ", "nuit",
                               "Beauty > Crème", "Crème > Visage > Nuit > "]]
    + [{"brand": b} for b in ["éclat", "Éclat", "ÉCLAT", "eclat", "ECLAT", " éclat "]]
    + [{"category": "visage", "price_max": 10}, {"price_min": 20}, {"price_min": 20, "price_max": 20}],
)
def test_filters_fold_case_like_sqlite(write_file, tmp_path: Path, filters: dict) -> None:
    # Case folding is ASCII only, as SQLite's lower() and NOCASE: "CRÈME" is not "crème".
    db_path = tmp_path / "accented.db"
    import_catalog(write_file("accented.csv", ACCENTED_CSV), db_path, progress=False)
    with Catalog.open(db_path) as catalog:
        assert catalog.filter_ids(**filters) == _sqlite_filter(db_path, **filters)


# -- opening ---------------------------------------------------------------------------------------


def test_open_missing_file_names_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    with pytest.raises(CatalogNotFound) as info:
        Catalog.open(missing)
    assert str(info.value) == f'No catalog at {missing}. Build it with "shopbot catalog build --db {missing}".'
    assert not missing.exists()


def test_open_rejects_non_catalog_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_text("hello, not sqlite " * 100)
    with pytest.raises(CatalogNotFound, match="is not a SQLite catalog"):
        Catalog.open(text)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(CatalogNotFound, match="is not a shopbot catalog"):
        Catalog.open(empty)


def test_catalog_is_opened_read_only(tiny_catalog: Catalog) -> None:
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        tiny_catalog.db.execute("DELETE FROM products")
