"""Hybrid product search: filters, ranking, truthful reasons, relax hints, hostile input (issue 4).

The ranking tests use a fake encoder with fixed concept vectors (no model) on a small catalog
built by the real importer; filters are checked against the SQLite file with independent SQL.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from recommender.catalog.formats import ColumnMapping
from recommender.catalog.products import Catalog
from recommender.catalog.types import singular_key
from recommender.errors import ProductNotFound
from recommender.text.embeddings import ProductEmbeddings, product_text
from recommender.catalog.importer import import_catalog
from recommender.ranking.facets import FacetVocabulary
from recommender.ranking.filters import Filters
from recommender.ranking.query import STOPWORDS
from recommender.ranking.ranker import ProductSearch, SearchConfig, SearchOutcome
from recommender.ranking.spelling import Speller, edit_distance

P = "Beauty > "
PRODUCTS = [
    ("s01", "Moisturizing Shampoo for Dry Hair", "Acme", P + "Hair Care > Shampoos", 8.99),
    ("s02", "Volumizing Conditioner for Dry Hair", "Acme", P + "Hair Care > Conditioners", 7.50),
    ("s03", "Daily Clarifying Shampoo", "Neutrogena", P + "Hair Care > Shampoos", 12.00),
    ("s04", "Hydro Boost Gel Moisturizer for Dry Skin", "Neutrogena", P + "Skin Care > Face > Moisturizers", 17.49),
    ("s05", "Oil-Free Acne Wash", "Neutrogena", P + "Skin Care > Face > Cleansers", 6.97),
    ("s06", "Great Lash Mascara, Blackest Black", "Maybelline", P + "Makeup > Eyes > Mascara", 4.99),
    ("s07", "Lash Sensational Mascara", "Maybelline", P + "Makeup > Eyes > Mascara", 8.49),
    ("s08", "SuperStay Matte Ink Lipstick, Red", "Maybelline", P + "Makeup > Lips > Lipstick", 9.49),
    ("s09", "Nail Lacquer, Big Apple Red", "OPI", P + "Makeup > Nails > Nail Polish", 10.50),
    ("s10", "Nail Lacquer, Lincoln Park After Dark", "OPI", P + "Makeup > Nails > Nail Polish", 10.50),
    ("s11", "Crème de Corps Body Lotion for Dry Skin", "Kiehl's", P + "Skin Care > Body > Lotions", 30.00),
    ("s12", None, "Acme", P + "Hair Care > Shampoos", 3.00),
    ("s13", "Argan Oil Hair Mask", None, P + "Hair Care > Treatments", None),
    ("s14", "Eau de Parfum Spray", "Prada", P + "Fragrance > Women's > Eau de Parfum", 65.00),
    ("s15", "L'Oréal Paris Elvive Shampoo", "L'Oreal Paris", P + "Hair Care > Shampoos", 5.49),
]
# shopper -> products; popularity: s06 5, s09 4, s01 3, s07 2, s03 2, s08 1, ...
HISTORIES = {
    "u1": ["s06", "s09", "s01", "s07"], "u2": ["s06", "s09", "s01"], "u3": ["s06", "s09", "s03"],
    "u4": ["s06", "s09", "s08"], "u5": ["s06", "s01", "s07", "s03"], "u6": ["s14"],
}
CONCEPTS = ["shampoo", "conditioner", "hair", "dry", "skin", "moistur", "mascara", "lash", "lip",
            "nail", "red", "parfum", "lotion", "acne", "wash"]


class ConceptEncoder:
    """Fake sentence encoder: a fixed axis per concept word found in the text, plus a bias axis."""

    model_id = "fake/concepts@1"
    dim = len(CONCEPTS) + 1

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            low = text.lower()
            out[i, :-1] = [low.count(c) > 0 for c in CONCEPTS]
            out[i, -1] = 0.3
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("search")
    rows = [{"id": i, "title": t, "brand": b, "category": c, "price": pr} for i, t, b, c, pr in PRODUCTS]
    (folder / "products.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "history.txt").write_text("".join(f"{u} {' '.join(ps)}\n" for u, ps in HISTORIES.items()))
    import_catalog(folder / "products.jsonl", folder / "catalog.db", interactions=folder / "history.txt",
                   progress=False)
    return folder / "catalog.db"


@pytest.fixture(scope="module")
def engine(db_path, tmp_path_factory):
    """The ranker without the relevance floor (calibrated on MiniLM, not on the concept encoder): the
    tests of filters, ranking and reasons look at the least relevant candidates too. The floor has
    its own tests below."""
    catalog = Catalog.open(db_path)
    encoder = ConceptEncoder()
    emb = ProductEmbeddings.load_or_build(catalog, encoder, tmp_path_factory.mktemp("cache"), progress=False)
    yield ProductSearch(catalog, encoder, emb, SearchConfig(popular_reason_min=3, diversity=0, relevance_floor=0))
    catalog.close()


@pytest.fixture(scope="module")
def sql(db_path):
    conn = sqlite3.connect(db_path)
    yield conn
    conn.close()


def ids(outcome: SearchOutcome) -> list[str]:
    return [r.product.id for r in outcome.results]


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def sql_passes(conn: sqlite3.Connection, pid: str, f: Filters) -> bool:
    """Does the stored row satisfy every filter? Computed from the raw table, not through Catalog."""
    brand, category, path, price = conn.execute(
        "SELECT brand, category, category_path, price FROM products WHERE id = ?", [pid]).fetchone()
    levels = [x.lower() for x in (path or "").split(" > ")] + [(category or "").lower()]
    return ((f.brand is None or (brand or "").lower() == f.brand.lower())
            and (f.category is None or f.category.lower() in levels)
            and (f.price_min is None or (price is not None and price >= f.price_min))
            and (f.price_max is None or (price is not None and price <= f.price_max)))


FILTER_CASES = [
    Filters(brand="maybelline"), Filters(brand="NEUTROGENA", price_max=10), Filters(category="shampoos"),
    Filters(category="Hair Care", price_min=5), Filters(price_min=5, price_max=10), Filters(price_max=5),
    Filters(category="makeup", brand="OPI"), Filters(price_min=10.5, price_max=10.5), Filters(brand="L'Oreal Paris"),
]


@pytest.mark.parametrize("filters", FILTER_CASES, ids=lambda f: ",".join(f.describe()))
@pytest.mark.parametrize("query", ["", "shampoo", "red", "dry skin moisturizer"])
def test_results_satisfy_every_filter_and_cover_all_that_do(engine, sql, query, filters):
    out = engine.search(query, filters, n=100)
    expected = {row[0] for row in sql.execute("SELECT id FROM products") if sql_passes(sql, row[0], filters)}
    assert expected, "each case should have matches"
    assert set(ids(out)) == expected
    assert all(sql_passes(sql, pid, filters) for pid in ids(out))
    assert out.relax is None


def test_semantic_and_keyword_rank_the_obvious_product_first(engine):
    assert ids(engine.search("shampoo for dry hair"))[0] == "s01"
    assert ids(engine.search("moisturizer for dry skin"))[0] == "s04"
    assert ids(engine.search("mascara", Filters(brand="Maybelline"), n=2)) == ["s06", "s07"]  # s06 more popular


def test_shampoo_under_10_returns_shampoos_before_the_conditioner(engine):
    out = engine.search("shampoo", Filters(price_max=10))
    assert set(ids(out)[:3]) == {"s01", "s12", "s15"}
    assert all("Shampoos" in r.product.category_path for r in out.results[:3])
    assert all("under your $10 budget" in r.reasons for r in out.results)


@pytest.mark.parametrize("query", ["", "show me something please", "?!"])
def test_a_query_without_content_words_ranks_by_popularity_within_the_filter(engine, sql, query):
    out = engine.search(query, Filters(brand="Maybelline"), n=10)
    counts = dict(sql.execute("SELECT product_id, count(DISTINCT shopper_id) FROM interactions GROUP BY product_id"))
    assert ids(out) == ["s06", "s07", "s08"]
    assert [counts.get(i, 0) for i in ids(out)] == sorted((counts.get(i, 0) for i in ids(out)), reverse=True)
    assert [r.reasons for r in out.results] == [("popular: 5 shoppers bought it", "Maybelline, as asked"),
                                                ("2 shoppers bought it", "Maybelline, as asked"),
                                                ("1 shopper bought it", "Maybelline, as asked")]
    assert engine.search("", Filters(brand="Prada")).results[0].reasons == ("1 shopper bought it", "Prada, as asked")


@pytest.mark.parametrize("query,filters,pid,reasons", [
    ("dry skin", Filters(price_max=20), "s04", ("close in meaning to 'dry skin'", "matches 'dry skin'",
                                                 "under your $20 budget")),
    # "mascara" and "shampoo" name categories of the shop: "in Mascara", "in Shampoos"
    ("mascara", Filters(brand="maybelline"), "s06", ("close in meaning to 'mascara'", "matches 'mascara'", "in Mascara",
                                                      "popular: 5 shoppers bought it", "Maybelline, as asked")),
    ("shampoo", Filters(category="hair care", price_min=5, price_max=10), "s01",
     ("matches 'shampoo'", "close in meaning to 'shampoo'", "in Shampoos", "popular: 3 shoppers bought it",
      "in Hair Care, as asked", "between $5 and $10")),
    ("big apple", Filters(price_min=10), "s09", ("matches 'big apple'", "popular: 4 shoppers bought it",
                                                 "over $10 as asked")),
    # "nail" names the category Nails, "lacquer" none: a query that says more than names is not boosted
    ("nail lacquer", Filters(price_max=10.5), "s10", ("close in meaning to 'nail lacquer'", "matches 'nail lacquer'",
                                                      "within your $10.50 budget")),
    # the filler words around the request are neither encoded nor quoted
    ("show me some nail lacquer please", Filters(price_max=10.5), "s10",
     ("close in meaning to 'nail lacquer'", "matches 'nail lacquer'", "within your $10.50 budget")),
    # a stemmed keyword match is quoted in the product's own word form
    ("lacquers", Filters(), "s10", ("matches 'lacquer'",)),
    ("apple lacquer", Filters(), "s09", ("matches 'apple' and 'lacquer'", "popular: 4 shoppers bought it")),
    # quoted as the user typed it; the longest phrases that really occur in the product's text
    ("any OPI Nail polish", Filters(), "s10", ("close in meaning to 'OPI Nail polish'",
                                               "matches 'OPI' and 'Nail polish'", "in Nail Polish", "from OPI")),
    ("CRÈME de corps", Filters(), "s11", ("matches 'CRÈME de corps'",)),
])
def test_reasons_name_what_really_scored(engine, query, filters, pid, reasons):
    result = next(r for r in engine.search(query, filters, n=20).results if r.product.id == pid)
    assert result.reasons == reasons


QUERIES = ["moisturizer for dry skin", "any OPI nail polish", "red", "crème", "L'Oréal shampoo", "lash",
           "shampoo under $10", "something nice", "", "hair for dry shampoo skin"]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("filters", [Filters(), Filters(price_max=9.49), Filters(price_min=8, price_max=11),
                                     Filters(price_min=10), Filters(brand="acme"), Filters(category="Nail Polish")])
def test_every_reason_is_true(engine, sql, query, filters):
    cfg = engine.config
    counts = dict(sql.execute("SELECT product_id, count(DISTINCT shopper_id) FROM interactions GROUP BY product_id"))
    for r in engine.search(query, filters, n=15).results:
        p, text = r.product, fold(product_text(r.product))
        for reason in r.reasons:
            if reason.startswith("matches "):
                for term in re.findall(r"'([^']+)'", reason):
                    assert re.search(r"(?<!\w)" + re.escape(fold(term)), text), (reason, text)
                    assert all(w not in {"any", "for", "under", "10"} for w in term.split())
            elif reason.startswith("close in meaning to"):
                quoted = re.fullmatch(r"close in meaning to '(.+)'", reason).group(1)
                assert quoted in query                                      # the request less its filler
                qvec = ConceptEncoder().encode([quoted])[0]
                cos = float(engine.embeddings.matrix[engine.embeddings.index_of(p.id)] @ qvec)
                assert cos >= cfg.semantic_reason_min
            elif reason.startswith("popular: "):
                n = int(reason.split()[1])
                assert n == counts[p.id] and n >= cfg.popular_reason_min
            elif reason.endswith(" bought it"):
                n = int(reason.split()[0])
                assert n == counts[p.id] and all(w.lower() in STOPWORDS for w in re.findall(r"\w+", query))
            elif reason.endswith("budget"):
                budget = float(re.search(r"\$([\d.]+)", reason).group(1))
                assert filters.price_max == budget and p.price <= budget and filters.price_min is None
            elif reason.startswith("between"):
                lo, hi = map(float, re.findall(r"\$([\d.]+)", reason))
                assert (lo, hi) == (filters.price_min, filters.price_max) and lo <= p.price <= hi
            elif reason.startswith("over"):
                assert filters.price_min is not None and p.price >= filters.price_min
            elif reason.startswith("in ") and reason.endswith(", as asked"):
                assert filters.category and reason == f"in {filters.category}, as asked"
            elif reason.startswith("in "):                                  # a category the query names
                name = reason.removeprefix("in ")
                assert name in (*p.category_path, p.category) and singular_key(name.lower()) in fold(query)
            elif reason.startswith("from "):                                # a brand the query names
                assert reason == f"from {p.brand}" and fold(p.brand) in fold(query)
            elif reason.endswith(", as asked"):
                assert filters.brand and reason == f"{p.brand}, as asked" and p.brand.lower() == filters.brand
            else:
                pytest.fail(f"unexpected reason {reason!r}")


def test_reasons_are_ordered_by_contribution(engine):
    def first_reason(cfg: SearchConfig) -> str:
        search = ProductSearch(engine.catalog, engine.encoder, engine.embeddings, cfg)
        return search.search("dry skin", n=1).results[0].reasons[0]

    assert first_reason(SearchConfig(w_sem=0.1, w_kw=0.9)).startswith("matches")
    assert first_reason(SearchConfig(w_sem=0.9, w_kw=0.1)).startswith("close in meaning")


@pytest.mark.parametrize("filters,relax", [
    (Filters(brand="OPI", category="Shampoos"), "brand"),
    (Filters(brand="Neutrogena", price_max=5), "price_max"),
    (Filters(brand="Prada", price_min=1000), "price_min"),
    (Filters(category="Mascara", price_min=9, price_max=12), "price_min"),  # dropping price_max would not help
    (Filters(category="Mascara", price_min=1, price_max=4), "price_max"),
    (Filters(brand="Nobody"), "brand"),
    (Filters(brand="Nobody", category="Nothing"), None),  # no single filter's removal helps
])
def test_relax_names_the_filter_whose_removal_gives_results(engine, filters, relax):
    out = engine.search("mascara", filters)
    assert out.results == [] and out.relax == relax
    if relax:
        assert engine.search("mascara", filters.without(relax)).results


HOSTILE = ["", "   ", "???", "!!!...", "'; DROP TABLE products; --", '"unbalanced', "NEAR(shampoo, 2)",
           "shampoo*", "OR AND NOT", "title:shampoo", "^mascara", "ß日本語 🧴 シャンプー", "\x00\x1f\u200b",
           "shampoo " * 5000, "x" * 100_000, "l'oréal", "$10", "-", "%_%"]


@pytest.mark.parametrize("query", HOSTILE, ids=lambda q: repr(q[:20]))
def test_hostile_queries_never_crash(engine, sql, query):
    out = engine.search(query, n=3)
    assert len(out.results) == 3
    assert all(len(reason) < 200 for r in out.results for reason in r.reasons)
    assert sql.execute("SELECT count(*) FROM products").fetchone()[0] == len(PRODUCTS)


def test_long_queries_are_truncated_in_reasons(engine):
    out = engine.search("moisturizer for dry skin " * 50, n=1)
    assert any(reason.startswith("close in meaning to 'moisturizer for dry skin") and reason.endswith("…'")
               for reason in out.results[0].reasons)


def test_exclude_n_and_determinism(engine):
    first = engine.search("shampoo", n=4)
    assert len(first.results) == 4 and first == engine.search("shampoo", n=4)
    assert engine.search("shampoo", n=0).results == []
    rest = engine.search("shampoo", n=4, exclude=ids(first)[:2])
    assert not set(ids(rest)) & set(ids(first)[:2]) and ids(rest)[:2] == ids(first)[2:]
    scores = [r.score for r in first.results]
    assert scores == sorted(scores, reverse=True)


def test_results_do_not_depend_on_the_order_of_the_embedding_rows(engine):
    # Candidates are embedding rows and ties go by product id: reversed rows give the same answers.
    emb = engine.embeddings
    order = list(range(len(emb)))[::-1]
    flipped = ProductSearch(engine.catalog, engine.encoder,
                            ProductEmbeddings([emb.ids[i] for i in order], emb.matrix[order], model_id=emb.model_id),
                            engine.config)
    for query, filters in [("", Filters()), ("shampoo", Filters()), ("red", Filters(category="makeup")),
                           ("dry", Filters(price_max=10))]:
        expected = engine.search(query, filters, n=10, exclude=["s01", "no-such-id"])
        assert flipped.search(query, filters, n=10, exclude=["s01", "no-such-id"]) == expected
        assert len(expected.results) > 1 and "s01" not in ids(expected)
    assert flipped.similar("s06", n=10) == engine.similar("s06", n=10)


def test_exclusions_count_when_looking_for_a_filter_to_relax(engine):
    assert engine.search("", Filters(brand="Prada"), exclude=["s14"]) == SearchOutcome([], "brand")
    assert engine.search("", exclude=[p[0] for p in PRODUCTS]) == SearchOutcome([], None)


def test_filters_normalise_and_describe():
    assert Filters().is_empty() and Filters(brand="  ", category="").is_empty()
    assert Filters(brand=" OPI ").brand == "OPI"
    assert Filters(price_max=15).describe() == ["under $15"]
    assert Filters(category="Shampoos", brand="Acme", price_min=10, price_max=30.5).describe() == [
        "in Shampoos", "from Acme", "between $10 and $30.50"]
    assert Filters(price_min=20).describe() == ["over $20"]
    assert Filters(brand="OPI", price_max=5).without("brand") == Filters(price_max=5)


def test_a_query_without_words_does_not_call_the_encoder(engine):
    before = engine.encoder.calls
    engine.search("?!", Filters(brand="OPI"))
    assert engine.encoder.calls == before


@pytest.mark.parametrize("query", ["shampoo under $10", "shampoo between $5 and $10", "shampoo for 20 bucks",
                                   "shampoo $10-$20"])
def test_price_phrases_are_left_to_the_filters(engine, query):
    out = engine.search(query, n=5)
    assert out == engine.search("shampoo", n=5)
    assert "close in meaning to 'shampoo'" in out.results[0].reasons


# ---- diversity --------------------------------------------------------------------------------


def test_diversity_pushes_near_duplicates_down(engine):
    """s06 and s07 are both mascara + lash (cos 1 under the concept encoder); s08 is a lipstick."""
    diverse = ProductSearch(engine.catalog, engine.encoder, engine.embeddings, SearchConfig(popular_reason_min=3))
    plain = engine.search("", Filters(brand="Maybelline"), n=3)
    assert ids(plain) == ["s06", "s07", "s08"]                       # by popularity
    out = diverse.search("", Filters(brand="Maybelline"), n=3)
    assert ids(out) == ["s06", "s08", "s07"]
    assert {r.product.id: r.score for r in out.results} == {r.product.id: r.score for r in plain.results}
    unrelated = ProductSearch(engine.catalog, engine.encoder, engine.embeddings,
                              SearchConfig(popular_reason_min=3, diversity=0.0))
    assert ids(unrelated.search("", Filters(brand="Maybelline"), n=3)) == ids(plain)


# ---- personal score ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def personal(engine):
    """The ranker with a small sequence model: shoppers who bought the acne wash s05 then bought the
    shampoo that plain search ranks last, and shoppers who bought s02 then bought s01."""
    from recommender.cf.model import CFConfig
    from recommender.cf.recommender import CFRecommender
    from recommender.cf.train import TrainConfig

    last = ids(engine.search("shampoo", Filters(category="Shampoos"), n=10))[-1]
    histories = [(f"a{u}", ["s05", last]) for u in range(40)] + [(f"b{u}", ["s02", "s01"]) for u in range(40)]
    rec = CFRecommender(CFConfig(n_embd=16, max_len=4, dropout=0.0, id_dropout=0.0, n_negatives=0),
                        TrainConfig(epochs=30, batch_size=16, lr=1e-2, seed=0, threads=1),
                        describe=lambda pid: f"<{pid}>")
    rec.fit(histories, item_ids=[p[0] for p in PRODUCTS])
    return last, ProductSearch(engine.catalog, engine.encoder, engine.embeddings,
                               SearchConfig(popular_reason_min=3, diversity=0), recommender=rec)


def test_the_session_reorders_results_and_the_reason_names_the_session_product(engine, personal):
    last, ranker = personal
    plain = ranker.search("shampoo", Filters(category="Shampoos"), n=4)
    assert ids(plain) == ids(engine.search("shampoo", Filters(category="Shampoos"), n=4))  # no history, no change
    out = ranker.search("shampoo", Filters(category="Shampoos"), n=4, session_items=["s05"])
    assert ids(out)[0] == last and set(ids(out)) == set(ids(plain))  # same filters, new order
    top = out.results[0]
    assert "often bought after <s05> (40 shoppers)" in top.reasons
    assert top.reasons[-1] == "in Shampoos, as asked"
    # every product a personal reason names is in the session
    for r in out.results:
        for reason in r.reasons:
            for named in re.findall(r"<(s\d+)>", reason):
                assert named == "s05", reason


def test_a_known_shopper_is_personalised_from_their_history(personal):
    last, ranker = personal
    out = ranker.search("", Filters(category="Hair Care"), n=3, shopper_id="b3")
    assert ids(out)[0] == "s01"
    assert any(reason.startswith("because you liked <s02>") or reason.startswith("often bought after <s02>")
               for reason in out.results[0].reasons)
    unknown = ranker.search("", Filters(category="Hair Care"), n=3, shopper_id="nobody")
    assert ids(unknown) == ids(ranker.search("", Filters(category="Hair Care"), n=3))


def test_a_saved_model_is_loaded_only_for_its_own_catalog(engine, personal, tmp_path, caplog):
    from recommender.ranking.cf_bridge import load_recommender

    _, ranker = personal
    ranker.recommender.fingerprint = engine.catalog.fingerprint()
    path = ranker.recommender.save(tmp_path / "cf.pt")
    loaded = load_recommender(engine.catalog, path)
    assert loaded is not None and loaded.describe("s05") == "Oil-Free Acne Wash"
    ranker.recommender.fingerprint = "another catalog"
    ranker.recommender.save(path)
    assert load_recommender(engine.catalog, path) is None
    assert "retrain it on the current catalog" in caplog.text
    assert load_recommender(engine.catalog, tmp_path / "missing.pt") is None


# ---- similar products -------------------------------------------------------------------------


def test_similar_products_are_described_or_bought_alike_with_true_reasons(engine, personal):
    out = engine.similar("s06", n=3)                                  # Great Lash Mascara, Maybelline
    assert "s06" not in ids(out) and ids(out)[0] == "s07"            # the other mascara
    assert out.results[0].reasons[:3] == ("described like Great Lash Mascara, Blackest Black",
                                          "also from Maybelline", "also in Mascara")
    assert set(ids(engine.similar("s06", n=3, filters=Filters(brand="OPI")))) == {"s09", "s10"}
    assert engine.similar("s06", filters=Filters(brand="Nobody")) == SearchOutcome([], "brand")
    last, ranker = personal                                           # shoppers bought s05 then `last`
    top = ranker.similar("s05", n=1, filters=Filters(category="Shampoos")).results[0]
    assert top.product.id == last
    assert "often bought together with <s05> (40 shoppers)" in top.reasons  # the model names it (describe)
    with pytest.raises(ProductNotFound):
        engine.similar("nope")


class TextNoting(ConceptEncoder):
    """The concept encoder, noting the texts it encoded."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.texts += list(texts)
        return super().encode(texts, batch_size, progress)


def test_a_repeated_query_is_encoded_once_and_ranks_the_same(engine, db_path):
    encoder = TextNoting()
    cached = ProductSearch(Catalog.open(db_path), encoder, engine.embeddings,
                           SearchConfig(popular_reason_min=3, diversity=0, relevance_floor=0))
    first = cached.search("shampoo for dry hair")
    again = cached.search("shampoo for dry hair", Filters(price_max=10))   # a new filter on the same words
    more = cached.search("shampoo for dry hair", exclude=ids(first)[:2])  # "show me more"
    cached.close()
    assert encoder.texts == ["shampoo for dry hair"]
    assert first == engine.search("shampoo for dry hair")
    assert again == engine.search("shampoo for dry hair", Filters(price_max=10))
    assert more == engine.search("shampoo for dry hair", exclude=ids(first)[:2])


@pytest.mark.parametrize("size,encoded", [
    (2, ["mascara", "shampoo", "lipstick", "shampoo", "mascara"]),  # kept: the two most recently used
    (0, ["mascara", "shampoo", "mascara", "lipstick", "shampoo", "mascara"]),
])
def test_the_query_cache_keeps_the_most_recent_texts_and_can_be_off(engine, db_path, size, encoded):
    encoder = TextNoting()
    search = ProductSearch(Catalog.open(db_path), encoder, engine.embeddings,  # no floor: no category name encoded
                           SearchConfig(query_cache_size=size, relevance_floor=0))
    for text in ("mascara", "shampoo", "mascara", "lipstick", "shampoo", "mascara"):
        search.search(text)
    search.close()
    assert encoder.texts == encoded


# ---- relevance floor --------------------------------------------------------------------------
# Under the concept encoder a query without a concept word is the bias axis alone: its best cosine
# is 0.29 (a product with one concept); "shampoo" reaches 0.52 with s01 and 0.72 with s12. With the
# reference cosine pinned to 1, the floor is a cosine of 0.5.


@pytest.fixture(scope="module")
def floored(engine):
    return ProductSearch(engine.catalog, engine.encoder, engine.embeddings,
                         SearchConfig(popular_reason_min=3, diversity=0, relevance_floor=0.5, relevance_reference=1.0))


def test_the_reference_cosine_is_the_median_best_cosine_of_the_category_names(engine, sql):
    search = ProductSearch(engine.catalog, engine.encoder, engine.embeddings)
    best = []
    for (name,) in sql.execute("SELECT DISTINCT category FROM products"):
        ids_in = [pid for (pid,) in sql.execute("SELECT id FROM products WHERE category = ?", [name])]
        vector = ConceptEncoder().encode([name])[0]
        best.append(max(float(engine.embeddings.matrix[engine.embeddings.index_of(pid)] @ vector) for pid in ids_in))
    assert search.reference_cosine() == pytest.approx(float(np.median(best)), abs=1e-6)
    floor = search.config.relevance_floor * search.reference_cosine()
    assert search.relevance("shampoo") == pytest.approx(0.722 / search.reference_cosine(), abs=1e-3)
    assert (search.search("shampoo").results != []) == (0.722 >= floor)


@pytest.mark.parametrize("query", ["running shoes", "show me running shoes under $50", "a 55 inch tv", "laptop"])
def test_a_query_the_catalog_does_not_carry_lists_nothing(floored, query):
    assert floored.search(query) == SearchOutcome([], None, no_match=True)
    assert floored.relevance(query) < floored.config.relevance_floor


def test_a_relevant_query_lists_as_before(floored, engine):
    for query in ("shampoo", "mascara", "dry skin moisturizer", "red nail polish under $20"):
        out = floored.search(query)
        assert out == engine.search(query) and out.results and not out.no_match
        assert floored.relevance(query) >= floored.config.relevance_floor


def test_no_floor_without_words_beyond_the_filters_nor_for_similar(floored, engine):
    for query, filters in [("", Filters(brand="OPI")), ("?!", Filters()), ("OPI", Filters(brand="OPI")),
                           ("only opi please", Filters(brand="opi")), ("nail polish", Filters(category="Nail Polish")),
                           ("nail polishes", Filters(category="Nail Polish")), ("mascaras", Filters(category="Mascara"))]:
        assert floored.relevance(query, filters) is None
        out = floored.search(query, filters)
        assert out.results and out == engine.search(query, filters)
    assert floored.relevance("OPI") < floored.config.relevance_floor     # no filter: "OPI" names something,
    opi = floored.search("OPI").results                                  # a brand the shop sells: its products first
    assert [(r.product.brand, "from OPI" in r.reasons) for r in opi[:3]] == [("OPI", True), ("OPI", True),
                                                                             ("Prada", False)]
    assert floored.similar("s06", n=3) == engine.similar("s06", n=3)


def test_relevant_products_outside_the_filters_name_the_filter_to_drop(floored):
    # OPI has no mascara, the shop has: drop the brand, do not say the shop does not carry it
    assert floored.search("mascara", Filters(brand="OPI")) == SearchOutcome([], "brand")
    assert floored.search("mascara", Filters(brand="OPI", price_max=5)) == SearchOutcome([], "brand")
    assert floored.search("mascara", Filters(brand="Maybelline", price_max=1)) == SearchOutcome([], "price_max")
    assert floored.search("mascara", Filters(brand="OPI", price_max=1)) == SearchOutcome([], None)  # two to drop
    assert floored.search("running shoes", Filters(brand="Nobody")) == SearchOutcome([], None, no_match=True)
    assert floored.search("mascara", Filters(brand="OPI", category="Nail Polish")) == SearchOutcome([], None)
    # every mascara already shown ("show me more"): nothing more, and the shop still carries mascara
    assert floored.search("mascara", exclude=["s06", "s07"]) == SearchOutcome([], None)


@pytest.mark.parametrize("query", HOSTILE, ids=lambda q: repr(q[:20]))
def test_hostile_queries_never_crash_with_the_floor(floored, query):
    out = floored.search(query, n=3)
    assert len(out.results) == 3 or (out.results == [] and out.no_match)


@pytest.mark.slow  # loads the real sentence encoder
def test_the_default_floor_on_the_real_encoder(db_path, tmp_path):
    from recommender.text.encoder import TextEncoder

    catalog = Catalog.open(db_path)
    encoder = TextEncoder()
    embeddings = ProductEmbeddings.load_or_build(catalog, encoder, tmp_path, progress=False)
    search = ProductSearch(catalog, encoder, embeddings)
    try:
        for query in ("running shoes", "a 55 inch tv under 400 euros", "gaming laptop", "sofa"):
            assert search.search(query) == SearchOutcome([], None, no_match=True), query
        for query in ("shampoo for dry hair", "mascara", "red nail polish", "something for dry skin"):
            assert search.search(query).results, query
    finally:
        catalog.close()


# ---- spelling -----------------------------------------------------------------------------------


@pytest.mark.parametrize("word,fixed", [
    ("shampo", "shampoo"), ("mascra", "mascara"), ("lipstik", "lipstick"), ("perfum", "parfum"),
    ("conditoner", "conditioner"), ("CONDITONERS", "conditioners"), ("lotoins", "lotions"),  # a swap is one edit
    ("shampoo", None), ("shampoos", None), ("sofa", None), ("couch", None), ("xampoo", None), ("shmpoooo", None),
])
def test_typos_of_what_the_shop_sells_are_corrected(engine, word, fixed):
    assert Speller(engine.catalog.categories()).correct(word) == fixed


def test_edit_distance_counts_swaps_and_stops_at_the_limit():
    assert [edit_distance(a, b, 3) for a, b in [("ca", "ac"), ("kitten", "sitting"), ("same", "same"), ("", "abc")]] \
        == [1, 3, 0, 3]
    assert edit_distance("abcdef", "uvwxyz", 2) == 3 and edit_distance("a", "abcd", 1) == 2


def test_a_misspelt_request_finds_what_the_spelling_finds(engine, floored):
    for typo, word in [("shampo for dry hair", "shampoo for dry hair"), ("mascra", "mascara")]:
        assert engine.search(typo) == engine.search(word) and floored.search(typo) == floored.search(word)
        assert floored.search(typo).results
    # a word the keyword index knows is never "corrected" ("lacquer" is no category word)
    assert engine.search("lacquer").results[0].reasons[0] == "matches 'lacquer'"


def test_facet_values_that_say_little_alone_need_their_facet_name():
    vocabulary = FacetVocabulary({"size": [("9", 3), ("M", 2)], "waterproof": [("yes", 4)], "colour": [("Red", 1)]})
    assert vocabulary.named_in("size 9 red shoes, waterproof yes") == {"size": "9", "colour": "red",
                                                                       "waterproof": "yes"}
    assert vocabulary.named_in("9 reds, m or yes") == {"colour": "red"}
    assert vocabulary.named_in("SIZE  M please") == {"size": "m"}
    assert FacetVocabulary({}).named_in("anything") == {}


# ---- another shop: facets, rupees, no histories -------------------------------------------------

FASHION = Path(__file__).parent / "fixtures" / "catalogs" / "fashion_inr.csv"


class WordEncoder:
    """Fake sentence encoder for any shop's words: one hashed axis per word, plus a bias axis."""

    model_id = "fake/words@1"
    dim = 257

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[i, zlib.crc32(word.encode()) % (self.dim - 1)] = 1.0
            out[i, -1] = 0.3
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def fashion_path(tmp_path_factory) -> Path:
    """The fashion fixture imported as its README says: no categories, prices in rupees, facets
    gender and colour, and no shopper histories."""
    mapping = ColumnMapping().with_columns(id="ProductID", title="ProductName", brand="ProductBrand", price="Price",
                                           description="Description")
    path = tmp_path_factory.mktemp("fashion") / "catalog.db"
    import_catalog(FASHION, path, mapping=mapping.with_facets({"gender": "Gender", "colour": "PrimaryColor"}),
                   progress=False)
    return path


@pytest.fixture(scope="module")
def fashion(fashion_path, tmp_path_factory):
    catalog = Catalog.open(fashion_path)
    encoder = WordEncoder()
    emb = ProductEmbeddings.load_or_build(catalog, encoder, tmp_path_factory.mktemp("fashion-cache"), progress=False)
    yield ProductSearch(catalog, encoder, emb, SearchConfig(diversity=0, relevance_floor=0))
    catalog.close()


def sql_with_facets(path: Path, pairs: dict[str, str], price_max: float) -> set[str]:
    """Ids of the products with every (facet, value) pair and a price <= price_max, from the raw tables."""
    conn = sqlite3.connect(path)
    try:
        ids_ = {pid for (pid,) in conn.execute("SELECT id FROM products WHERE price <= ?", [price_max])}
        for name, value in pairs.items():
            ids_ &= {pid for (pid,) in conn.execute(
                "SELECT product_id FROM product_facets WHERE name = ? AND value = ?", [name, value])}
        return ids_
    finally:
        conn.close()


@pytest.mark.parametrize("text,facets", [
    ("black jeans for women", {"colour": "black", "gender": "women"}),
    ("Navy Blue shirt for a man", {"colour": "navy blue", "gender": "men"}),  # longest value, singular
    ("a grey melange t-shirt", {"colour": "grey melange"}),
    ("something for GIRLS", {"gender": "girls"}),
    ("blackest jeans", {}), ("show me running shoes", {}), ("", {}),
])
def test_facets_in_finds_the_values_a_text_names(fashion, text, facets):
    assert fashion.facets_in(text) == facets


def test_black_jeans_for_women_under_1500_rupees(fashion, fashion_path):
    text = "black jeans for women under 1500 rupees"
    facets = fashion.facets_in(text)
    out = fashion.search(text, Filters(facets=facets, price_max=1500), n=50)
    assert set(ids(out)) == sql_with_facets(fashion_path, facets, 1500) and len(out.results) > 4
    assert all("Jeans" in r.product.title for r in out.results[:4])  # the four black jeans for women first
    for r in out.results:
        assert r.reasons[-3:] == ("black, as asked", "for women, as asked", "under your ₹1,500 budget")
        assert not any(r.startswith("matches") and ("black" in r or "women" in r) for r in r.reasons)
    assert "matches 'jeans'" in out.results[0].reasons  # the words that became filters left the query


def test_facet_filters_normalise_relax_and_describe(fashion):
    f = Filters(brand="Puma", facets={" Colour ": " MUSTARD", "gender": "Women"})
    assert f.facets == (("colour", "mustard"), ("gender", "women"))
    assert fashion.search("", f) == SearchOutcome([], "facets")
    assert f.describe("INR") == ["from Puma", "mustard", "for women"]
    assert f.without_facet("colour") == Filters(brand="Puma", facets={"gender": "women"})
    assert f.without("facets") == Filters(brand="Puma") and f.without("facets").is_empty() is False
    assert Filters(facets={"colour": " "}).is_empty()
    assert Filters(facets=[("gender", "unisex")], price_max=1299).describe("INR") == ["unisex", "under ₹1,299"]
    assert f.as_kwargs()["facets"] == (("colour", "mustard"), ("gender", "women"))
    assert Filters(price_min=10, price_max=12.5).describe("EUR") == ["between €10 and €12.50"]


def fashion_with(tmp_path: Path, column: str, values: Callable[[int], str], **mapped: str) -> ProductSearch:
    """The fashion fixture with one more column (its value for row i: ``values(i)``), imported with
    ``mapped`` fields on it, searched with the word encoder."""
    with FASHION.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    path = tmp_path / "shop.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, [*rows[0], column])
        writer.writeheader()
        writer.writerows(row | {column: values(i)} for i, row in enumerate(rows))
    mapping = ColumnMapping().with_columns(id="ProductID", title="ProductName", brand="ProductBrand", price="Price",
                                           **mapped)
    import_catalog(path, tmp_path / "catalog.db", mapping=mapping, progress=False)
    catalog = Catalog.open(tmp_path / "catalog.db")
    encoder = WordEncoder()
    emb = ProductEmbeddings.load_or_build(catalog, encoder, tmp_path / "cache", progress=False)
    return ProductSearch(catalog, encoder, emb, SearchConfig(diversity=0, relevance_floor=0))


def test_without_histories_review_counts_are_the_prior(tmp_path):
    search = fashion_with(tmp_path, "Reviews", lambda i: str((i * 37) % 101), review_count="Reviews")
    assert search.prior().kind == "reviews" and search.popularity() == {}
    reviews = search.catalog.review_counts()
    browse = search.search("", Filters(brand="Puma"), n=20)
    counts = [reviews.get(r.product.id, 0) for r in browse.results]
    assert len(counts) == 12 and counts == sorted(counts, reverse=True) and counts[0] > counts[-1]
    for r, n in zip(browse.results, counts):  # the ranking: every count said, "popular" from 30
        said = [f"popular: {n} reviews"] if n >= 30 else [f"{n} review{'s' * (n != 1)}"] if n else []
        assert list(r.reasons) == [*said, "Puma, as asked"]
    shoes = search.search("running shoes", Filters(brand="Puma"), n=4)
    assert all("Running Shoes" in r.product.title for r in shoes.results)  # relevance still comes first
    assert all(not reason.endswith(" reviews") or reason.startswith("popular: ")
               for r in shoes.results for reason in r.reasons)  # under a query, only strong counts are said


def test_without_histories_or_reviews_the_newest_come_first(tmp_path):
    first = date(2026, 1, 1)
    search = fashion_with(tmp_path, "Listed", lambda i: (first + timedelta(days=(i * 37) % 300)).isoformat(),
                          date="Listed")
    assert search.prior().kind == "recency"
    dates = search.catalog.dates()
    assert len(dates) == 93
    browse = search.search("", Filters(brand="Puma"), n=20)
    days = [dates[r.product.id] for r in browse.results]
    assert len(days) == 12 and days == sorted(days, reverse=True)
    newest, oldest = max(dates.values()), min(dates.values())
    for r, when in zip(browse.results, days):
        day = datetime.fromtimestamp(when, tz=timezone.utc).date().isoformat()
        new = when >= newest - 0.1 * (newest - oldest)
        assert r.reasons[0] == (f"new: listed {day}" if new else f"listed {day}")
    shoes = search.search("running shoes", n=30)
    assert all(not reason.startswith("listed") for r in shoes.results for reason in r.reasons)


def test_a_catalog_without_histories_or_model_ranks_by_relevance_then_id(fashion):
    assert fashion.recommender is None and fashion.popularity() == {} and fashion.prior().kind == "none"
    browse = fashion.search("", Filters(brand="Puma"), n=20)
    assert ids(browse) == sorted(ids(browse)) and len(browse.results) == 12     # no popularity: ties by id
    assert all(r.reasons == ("Puma, as asked",) for r in browse.results)
    shoes = fashion.search("running shoes", Filters(brand="Puma"), n=4)
    assert all("Running Shoes" in r.product.title for r in shoes.results) and len(shoes.results) == 4
    assert not any("bought" in reason for r in shoes.results for reason in r.reasons)
    assert fashion.similar(ids(shoes)[0], n=3).results
