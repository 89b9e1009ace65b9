"""A catalog written in Chinese (issue 23, item 3): its keyword index (Han characters and pairs,
catalog/keyword_index.py), the ranker reading it with the multilingual vectors, and the assistant's
replies about it in Chinese, with prices in CNY.

The catalog is tests/fixtures/catalogs/zh_shop (written for the project: 160 products, 18 leaf
categories), imported as its PROVENANCE.md says; the ranker uses the real encoders (MiniLM and USE).
"""

from __future__ import annotations

import csv
import re
import sqlite3
from contextlib import closing

import pytest

from actions import slots as slot_names
from actions.vocabulary import Vocabulary
from recommender import ProductSearch, SearchConfig
from recommender.catalog.formats import ColumnMapping
from recommender.catalog.importer import import_catalog
from recommender.catalog.keyword_index import han_terms
from recommender.catalog.products import Catalog
from recommender.text.embeddings import ProductEmbeddings
from recommender.text.encoder import TextEncoder
from recommender.text.multilingual import MultilingualEncoder
from test_actions import FIXTURES, injected, run, slot_values, tracker

SHOP = FIXTURES / "zh_shop"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zh-shop")
    report = import_catalog(SHOP / "products.csv", folder / "catalog.db", currency="CNY", progress=False,
                            mapping=ColumnMapping().with_facets({"colour": "colour"}))
    assert (report.errors, report.products) == ([], 160)  # "￥119" and "¥1,099.00" are prices
    with Catalog.open(folder / "catalog.db") as opened:
        yield opened


@pytest.fixture(scope="module")
def chinese_shop(catalog, tmp_path_factory):
    """The ranker as set-up serves the shop: MiniLM's and the multilingual vectors."""
    cache = tmp_path_factory.mktemp("zh-cache")
    text, other = TextEncoder(), MultilingualEncoder()
    return ProductSearch(catalog, text, ProductEmbeddings.load_or_build(catalog, text, cache, progress=False),
                         SearchConfig(),
                         multilingual=(other, ProductEmbeddings.load_or_build(catalog, other, cache, progress=False)))


def leaf(catalog: Catalog, ids: list[str]) -> list[str | None]:
    with closing(sqlite3.connect(catalog.path)) as conn:
        found = dict(conn.execute("SELECT id, category FROM products"))
    return [found[pid] for pid in ids]


def test_the_index_holds_the_characters_and_pairs_of_han_runs_and_a_letter_written_onto_one():
    assert han_terms("蓝牙耳机 T恤 5G手机") == ["蓝", "牙", "耳", "机", "蓝牙", "牙耳", "耳机", "恤", "T恤",
                                             "手", "机", "手机"]
    assert han_terms("Nail Polish, 15 ml") == []


@pytest.mark.parametrize("query, kind", [("手机壳", "手机配件"), ("T恤", "T恤"), ("茶", "茶叶"), ("纯棉短袖", "T恤"),
                                         ("电饭煲", "电饭煲"), ("蓝牙耳机", "耳机")])
def test_a_chinese_word_finds_the_products_whose_titles_have_it_first(catalog, query, kind):
    """Titles are written without spaces between words ("液态硅胶手机壳"): the pairs find them."""
    hits = catalog.keyword_search(query, 3)
    assert leaf(catalog, [pid for pid, _, _ in hits]) == [kind] * 3
    assert all("".join(matched) == query.lower() for _, _, matched in hits)  # the word, or its parts ("纯棉", "短袖")


def test_the_parts_of_a_query_a_product_has_are_what_it_matched(catalog):
    """"小米手机": the brand and the product word are apart in the titles; a phone case of another brand
    matches only "手机"; nothing matches a word no title has."""
    hits = catalog.keyword_search("小米手机", 20)
    assert hits[0][2] == ("小米", "手机") and ("手机",) in [m for _, _, m in hits]
    assert catalog.keyword_search("洗衣机", 20) == []


@pytest.mark.parametrize("query, kind", [("running shoes", "运动鞋"), ("rice cooker", "电饭煲"), ("green tea", "茶叶")])
def test_an_english_request_finds_the_chinese_catalogs_products(chinese_shop, query, kind):
    """A catalog written in Chinese is read by the multilingual vectors for every query, English too;
    across languages they are coarser ("rice cooker" lists an air fryer first, then rice cookers)."""
    assert chinese_shop.catalog.han_share() == 1.0
    found = leaf(chinese_shop.catalog, [r.product.id for r in chinese_shop.search(query, n=3).results])
    assert found.count(kind) >= 2


def test_the_shops_queries_find_their_kind_of_product_first(chinese_shop):
    """The fixture's 60 queries (queries.tsv): the first result is of the right leaf for every one, and
    nothing is listed for the 10 the shop does not sell (bench/chinese_catalog.py measures p@5)."""
    with (SHOP / "queries.tsv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    wrong = []
    for row in rows:
        outcome = chinese_shop.search(row["query"], n=1)
        if row["category"] == "-":
            if not outcome.no_match:
                wrong.append(row["query"])
        elif leaf(chinese_shop.catalog, [r.product.id for r in outcome.results]) != [row["category"]]:
            wrong.append(row["query"])
    assert wrong == []


def test_a_chinese_request_with_filler_quotes_the_word_the_product_has(chinese_shop):
    [first] = chinese_shop.search("我想买被子", n=1).results
    assert "被子" in first.product.title and first.reasons[0] == "matches '被子'"
    assert first.reasons[0].said("zh") == "符合“被子”"


def test_a_brand_the_catalog_writes_in_chinese_is_found_anywhere_in_a_message(catalog):
    vocabulary = Vocabulary.from_catalog(catalog)
    assert vocabulary.brand_in("只要小米的") == "小米" and vocabulary.brand_in("三只松鼠坚果") == "三只松鼠"
    assert vocabulary.brand_in("我想买手机") is None


def test_the_assistant_lists_the_chinese_shops_products_in_chinese_with_yuan_prices(chinese_shop, tmp_path):
    """The search action over the Chinese catalog: a request in Chinese under a price in 元, the
    reply's summary, reasons and prices in Chinese, every product within the price."""
    for _ in injected(chinese_shop, tmp_path):
        messages, events = run(tracker("200元以下的被子", {"price_max": "200"}, slots={"language": "zh"}))
        [message] = messages
        shown = slot_values(events)[slot_names.SHOWN]
        cards = message["custom"]["products"]
        assert shown and all(c["price"] <= 200 and c["currency"] == "CNY" for c in cards)
        assert "被子" in cards[0]["title"]
        assert all(re.fullmatch(r"¥[\d,]+\.\d\d", c["price_text"]) for c in cards)
        assert "¥200.00以下" in message["summary"] and "低于您¥200.00的预算" in cards[0]["reasons"]


def test_a_category_the_catalog_writes_in_chinese_is_named_where_a_noun_ends(catalog):
    vocabulary = Vocabulary.from_catalog(catalog)
    assert vocabulary.category_in("我想买手机") == vocabulary.category_in("华为智能手机有吗") == "手机"
    assert vocabulary.category_in("耳机推荐") == vocabulary.category_in("我要蓝牙耳机") == "耳机"
    assert vocabulary.category_in("手机壳") is None and vocabulary.category_in("耳机线") is None  # not a phone
    with open(SHOP / "queries.tsv", encoding="utf-8", newline="") as rows:
        named = [(vocabulary.category_in(row["query"]), row["category"])
                 for row in csv.DictReader(rows, delimiter="\t")]
    assert all(found in (None, kind) for found, kind in named)        # never the wrong kind of product
    assert sum(found == kind for found, kind in named) >= 30          # 31 of the shop's 70 queries name it


def test_a_chinese_category_is_the_search_filter_and_is_kept_when_the_shopper_refines(chinese_shop, tmp_path):
    for _ in injected(chinese_shop, tmp_path):
        _, events = run(tracker("我想买手机", slots={"language": "zh"}))
        found = slot_values(events)
        assert found[slot_names.CATEGORY] == "手机" and set(leaf(chinese_shop.catalog, found[slot_names.SHOWN])) == {"手机"}
        _, events = run(tracker("只要小米的", intent="refine_search", slots={"language": "zh", **found}))
        kept = slot_values(events)
        assert (kept[slot_names.CATEGORY], kept[slot_names.BRAND]) == ("手机", "小米")
        assert set(leaf(chinese_shop.catalog, kept[slot_names.SHOWN])) == {"手机"}
