"""The catalog's facet values as shoppers name them: "black jeans for women" -> colour black, gender women.

A value is named by itself as whole words, any case ("Black", "navy blue"), or by a simple singular or
plural of a one-word value ("woman" for "women", "kid" for "kids"); the longest value wins where two
overlap ("navy blue" over "blue"). A value that says little alone (a number, one letter, only stop
words: "9", "m", "yes") is named only after its facet's name ("size 9", "size m"). When one value
belongs to several facets, the facet with more products of that value takes it. The same forms are
what the ranker drops from the query text once the value is a filter (``forms``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from recommender.catalog.formats import normalise_facet
from recommender.ranking.query import STOPWORDS, phrase_pattern

__all__ = ["FacetVocabulary"]

_VAGUE = frozenset({"yes", "no", "true", "false", "none", "other", "na", "n/a"})


def _variants(value: str) -> list[str]:
    """A one-word value's simple singular or plural ("women" <-> "woman", "kids" <-> "kid", "black" -> "blacks")."""
    if " " in value or not value.isalpha() or len(value) < 3:
        return []
    if value.endswith("men"):
        return [value[:-3] + "man"]
    if value.endswith("man"):
        return [value[:-3] + "men"]
    if value.endswith("s"):
        return [] if value.endswith("ss") else [value[:-1]]
    return [value + "s"]


def _vague(value: str) -> bool:
    """True for a value that is no name by itself: a number, one character, stop words only."""
    words = re.findall(r"\w+", value)
    return len(value) < 2 or not any(ch.isalpha() for ch in value) or all(w in STOPWORDS or w in _VAGUE for w in words)


class FacetVocabulary:
    """Facet values found in shoppers' text (module docstring)."""

    def __init__(self, facets: Mapping[str, Sequence[tuple[str, int]]]) -> None:
        """``facets``: facet name -> (value, product count), as ``Catalog.facets()`` gives them."""
        self._names: dict[str, list[tuple[int, str, str]]] = {}  # form -> (-count, name, value), most products first
        for name, values in facets.items():
            name = normalise_facet(name)
            for value, count in values:
                value = normalise_facet(value)
                for form in self.forms(name, value):
                    self._names.setdefault(form, []).append((-count, name, value))
        for candidates in self._names.values():
            candidates.sort()
        self._pattern = phrase_pattern(self._names)

    @staticmethod
    def forms(name: str, value: str) -> list[str]:
        """The words that name ``value`` of facet ``name`` in a shopper's text (lowercase)."""
        name, value = normalise_facet(name), normalise_facet(value)
        if not value:
            return []
        if _vague(value):
            return [f"{name} {value}"] if name else []
        return [value, *_variants(value)]

    def named_in(self, text: str) -> dict[str, str]:
        """Facet name -> value for each facet value ``text`` names (the first one named, per facet)."""
        found: dict[str, str] = {}
        if self._pattern is None:
            return found
        for match in self._pattern.finditer(normalise_facet(text)):
            _, name, value = self._names[match.group()][0]
            found.setdefault(name, value)
        return found
