"""Similar products: first the same kind of product as the source, then its complements (issue 18).

What a shopper means by "something like this one" is first a product of the same kind: one in the
source's leaf category, or, when the source has none (a catalog without categories whose title gave
no product type), one described alike (text cosine >= ``SearchConfig.semantic_reason_min``). The
leaf is matched with its parent level ("Eyes > Mascara", "shoes > running shoes": the category paths
of a catalog without a category column are the product types read from titles, ``catalog.types``),
so products below it count too and a leaf name repeated under another parent does not.

Every candidate gets the blend::

    score = w_sem * max(cos(text), 0) + similar_w_bought * exp(cf - max cf) + w_pop * popularity

where ``cf`` is the collaborative model's score after a session of the source alone (what shoppers
go on to buy with it; 0 without a model or histories). The list is two tiers, each through the
diversity step: the ``ceil(similar_kind_share * n)`` best products of the same kind, then the best
of every other candidate (complements: mostly what is bought with it). Results carry the blend's
score, so a complement may score above a product of the same kind listed before it.

Reasons (``reasons`` module): the blend's parts that are true, largest contribution first ("described
like <p>" when cos >= ``semantic_reason_min``; "often bought together with <p> (N shoppers)" when N
reaches the model's minimum; "popular: N shoppers bought it"), then the facts that made it the
same kind ("also from <brand>", "also in <category>").
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from recommender.catalog.products import PATH_SEP, Catalog, Product

__all__ = ["in_two_tiers", "kind_count", "kind_mask", "leaf_path"]

# (scores, embedding rows, k) -> the k best as (candidate index, product), best first: ProductSearch._ranked
Ranked = Callable[[np.ndarray, np.ndarray, int], list[tuple[int, Product]]]


def leaf_path(product: Product) -> str | None:
    """The source's leaf category with its parent level ("Eyes > Mascara"), the leaf alone at the top
    level, None without a category."""
    if not product.category:
        return None
    path = product.category_path
    if len(path) >= 2 and path[-1] == product.category:
        return PATH_SEP.join(path[-2:])
    return product.category


def kind_mask(catalog: Catalog, catalog_rows: np.ndarray, source: Product, rows: np.ndarray,
              text: np.ndarray, text_min: float) -> np.ndarray:
    """(len(rows),) bool: the candidates of the same kind as ``source`` (module docstring).

    Args:
        catalog_rows: each catalog product's embedding row (-1: no vector), in ``product_ids()`` order.
        rows: the candidates' embedding rows (ascending); ``text``: their cosines with the source.
    """
    path = leaf_path(source)
    if path is None:
        return text >= text_min
    same = catalog_rows[catalog.filter_mask(category=path)]
    return np.isin(rows, same[same >= 0])


def kind_count(n: int, share: float) -> int:
    """How many of a list of ``n`` are products of the same kind (when there are that many)."""
    return min(n, math.ceil(share * n)) if n > 0 else 0


def in_two_tiers(ranked: Ranked, scores: np.ndarray, rows: np.ndarray, same: np.ndarray, first: int,
                 n: int) -> list[tuple[int, Product]]:
    """The ``first`` best candidates of the same kind (``same``: bool over the candidates), then the
    best ``n`` - that of all the others, as (candidate index, product)."""
    kind = np.flatnonzero(same)
    picked = [(int(kind[i]), product) for i, product in ranked(scores[kind], rows[kind], first)]
    rest = np.ones(len(rows), dtype=bool)
    rest[[i for i, _ in picked]] = False
    rest = np.flatnonzero(rest)
    return picked + [(int(rest[i]), product) for i, product in ranked(scores[rest], rows[rest], n - len(picked))]
