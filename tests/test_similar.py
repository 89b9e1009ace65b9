"""Similar products: the same kind of product first, then the rest, each with true reasons (issue 18).

Two small shops built by the real importer, ranked with test_search's bag-of-words encoder (shared
words = similar) and no collaborative model: one with categories, one without (its kinds are the product
types read from titles). In each, a product of another kind is described more like the source than
the products of its kind are, so text alone would list it first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from recommender.catalog.importer import import_catalog
from recommender.catalog.products import Catalog
from recommender.ranking.filters import Filters
from recommender.ranking.ranker import ProductSearch, SearchConfig, SearchOutcome
from recommender.ranking.similar import kind_count, leaf_path
from recommender.text.embeddings import ProductEmbeddings
from tests.test_search import WordEncoder

WITH_CATEGORIES = """\
id,title,brand,category,price
m1,Volume Mascara Black,Lashco,Makeup > Eyes > Mascara,9
m2,Lengthening Formula,Lashco,Makeup > Eyes > Mascara,8
m3,Waterproof Formula,Other,Makeup > Eyes > Mascara,7
r1,Black Volume Mascara Remover,Lashco,Makeup > Eyes > Makeup Remover,6
b1,Shea Body Butter,Other,Skin Care > Body > Butters,5
"""
WITHOUT_CATEGORIES = """\
id,title,price
s1,Red Running Shoes,50
s2,Trail Running Shoes,60
s3,Blue Running Shoes,55
c1,Red Running Shoes Cleaner Spray,8
w1,Leather Wallet,20
w2,Slim Wallet,15
w3,Travel Wallet,25
"""
HISTORIES = "u1 b1 m1\nu2 b1 m2\nu3 b1 r1\n"


@pytest.fixture
def shop(tmp_path: Path, write_file: Callable[[str, str], Path]) -> Callable[[str, str | None], ProductSearch]:
    """A ranker over a catalog imported from CSV text (and histories), without a collaborative model."""
    opened: list[Catalog] = []

    def build(products: str, histories: str | None = None) -> ProductSearch:
        db = tmp_path / f"shop{len(opened)}.db"
        import_catalog(write_file(f"{db.stem}.csv", products), db, progress=False,
                       interactions=write_file(f"{db.stem}.txt", histories) if histories else None)
        catalog = Catalog.open(db)
        opened.append(catalog)
        encoder = WordEncoder()
        embeddings = ProductEmbeddings.load_or_build(catalog, encoder, tmp_path / db.stem, progress=False)
        return ProductSearch(catalog, encoder, embeddings, SearchConfig(popular_reason_min=3))

    yield build
    for catalog in opened:
        catalog.close()


def ids(outcome: SearchOutcome) -> list[str]:
    return [r.product.id for r in outcome.results]


def test_same_category_first_then_the_rest_with_true_reasons(shop):
    search = shop(WITH_CATEGORIES, HISTORIES)
    text = search.embeddings.matrix @ search.embeddings.matrix[search.embeddings.index_of("m1")]
    cos = dict(zip(search.embeddings.ids, text))
    assert cos["r1"] > cos["m2"] > cos["m3"]                  # text alone would put the remover first
    out = search.similar("m1", n=4)
    assert ids(out) == ["m2", "m3", "r1", "b1"]
    by_id = {r.product.id: r.reasons for r in out.results}
    like = "described like Volume Mascara Black"                     # every cosine here is >= 0.5
    assert by_id["m2"] == (like, "also from Lashco", "also in Mascara")
    assert by_id["m3"] == (like, "also in Mascara")
    assert by_id["r1"] == (like, "also from Lashco")
    assert by_id["b1"] == ("popular: 3 shoppers bought it",)        # cos 0.42: not described alike
    # a list shorter than the products of the kind is all of that kind; filters still hold
    assert ids(search.similar("m1", n=2)) == ["m2", "m3"]
    assert ids(search.similar("m1", n=3, filters=Filters(brand="Lashco"))) == ["m2", "r1"]
    assert search.similar("m1", filters=Filters(brand="Nobody")) == SearchOutcome([], "brand")


def test_a_shop_without_categories_or_histories_groups_by_product_type(shop):
    search = shop(WITHOUT_CATEGORIES)
    assert search.recommender is None and search.popularity() == {}
    source = search.catalog.get_product("s1")
    assert source.category == "running shoes" and leaf_path(source) == "shoes > running shoes"
    assert search.catalog.get_product("c1").category is None          # no type read from its title
    out = search.similar("s1", n=4)
    assert ids(out)[:2] in (["s2", "s3"], ["s3", "s2"]) and ids(out)[2] == "c1"
    assert [r.reasons for r in out.results[:3]] == [("described like Red Running Shoes", "also in running shoes")] * 2 \
        + [("described like Red Running Shoes",)]
    assert out.results[3].reasons == ()              # a wallet: nothing in common, and nothing is claimed
    # a product without a type: its kind is what is described like it (cos >= semantic_reason_min)
    untyped = search.similar("c1", n=3)
    assert set(ids(untyped)) == {"s1", "s2", "s3"}
    matrix, rows = search.embeddings.matrix, search.embeddings.index_of
    cos = [float(matrix[rows("c1")] @ matrix[rows(r.product.id)]) for r in untyped.results]
    assert ids(untyped)[0] == "s1" and cos == sorted(cos, reverse=True) and cos[0] >= 0.5   # red running shoes
    assert [r.reasons for r in untyped.results] == [("described like Red Running Shoes Cleaner Spray",) if c >= 0.5
                                                    else () for c in cos]
    wallets = search.similar("w1", n=3)
    assert set(ids(wallets)[:2]) == {"w2", "w3"}
    assert [r.reasons for r in wallets.results[:2]] == [("described like Leather Wallet", "also in wallet")] * 2


@pytest.mark.parametrize("n, share, expected", [(5, 0.8, 4), (10, 0.8, 8), (1, 0.8, 1), (0, 0.8, 0), (5, 0.0, 0),
                                                (5, 1.0, 5), (3, 0.5, 2)])
def test_kind_count(n, share, expected):
    assert kind_count(n, share) == expected
