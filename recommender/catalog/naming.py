"""Which of a catalog's brands are looked for by name in what shoppers type: the NLU lookups
(bot/nlu_lookups.py) and the actions' vocabulary (actions/vocabulary.py) apply the same rule.

A brand of one or two products in a big catalog is almost never asked for, and its name (often an
everyday word) would make the brand lookup huge and noisy: the shopper's words still reach semantic
search, which finds its products. A small shop's brands, though, have one or two products each, and
each of them is a brand its shoppers name: so the catalog's biggest brands count whatever their size.

A brand named by one word that more products of other brands have in their titles than it has products
("Clear", the shampoo, among "clear nail polish" and "Clean & Clear") is a common word of the shop
(``common_word_brands``): the actions take it for the brand only in a refinement ("only Clear"), the ranker
only when the query is that name alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from recommender.i18n.detect import HAN

if TYPE_CHECKING:
    from recommender.catalog.products import Catalog

MIN_PRODUCTS = 3  # a brand with at least this many products is worth naming,
TOP = 100  # and so is each of the catalog's this many biggest brands
WORD = re.compile(rf"{HAN.pattern}+|(?:(?!{HAN.pattern})\w)+")  # a run of Han script, or of other letters and digits


def worth_naming(rank: int, products: int) -> bool:
    """Whether a brand is looked for by name; ``rank`` is 0 for the brand with most products."""
    return products >= MIN_PRODUCTS or rank < TOP


def common_word_brands(catalog: Catalog, brands: Iterable[str]) -> frozenset[str]:
    """Those of ``brands`` named by one word that more products of other brands have in their titles than the
    brand has products (one pass over the catalog)."""
    one_word: dict[str, str] = {}
    for brand in brands:
        words = WORD.findall(brand.casefold())
        if len(words) == 1:
            one_word.setdefault(words[0], brand)
    in_other_titles = dict.fromkeys(one_word.values(), 0)
    for product in catalog.iter_products():
        for word in set(WORD.findall((product.title or "").casefold())) & one_word.keys():
            if (product.brand or "").casefold() != one_word[word].casefold():
                in_other_titles[one_word[word]] += 1
    own = dict(catalog.brands())
    return frozenset(brand for brand, others in in_other_titles.items() if others > own.get(brand, 0))
