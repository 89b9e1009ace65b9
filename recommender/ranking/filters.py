"""Hard filters of a search, and the order in which a filter is offered for dropping."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace

from recommender.catalog.formats import normalise_facet
from recommender.i18n.messages import translate
from recommender.ranking.prices import format_price

__all__ = ["AUDIENCE_FACETS", "RELAX_ORDER", "Facet", "Filters", "facet_phrase"]

# When no product passes the filters, the first of these whose removal gives results is named:
# stock first (everything that matches is out of stock), then price, the named facets (colour, size...),
# the product type last.
RELAX_ORDER = ("in_stock", "price_max", "price_min", "facets", "brand", "category")
# Facets that say who a product is for: described "for women", not "women".
AUDIENCE_FACETS = frozenset({"gender", "sex", "audience", "age group", "department"})

Facets = tuple[tuple[str, str], ...]


def _facet_pairs(facets: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> Facets:
    """(name, value) pairs, normalised, without empty ones, sorted (one value per name: the last given)."""
    items = facets.items() if isinstance(facets, Mapping) else facets or ()
    pairs = {normalise_facet(name): normalise_facet(value) for name, value in items}
    return tuple(sorted((name, value) for name, value in pairs.items() if name and value))


@dataclass(frozen=True)
class Filters:
    """Hard filters: every result satisfies every filter that is set (None or no facets = not set).

    ``facets``: (name, value) pairs, e.g. (("colour", "black"), ("gender", "women")); a dict is
    accepted too. A product passes when it has every pair. ``in_stock``: only products not marked out
    of stock (``Product.in_stock``).
    """

    category: str | None = None
    brand: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    facets: Facets = ()
    in_stock: bool = False

    def __post_init__(self) -> None:
        for name in ("category", "brand"):
            value = getattr(self, name)
            object.__setattr__(self, name, value.strip() or None if isinstance(value, str) else value)
        for name in ("price_min", "price_max"):
            value = getattr(self, name)
            if value is not None:
                value = float(value)
                object.__setattr__(self, name, None if math.isnan(value) else value)
        object.__setattr__(self, "facets", _facet_pairs(self.facets))
        object.__setattr__(self, "in_stock", bool(self.in_stock))

    def is_empty(self) -> bool:
        """True when no filter is set."""
        return not any(self.is_set(f.name) for f in fields(self))

    def is_set(self, name: str) -> bool:
        """True when the filter ``name`` (a field, "facets" for all of them) is set."""
        return bool(getattr(self, name)) if name in ("facets", "in_stock") else getattr(self, name) is not None

    def words(self) -> frozenset[str]:
        """The lowercased words of the brand, category and facet values that are set ("L'Oreal Paris" ->
        l, oreal, paris): a query made only of these names nothing beyond the filters."""
        names = [self.brand or "", self.category or "", *(value for _, value in self.facets)]
        return frozenset("".join(ch if ch.isalnum() else " " for ch in " ".join(names).lower()).split())

    def describe(self, currency: str = "USD", language: str | None = None) -> list[str]:
        """Phrases for the filters that are set, prices in ``currency``, in ``language`` (None: English;
        names and facet values as the catalog has them), e.g. ["in Jeans", "from Puma", "black", "for
        women", "under ₹1,500"]."""
        out = []
        if self.category:
            out.append(translate("in {category}", language).format(category=self.category))
        if self.brand:
            out.append(translate("from {brand}", language).format(brand=self.brand))
        out += [facet_phrase(name, value, language) for name, value in self.facets]
        lo, hi = self.price_min, self.price_max
        if lo is not None and hi is not None:
            out.append(translate("between {low} and {high}", language).format(
                low=format_price(lo, currency, language), high=format_price(hi, currency, language)))
        elif hi is not None:
            out.append(translate("under {price}", language).format(price=format_price(hi, currency, language)))
        elif lo is not None:
            out.append(translate("over {price}", language).format(price=format_price(lo, currency, language)))
        return out

    def as_kwargs(self) -> dict[str, str | float | Facets | None]:
        """The filters as keyword arguments of ``Catalog.filter_mask`` (and ``filter_ids``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def without(self, name: str) -> Filters:
        """A copy with one filter removed ("facets": all of them)."""
        return replace(self, **{name: {"facets": (), "in_stock": False}.get(name)})

    def without_facet(self, name: str) -> Filters:
        """A copy without the facet ``name`` ("colour")."""
        name = normalise_facet(name)
        return replace(self, facets=tuple(pair for pair in self.facets if pair[0] != name))


def facet_phrase(name: str, value: str, language: str | None = None) -> str:
    """How a facet filter reads (in ``language``): "black"; "for women" for a facet that names who it is for."""
    return translate("for {audience}", language).format(audience=value) \
        if name in AUDIENCE_FACETS and value != "unisex" else value


@dataclass(frozen=True)
class Facet:
    """A facet filter as a value of a ``Text``: said as ``facet_phrase`` says it in each language."""

    name: str
    value: str

    def said(self, language: str | None) -> str:
        return facet_phrase(self.name, self.value, language)
