"""References to listed products ("the second one", "number 3", "the first two", "1 or 2", "last").

``positions`` turns the ``ordinal`` entity texts of a message into 1-based list positions;
``resolve`` maps them onto the product ids that were listed, and says plainly when a position was
not listed instead of guessing another product.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_NUMBERS = {
    "first": 1, "1st": 1, "one": 1, "top": 1, "second": 2, "2nd": 2, "two": 2, "third": 3, "3rd": 3,
    "three": 3, "fourth": 4, "4th": 4, "four": 4, "fifth": 5, "5th": 5, "five": 5, "sixth": 6,
    "6th": 6, "six": 6, "seventh": 7, "7th": 7, "seven": 7, "eighth": 8, "8th": 8, "eight": 8,
    "ninth": 9, "9th": 9, "nine": 9, "tenth": 10, "10th": 10, "ten": 10,
}
_TOKEN = re.compile(r"\d+(?:st|nd|rd|th)?|[a-z]+")


@dataclass(frozen=True)
class Resolved:
    """Product ids the message referred to, in the order named, and the positions that were not listed."""

    product_ids: list[str]
    missing: list[int]


def _number(token: str) -> int | None:
    if token in _NUMBERS:
        return _NUMBERS[token]
    digits = re.match(r"\d+", token)
    return int(digits.group(0)) if digits else None


def positions(mentions: Sequence[str], listed: int) -> list[int]:
    """1-based positions named by the ordinal mentions, in order, without repeats.

    ``listed`` is the length of the list referred to ("last" is that position). "first two" and
    "top 3" are ranges from the top, "last two" a range from the end, "second to last" one
    position; "both" means the first two; every other number names one position.
    """
    out: list[int] = []
    for mention in mentions:
        tokens = _TOKEN.findall(str(mention).lower())
        numbers = [(i, n) for i, t in enumerate(tokens) if (n := _number(t)) is not None]
        if len(numbers) > 1:                                   # "the second one": "one" is the noun
            numbers = [(i, n) for i, n in numbers if tokens[i] != "one"] or numbers[:1]
        if "both" in tokens:
            out += [1, 2]
        elif "last" in tokens:
            at = tokens.index("last")
            before = [n for i, n in numbers if i < at]
            after = [n for i, n in numbers if i > at]
            if after:                                           # "last two"
                out += list(range(max(1, listed - after[0] + 1), listed + 1))
            elif before:                                        # "second to last", "second last"
                out.append(listed - before[0] + 1)
            else:
                out.append(listed)
        elif tokens[:1] in (["first"], ["top"]) and len(numbers) == 2:  # "first two", "top 3"
            out += list(range(1, numbers[1][1] + 1))
        else:
            out += [n for _, n in numbers]
    return list(dict.fromkeys(p for p in out))


def resolve(mentions: Sequence[str], listed_ids: Sequence[str]) -> Resolved:
    """The listed product ids the mentions name; positions outside the list go to ``missing``."""
    found, missing = [], []
    for position in positions(mentions, len(listed_ids)):
        if 1 <= position <= len(listed_ids):
            found.append(listed_ids[position - 1])
        else:
            missing.append(position)
    return Resolved(list(dict.fromkeys(found)), missing)
