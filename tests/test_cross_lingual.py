"""Requests in another language than the catalog's (issue 23, item 3): the ranker reads them with the
multilingual encoder's product vectors (``ProductSearch``, "Other languages"), and a shop's category
aliases ("洗发水" for Shampoos) make the product type a filter.

Real encoders (all-MiniLM-L6-v2 and USE multilingual) on the small catalog of test_search.
"""

from __future__ import annotations

import json
import logging

import pytest

from recommender.catalog.importer import import_catalog
from recommender.catalog.products import Catalog
from recommender.ranking.filters import Filters
from recommender.ranking.ranker import (DEFAULT_REFERENCE, DEFAULT_REFERENCE_MULTILINGUAL, ProductSearch,
                                       SearchConfig)
from recommender.text.embeddings import ProductEmbeddings
from recommender.text.encoder import TextEncoder
from recommender.text.multilingual import MultilingualEncoder
from test_search import PRODUCTS

CATEGORY = {"s01": "Shampoos", "s03": "Shampoos", "s12": "Shampoos", "s15": "Shampoos", "s06": "Mascara",
            "s07": "Mascara", "s08": "Lipstick", "s09": "Nail Polish", "s10": "Nail Polish",
            "s14": "Eau de Parfum"}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """test_search's products imported with a category alias file, and their vectors: (catalog, MiniLM and
    its vectors, USE and its vectors)."""
    folder = tmp_path_factory.mktemp("cross-lingual")
    rows = [{"id": i, "title": t, "brand": b, "category": c, "price": pr} for i, t, b, c, pr in PRODUCTS]
    (folder / "products.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "aliases.csv").write_text("alias,category\n洗发水,Shampoos\n睫毛膏,Mascara\n", encoding="utf-8")
    import_catalog(folder / "products.jsonl", folder / "catalog.db", category_aliases=folder / "aliases.csv",
                   progress=False)
    catalog = Catalog.open(folder / "catalog.db")
    cache = folder / "cache"
    text, other = TextEncoder(), MultilingualEncoder()
    embeddings = ProductEmbeddings.load_or_build(catalog, text, cache, progress=False)
    yield catalog, (text, embeddings), (other, ProductEmbeddings.load_or_build(catalog, other, cache, progress=False))
    catalog.close()


@pytest.fixture(scope="module")
def searches(shop):
    """The ranker with the multilingual vectors and the same ranker without them."""
    catalog, (text, embeddings), multilingual = shop
    return (ProductSearch(catalog, text, embeddings, SearchConfig(), multilingual=multilingual),
            ProductSearch(catalog, text, embeddings, SearchConfig()))


def kinds(outcome) -> list[str | None]:
    return [CATEGORY.get(r.product.id) for r in outcome.results]


@pytest.mark.parametrize("query,kind", [
    ("睫毛膏", "Mascara"), ("我想买洗发水", "Shampoos"), ("有没有口红", "Lipstick"), ("指甲油", "Nail Polish"),
    ("Ich suche eine Wimperntusche", "Mascara"), ("je cherche un vernis à ongles", "Nail Polish"),
])
def test_a_request_in_another_language_finds_its_kind_of_product_first(searches, query, kind):
    found, _ = searches
    assert kinds(found.search(query, n=1)) == [kind]
    assert found.relevance(query) >= found.config.relevance_floor_multilingual


def test_without_the_multilingual_vectors_the_same_request_finds_nothing_but_what_the_shops_aliases_name(searches):
    _, english_only = searches
    assert english_only.search("有没有口红").no_match
    assert kinds(english_only.search("睫毛膏", n=1)) == ["Mascara"]  # the shop's alias of Mascara


@pytest.mark.parametrize("query", ["扫地机器人", "我想买一条牛仔裤", "笔记本电脑"])
def test_a_chinese_request_for_what_the_shop_does_not_sell_lists_nothing(searches, query):
    found, _ = searches
    assert found.search(query).no_match and found.search(query).results == []


def test_english_requests_rank_as_without_the_multilingual_vectors(searches):
    found, english_only = searches
    for query in ("shampoo for dry hair", "red lipstick", "OPI", "mascara under $9", "eau de parfum"):
        assert found.search(query) == english_only.search(query)


def test_words_of_another_language_are_not_keyword_matches(searches):
    found, _ = searches
    results = found.search("je cherche un parfum pour femme").results
    assert results[0].product.id == "s14"
    assert not [reason for r in results for reason in r.reasons if reason.startswith("matches")]


def test_a_category_alias_names_nothing_more_and_the_rest_of_the_words_orders(searches):
    found, _ = searches
    shampoos = Filters(category="Shampoos")
    assert found.relevance("我想买洗发水", shampoos) is None                 # "我想买" is filler
    assert set(kinds(found.search("我想买洗发水", shampoos))) == {"Shampoos"}
    assert found.relevance("给干性头发用的洗发水", shampoos) is None           # a category filter: no floor
    assert kinds(found.search("给干性头发用的洗发水", shampoos, n=1)) == ["Shampoos"]


def test_warming_up_measures_both_encoders_references_so_a_first_search_does_not(shop, caplog):
    catalog, (text, embeddings), multilingual = shop
    fresh = ProductSearch(catalog, text, embeddings, multilingual=multilingual)
    with caplog.at_level(logging.INFO, logger="recommender.ranking.ranker"):
        fresh.warm_up()
        measured = [r.getMessage() for r in caplog.records if "reference cosine" in r.getMessage()]
        caplog.clear()
        fresh.search("睫毛膏"), fresh.search("mascara")
    assert len(measured) == 2 and "multilingual" in measured[1] and "MiniLM" in measured[0]
    assert [r for r in caplog.records if "reference cosine" in r.getMessage()] == []


def test_a_catalog_without_categories_takes_each_encoders_own_default_reference(shop, tmp_path, caplog):
    _, (text, _), (other, _) = shop
    (tmp_path / "p.csv").write_text("id,title\np1,Lavender hand soap\np2,Cotton tote bag\n")
    import_catalog(tmp_path / "p.csv", tmp_path / "catalog.db", progress=False)
    with Catalog.open(tmp_path / "catalog.db") as bare:
        search = ProductSearch(bare, text, ProductEmbeddings.load_or_build(bare, text, tmp_path, progress=False),
                               multilingual=(other, ProductEmbeddings.load_or_build(bare, other, tmp_path,
                                                                                     progress=False)))
        with caplog.at_level(logging.INFO, logger="recommender.ranking.ranker"):
            search.warm_up()
    measured = [r.getMessage() for r in caplog.records if "reference cosine" in r.getMessage()]
    said = [float(m.split(" of ")[0].rsplit(" ", 1)[1]) for m in measured]
    assert said == [DEFAULT_REFERENCE, DEFAULT_REFERENCE_MULTILINGUAL]
