"""The shop's categories and brands a query names: "show me eye creams" names Eyes and Creams.

A category (a leaf or any level of a path: ``Catalog.category_names``) is named by its name as whole
words, any case, "&" or "and" alike, its last word singular or plural ("cream" for Creams, "lip balms"
for Lip Balm); a brand worth naming (``naming.worth_naming``) by its name, "&" or "and" alike. Where two
overlap the longer wins ("nail art" over "nails"). The shop's aliases ("洗发水" for Shampoos, "欧莱雅"
for L'Oreal Paris: ``shopbot catalog build --category-aliases``, ``--brand-aliases``) name theirs too,
and a name in Han script is found anywhere (Chinese writes no spaces: ``query.phrase_pattern``). A name
made of stop words only ("Other", "All") names nothing. For a query made of such names only, the ranker
gives the products of a named category or brand a part of their score (``SearchConfig.w_named``), and a
product it names passes the relevance floor: a shopper who names what the shop has finds it first even
when nothing made it a filter (the ranker's module docstring says when a name is not taken).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from recommender.catalog.types import other_number
from recommender.ranking.query import STOPWORDS, phrase_pattern

__all__ = ["Names"]

_VAGUE = frozenset({"other", "others", "misc", "miscellaneous", "general", "none", "na", "n/a"})


def forms(name: str, plural: bool) -> list[str]:
    """The lowercase phrases that name ``name`` in a shopper's text (with its last word's other number when
    ``plural``); none for a vague name."""
    base = " ".join(name.lower().split())
    words = re.findall(r"\w+", base)
    if not words or all(w in STOPWORDS or w in _VAGUE for w in words):
        return []
    spelled = list(dict.fromkeys([base, " ".join(base.replace("&", " and ").split())]))
    return list(dict.fromkeys([*spelled, *(other_number(form) for form in spelled if plural)]))


class Names:
    """A catalog's category or brand names found in shoppers' text (module docstring)."""

    def __init__(self, names: Iterable[str], aliases: Mapping[str, str] | None = None, *,
                 plural: bool = False) -> None:
        """``names``: the catalog's names; ``aliases``: the shop's alias -> name; ``plural``: a name's last
        word also names it in its other number (categories)."""
        self._names: dict[str, str] = {}  # lowercase form -> name
        for name in names:
            for form in forms(name, plural):
                self._names.setdefault(form, name)
        for alias, name in (aliases or {}).items():
            self._names.setdefault(" ".join(alias.lower().split()), name)
        self._pattern = phrase_pattern(self._names)

    def named_in(self, text: str) -> dict[str, list[str]]:
        """The names ``text`` names, in the order it names them, each with the phrases that name it."""
        found: dict[str, list[str]] = {}
        for match in self._pattern.finditer(text) if self._pattern is not None else ():
            found.setdefault(self._names[" ".join(match.group().lower().split())], []).append(match.group())
        return found
