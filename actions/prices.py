"""Prices as shoppers type them: "$20", "20 bucks", "20.50", "1,200", "twenty", "twenty-five dollars"."""

from __future__ import annotations

import re

_UNITS = {word: n for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {word: 10 * n for n, word in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_SCALES = {"hundred": 100, "thousand": 1000}
_FILLER = {"a", "an", "and"}
# Currency marks and words around the number; "ish"/"~" make it approximate, which is fine for a filter.
_NOISE = re.compile(r"[$€£~]|\b(?:usd|dollars?|bucks?|euros?|quid)\b|(?<=\d)\s*ish\b")
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
        if word in _UNITS and last not in ("unit", "teen"):
            kind, current = ("unit" if _UNITS[word] < 10 else "teen"), current + _UNITS[word]
        elif word in _TENS and last not in ("unit", "teen", "tens"):
            kind, current = "tens", current + _TENS[word]
        elif word in _SCALES and last != "scale":
            kind, current = "scale", max(current, 1) * _SCALES[word]
            if _SCALES[word] == 1000:
                total, current = total + current, 0
        else:
            return None  # not a number word, or "one fifty", "twenty thirty"
        last = kind
    return float(total + current) if last else None
