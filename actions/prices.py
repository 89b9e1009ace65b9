"""Prices as shoppers type them: "$20", "20 bucks", "20.50", "1,200", "twenty", "twenty-five dollars".

The currency and number words are the recommender's price vocabulary (recommender/ranking/prices.py),
which the NLU regexes and the ranker's query clean-up share.
"""

from __future__ import annotations

import re

from recommender import CURRENCY, NUMBER_WORDS

_FILLER = {"a", "an", "and"}
# Currency marks and words around the number (the shared price vocabulary); "ish"/"~" make it
# approximate, which is fine for a filter.
_NOISE = re.compile(rf"{CURRENCY}|~|(?<=\d)\s*ish\b")
_NUMBER = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?$")


def parse_price(value: object) -> float | None:
    """The amount in a price entity value, or None when it holds no single amount.

    >>> [parse_price(v) for v in ("$20", "20 bucks", "20.50", "twenty", "1,200", "10-30")]
    [20.0, 20.0, 20.5, 20.0, 1200.0, None]
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
