"""The catalog's own names, to turn what a shopper said into filters the catalog knows.

Entity values resolve to the catalog's spelling (``brand``, ``category``: exact, then close). When
the NLU tagged nothing, a message can still name a brand or a product type: ``brand_in`` and
``category_in`` find the longest catalog name said in whole words (the last one on a tie: the head
of "short dress" is "dress"), case-insensitively and, for types, singular or plural alike (by the
singular keys the derived types are grouped by). Only the brands worth naming (``worth_naming``: 3
products or more, or one of the catalog's 100 biggest) are looked up so, and only product types
derived from the titles (a catalog imported without categories: meta ``category_source`` =
"derived"); a name made of refinement words only ("only", "new", ...) never is. A new search looks a
brand up only by a name that is not a common word of the shop's titles (``brand_in(text, common=False)``):
a one-word brand found in more titles of other brands than it has products ("Clear" in "clear nail
polish") names itself only in a refinement ("only Clear"). The shop's aliases
(``shopbot catalog build --brand-aliases``, ``--category-aliases``: "欧莱雅" for L'Oreal Paris, "洗发水"
for Shampoos) name their brand or category the same way, and so do the categories of a catalog written
in Chinese; Chinese writes no spaces, so a name in Han script is found anywhere in the text where a
word may end (the longest: "蓝牙耳机" names 耳机, "手机壳" does not name 手机). ``facets_named``
reads which facets a lifting phrase names ("any colour", "any size", "for anyone"). Built once per
process (actions/services.py).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

from recommender import AUDIENCE_FACETS, singular_key
from recommender.catalog.naming import WORD, common_word_brands, worth_naming
from recommender.i18n.detect import HAN

FUZZY_CUTOFF = 0.85  # difflib ratio: "maybeline" -> "Maybelline", "mascaras" -> "Mascara"
# Words refinements are made of: a catalog name made of these only is not looked up in a message
# ("only", a fashion brand, is not a brand in "only Puma").
_FILLER = frozenset("""
a all an and any anything are as at best but by cheap cheaper do for from get give good i in is it just like
look looking me more my new no not of on one only or other please show some something than that the these
this those to too want what with you
""".split())
# The first character of what may follow a noun in a Chinese request (particles, verbs, questions):
# "手机有吗", "口红推荐", "面霜哪个好", "洗发水，100元以下".
_AFTER_NOUN = frozenset("的吗呢吧啊呀了么嘛哦有和或与跟及还也都要在是推哪多怎什给便贵价好买就可能不没太很最送等来请一两几"
                        "从进加放删撤拿换去移比被")
_ANYONE = frozenset({"anyone", "anybody", "everyone", "everybody", "unisex"})

Phrases = dict[tuple[str, ...], str]


@dataclass(frozen=True)
class Vocabulary:
    """The catalog's names: lowercase name -> its spelling for brands and every category path level;
    the word sequences a message may name brands and derived types by; the words of facet names."""

    brands: dict[str, str]
    categories: dict[str, str]
    brand_phrases: Phrases = field(default_factory=dict)  # lowercase words -> brand worth naming
    type_phrases: Phrases = field(default_factory=dict)  # singular lowercase words -> derived category
    facet_words: dict[str, frozenset[str]] = field(default_factory=dict)  # word key -> facet names it names
    han_brands: dict[str, str] = field(default_factory=dict)  # a brand or its alias in Han script -> the brand
    han_categories: dict[str, str] = field(default_factory=dict)  # a category alias in Han script -> its category
    common_brands: frozenset[str] = frozenset()  # brands named by a word the titles of other brands use more

    @classmethod
    def from_catalog(cls, catalog) -> Vocabulary:
        """Read the names of a ``recommender.catalog.products.Catalog``."""
        brands: dict[str, str] = {}
        brand_phrases: Phrases = {}
        named_in_han: dict[str, str] = {}  # brands written in Han script: found anywhere in a message ("只要小米的")
        for rank, (brand, count) in enumerate(catalog.brands()):  # most products first: "TIGI" wins over "Tigi"
            brands.setdefault(brand.lower(), brand)
            if worth_naming(rank, count):
                _add_phrase(brand_phrases, brand, _words(brand))
                if HAN.search(brand):
                    named_in_han.setdefault(brand, brand)
        shop = catalog.shop()
        han_brands = {**named_in_han, **_add_aliases(shop.brand_aliases, brands, brand_phrases, _words)}
        categories: dict[str, str] = {}
        type_phrases: Phrases = {}
        han_categories = _add_aliases(shop.category_aliases, categories, type_phrases,
                                      lambda text: _words(text, singular_key))
        derived = catalog.meta().get("category_source") == "derived"  # ("shoes", "running shoes"): both levels
        for level in catalog.category_names():
            if level.lower() not in categories:
                categories[level.lower()] = level
                if derived:
                    _add_phrase(type_phrases, level, _words(level, singular_key))
                if HAN.search(level):                                 # a catalog written in Chinese: "手机"
                    han_categories.setdefault(level, level)
        facet_words: dict[str, set[str]] = {}
        for name in catalog.facets():
            keys = {_facet_key(w) for w in _words(name)} - _FILLER
            if name in AUDIENCE_FACETS:
                keys |= _ANYONE
            for key in keys:
                facet_words.setdefault(key, set()).add(name)
        common = common_word_brands(catalog, dict.fromkeys(brand_phrases.values()))
        return cls(brands, categories, brand_phrases, type_phrases,
                   {key: frozenset(names) for key, names in facet_words.items()}, han_brands, han_categories, common)

    def brand(self, value: str | None) -> str | None:
        """The catalog brand this value names, or None when it names none."""
        return _resolve(value, self.brands)

    def category(self, value: str | None) -> str | None:
        """The catalog category (any path level) this value names, or None."""
        return _resolve(value, self.categories)

    def brand_in(self, text: str, *, common: bool = True) -> str | None:
        """The catalog brand (one worth naming) a message names in whole words, or in Han script (the
        brand or its alias) anywhere in it (the longest); ``common=False``: not a brand named by a common
        word of the titles."""
        phrases = self.brand_phrases if common or not self.common_brands else \
            {words: brand for words, brand in self.brand_phrases.items() if brand not in self.common_brands}
        return _named_in(_words(text), phrases) or _han_named(text, self.han_brands)

    def category_in(self, text: str) -> str | None:
        """The derived product type or category alias a message names in whole words, singular or
        plural, or the category a Han name or alias names where a noun ends in it (the longest)."""
        return (_named_in(_words(text, singular_key), self.type_phrases)
                or _han_named(text, self.han_categories, heads=True))

    def facets_named(self, phrase: str) -> frozenset[str]:
        """The catalog facet names a lifting phrase names: "any color" -> {"colour"}, "for anyone" -> {"gender"}."""
        return frozenset().union(*(self.facet_words.get(_facet_key(w), ()) for w in _words(phrase)))


def _add_aliases(aliases: dict[str, str], names: dict[str, str], phrases: Phrases,
                 words: Callable[[str], tuple[str, ...]]) -> dict[str, str]:
    """Add a shop's aliases (alias -> catalog name) to ``names`` and, written in words, to ``phrases``;
    return those in Han script (found anywhere in a text, as Chinese writes no spaces)."""
    han: dict[str, str] = {}
    for alias, name in aliases.items():
        names.setdefault(alias.lower(), name)
        if HAN.search(alias):
            han[alias] = name
        else:
            _add_phrase(phrases, name, words(alias))
    return han


def _han_named(text: str, aliases: dict[str, str], heads: bool = False) -> str | None:
    """The name of the longest Han alias found anywhere in ``text`` (``heads``: where a noun ends,
    as a product type is said), or None."""
    said = _ends_word if heads else str.__contains__
    found = [alias for alias in aliases if said(text, alias)] if aliases and HAN.search(text) else []
    return aliases[max(found, key=len)] if found else None


def _ends_word(text: str, alias: str) -> bool:
    """Whether ``alias`` is in ``text`` where a Chinese noun ends: Chinese puts the head last, so "手机"
    is said in "智能手机" and "手机有吗", not in "手机壳" (a phone case)."""
    start = text.find(alias)
    while start >= 0:
        after = text[start + len(alias):start + len(alias) + 1]
        if not after or not HAN.match(after) or after in _AFTER_NOUN:
            return True
        start = text.find(alias, start + 1)
    return False


def _words(text: str, key: Callable[[str], str] = str) -> tuple[str, ...]:
    return tuple(key(w) for w in WORD.findall(text.casefold()))


def _add_phrase(phrases: Phrases, name: str, words: tuple[str, ...]) -> None:
    """Add a name's words, unless they are refinement words only or a single letter."""
    if words and not set(words) <= _FILLER and len("".join(words)) > 1:
        phrases.setdefault(words, name)


def _named_in(words: tuple[str, ...], phrases: Phrases) -> str | None:
    """The name of the longest phrase found in ``words`` (the last one on a tie), or None."""
    longest = max(map(len, phrases), default=0)
    for n in range(min(longest, len(words)), 0, -1):
        for start in range(len(words) - n, -1, -1):
            name = phrases.get(words[start:start + n])
            if name:
                return name
    return None


def _facet_key(word: str) -> str:
    """One key for a facet name's spellings: "Colors", "colour" -> "colour"."""
    return singular_key(word.casefold().replace("color", "colour"))


def _resolve(value: str | None, names: dict[str, str]) -> str | None:
    if not value or not str(value).strip():
        return None
    key = " ".join(str(value).lower().split())
    if key in names:
        return names[key]
    close = difflib.get_close_matches(key, list(names), n=1, cutoff=FUZZY_CUTOFF)
    return names[close[0]] if close else None
