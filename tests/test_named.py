"""Categories and brands a shopper names in plain words (recommender/ranking/kinds.py and the ranker's
``w_named`` part): found in the text, listed first, never refused by the relevance floor, on a shop other
than the demo's (tests/fixtures/catalogs/electronics_eur.csv, read by the real MiniLM encoder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender import PRESETS, Filters, ProductSearch
from recommender.catalog.importer import import_catalog
from recommender.catalog.naming import common_word_brands
from recommender.catalog.products import Catalog
from recommender.catalog.types import other_number
from recommender.ranking.kinds import Names
from recommender.text.embeddings import ProductEmbeddings
from recommender.text.encoder import TextEncoder

ELECTRONICS = Path(__file__).parent / "fixtures" / "catalogs" / "electronics_eur.csv"


def test_a_category_is_named_by_its_words_in_either_number_and_the_longest_name_wins() -> None:
    names = Names(["Nails", "Nail Art", "Lip Balm", "Bath & Body", "Other", "Men's"], {"洗发水": "Shampoos"},
                  plural=True)
    assert names.named_in("any NAIL ART for my nails?") == {"Nail Art": ["NAIL ART"], "Nails": ["nails"]}
    assert names.named_in("lip balms under $5") == {"Lip Balm": ["lip balms"]}
    assert names.named_in("bath and body gifts, bath & body") == {"Bath & Body": ["bath and body", "bath & body"]}
    assert names.named_in("我想买洗发水") == {"Shampoos": ["洗发水"]}                # an alias in Han script: anywhere
    assert names.named_in("something other than that") == {}                     # a vague name names nothing
    assert names.named_in("women's perfume") == {}                               # whole words only
    assert Names(["Apple"]).named_in("apples") == {}                             # a brand has no plural
    assert other_number("brushes") == "brush" and other_number("lip balm") == "lip balms"
    assert other_number("洗发水") == "洗发水"


@pytest.fixture(scope="module")
def electronics(tmp_path_factory) -> ProductSearch:
    folder = tmp_path_factory.mktemp("electronics")
    import_catalog(ELECTRONICS, folder / "catalog.db", progress=False, mapping=PRESETS["default"].with_columns(
        id="sku").with_facets({"colour": "colour", "screen size": "screen_size"}))
    catalog, encoder = Catalog.open(folder / "catalog.db"), TextEncoder()
    embeddings = ProductEmbeddings.load_or_build(catalog, encoder, folder / "cache", progress=False)
    yield ProductSearch(catalog, encoder, embeddings)
    catalog.close()


def test_every_category_named_alone_lists_its_own_products_first(electronics: ProductSearch) -> None:
    # Before the named part: "accessories", "computers", "household" and "home & kitchen" listed others first.
    for name in electronics.catalog.category_names():
        inside = set(electronics.catalog.filter_ids(category=name))
        first = min(3, len(inside))
        for query in (name.lower(), other_number(name.lower())):
            listed = [r.product.id for r in electronics.search(query, n=first).results]
            assert len(listed) == first and set(listed) <= inside, query


def test_every_brand_named_alone_is_listed_not_refused(electronics: ProductSearch) -> None:
    # Before: "Google", "Belkin", "Nothing" and "Vogel's" were refused or listed after other brands.
    for brand, count in electronics.catalog.brands():
        listed = electronics.search(brand, n=min(count, 3)).results
        assert listed and all(r.product.brand == brand and f"from {brand}" in r.reasons for r in listed), brand


def test_naming_the_shops_words_does_not_open_the_floor_to_what_it_does_not_sell(electronics: ProductSearch) -> None:
    for query in ("mascara", "running shoes", "dog food"):
        assert electronics.search(query).no_match, query
    # "laptop" is a kind this shop sells, not from the brand asked: drop the brand, do not refuse
    assert electronics.search("laptops", Filters(brand="Dyson")).relax == "brand"
    # the reasons say which named category and brand each product is in
    first = electronics.search("sony headphones", n=1).results[0]
    assert first.product.brand == "Sony" and "Headphones" in first.product.category_path
    assert {"in Headphones", "from Sony"} <= set(first.reasons)


def test_only_a_query_made_of_names_that_meet_is_ranked_by_them(electronics: ProductSearch) -> None:
    def named(query: str) -> set[str]:
        return {reason for r in electronics.search(query, n=3).results for reason in r.reasons
                if reason.startswith(("in ", "from "))}

    assert named("headphones") == {"in Headphones"} and named("sony headphones") >= {"in Headphones", "from Sony"}
    assert named("wireless headphones") == set()          # "wireless" names nothing: meaning and keywords rank
    assert named("laptops speakers") == set()             # no product is in both: neither is taken
    # more titles of other brands say "Google" ("Sony BRAVIA ... Google TV") than Google has products: a common
    # word of this shop, taken for the brand only when named alone (the actions' vocabulary applies the same rule)
    catalog = electronics.catalog
    assert common_word_brands(catalog, [brand for brand, _ in catalog.brands()]) == {"Google"}
    assert named("google") == {"from Google"} and named("google speakers") == set()
