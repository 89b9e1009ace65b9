"""Prices as shoppers type them: "$20", "20 bucks", "20.50", "1,200", "1,00,000", "twenty", "twenty-five
dollars", and the currency they name.

The currency and number words are the recommender's price vocabulary (recommender/ranking/prices.py),
which the NLU regexes and the ranker's query clean-up share. An amount is in the catalog's currency
unless the shopper names another one; then it is no filter (``other_currency``) and the shopper is
told the shop's currency by its English name (``currency_words``, from Babel's data).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from babel.numbers import get_currency_name, get_currency_symbol

from recommender import CURRENCY, NUMBER_WORDS, currency_in

_FILLER = {"a", "an", "and"}
# Currency marks and words around the number (the shared price vocabulary); "ish"/"~" make it
# approximate, which is fine for a filter.
_NOISE = re.compile(rf"{CURRENCY}|~|(?<=\d)\s*ish\b")
# digits, grouped by thousands ("1,200") or the Indian way ("1,00,000"), and decimals
_NUMBER = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d{1,2}(?:,\d{2})+,\d{3}|\d+)?(?:\.\d+)?$")


def parse_price(value: object) -> float | None:
    """The amount in a price entity value, or None when it holds no single amount.

    >>> [parse_price(v) for v in ("$20", "20 bucks", "20.50", "twenty", "1,200", "1,00,000", "10-30")]
    [20.0, 20.0, 20.5, 20.0, 1200.0, 100000.0, None]
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    text = _NOISE.sub(" ", str(value).lower()).replace("-", " ").strip()
    text = re.sub(r"(?<=\d),(?=\d{1,2}$)", ".", text)  # "12,50" -> "12.50" (a decimal comma)
    words = text.split()
    if len(words) == 1 and _NUMBER.match(words[0]) and any(ch.isdigit() for ch in words[0]):
        return float(words[0].replace(",", ""))
    return _number_words(words)


def _number_words(words: list[str]) -> float | None:
    """ "twenty five" -> 25, "a hundred and fifty" -> 150; None unless the words make one number."""
    total, current, last = 0, 0, None  # last: the kind of the previous number word
    for word in words:
        if word in _FILLER:
            continue
        value = NUMBER_WORDS.get(word)
        kind = None if value is None else "unit" if value < 10 else "teen" if value < 20 else \
            "tens" if value < 100 else "scale"
        if kind in ("unit", "teen") and last not in ("unit", "teen"):
            current += value
        elif kind == "tens" and last not in ("unit", "teen", "tens"):
            current += value
        elif kind == "scale" and last != "scale":
            current = max(current, 1) * value
            if value == 1000:
                total, current = total + current, 0
        else:
            return None  # not a number word, or "one fifty", "twenty thirty"
        last = kind
    return float(total + current) if last else None


def other_currency(texts: Iterable[str], currency: str) -> str | None:
    """The currency the first of ``texts`` that names one names, when it is not ``currency`` (the
    catalog's ISO code); None when they name the catalog's currency or none ("1500" is the catalog's).

    >>> other_currency(["20 dollars"], "EUR"), other_currency(["20", "under 20 euros"], "EUR")
    ('USD', None)
    """
    named = next((code for code in map(currency_in, texts) if code), None)
    return named if named is not None and named != currency else None


def currency_words(code: str) -> tuple[str, str]:
    """The currency's plural English name and its symbol: ("euros", "€"), ("UAE dirhams", "AED")."""
    return get_currency_name(code, count=2, locale="en"), get_currency_symbol(code, locale="en")
