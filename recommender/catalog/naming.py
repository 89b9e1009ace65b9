"""Which of a catalog's brands are looked for by name in what shoppers type: the NLU lookups
(bot/nlu_lookups.py) and the actions' vocabulary (actions/vocabulary.py) apply the same rule.

A brand of one or two products in a big catalog is almost never asked for, and its name (often an
everyday word) would make the brand lookup huge and noisy: the shopper's words still reach semantic
search, which finds its products. A small shop's brands, though, have one or two products each, and
each of them is a brand its shoppers name: so the catalog's biggest brands count whatever their size.
"""

from __future__ import annotations

MIN_PRODUCTS = 3  # a brand with at least this many products is worth naming,
TOP = 100  # and so is each of the catalog's this many biggest brands


def worth_naming(rank: int, products: int) -> bool:
    """Whether a brand is looked for by name; ``rank`` is 0 for the brand with most products."""
    return products >= MIN_PRODUCTS or rank < TOP
