"""The catalog's brand and category names, to turn an entity value into a filter the catalog knows."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

FUZZY_CUTOFF = 0.85  # difflib ratio: "maybeline" -> "Maybelline", "mascaras" -> "Mascara"


@dataclass(frozen=True)
class Vocabulary:
    """Lowercase name -> the catalog's spelling, for brands and for every category path level."""

    brands: dict[str, str]
    categories: dict[str, str]

    @classmethod
    def from_catalog(cls, catalog) -> Vocabulary:
        """Read every brand and category level of a ``recommender.catalog.products.Catalog``."""
        brands: dict[str, str] = {}
        for brand, _ in catalog.brands():  # most products first: "TIGI" wins over "Tigi"
            brands.setdefault(brand.lower(), brand)
        categories: dict[str, str] = {}
        for product in catalog.iter_products():
            for level in (*product.category_path, product.category or ""):
                if level:
                    categories.setdefault(level.lower(), level)
        return cls(brands, categories)

    def brand(self, value: str | None) -> str | None:
        """The catalog brand this value names, or None when it names none."""
        return _resolve(value, self.brands)

    def category(self, value: str | None) -> str | None:
        """The catalog category (any path level) this value names, or None."""
        return _resolve(value, self.categories)


def _resolve(value: str | None, names: dict[str, str]) -> str | None:
    if not value or not str(value).strip():
        return None
    key = " ".join(str(value).lower().split())
    if key in names:
        return names[key]
    close = difflib.get_close_matches(key, list(names), n=1, cutoff=FUZZY_CUTOFF)
    return names[close[0]] if close else None
