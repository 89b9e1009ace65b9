"""One price vocabulary: how shoppers type prices ("under twenty dollars", "20€", "$10-$20") and how
prices are shown ("$20.50").

Three readers are built from these words, so that they agree on what a price phrase is:

- the NLU regex features (``nlu_regexes``: data/nlu/prices.yml, written by bot/nlu_lookups.py),
  which help DIET tag the amounts as ``price_min`` / ``price_max``;
- the actions' parsing of a tagged amount (actions/prices.py: currency marks and words are noise,
  number words are numbers);
- the ranker's query clean-up (``PRICE_PHRASE``, used by ranking/query.py): a price phrase sets a
  filter, so it is dropped from the text the encoder compares and the keyword search looks up.

``PRICE_PHRASE`` drops an amount with a currency (``$20``, ``20 euros``, ``twenty bucks``, ``20€``),
with its cue and range (``under``, ``for``, ``between 10 and 20 dollars``, ``$20 or less``), and a
bare number after a cue that gives the budget's side (``under 20``, ``max 50``): a bare number
without such a cue is kept ("spf 50", "2 pack", "24 hour").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["CURRENCY", "NUMBER_WORDS", "PRICE_PHRASE", "format_price", "nlu_regexes"]

CURRENCY_SYMBOLS = "$€£"
CURRENCY_WORDS = ("usd", "dollar", "dollars", "buck", "bucks", "euro", "euros", "quid")
NUMBER_WORDS = {word: n for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
NUMBER_WORDS |= {word: 10 * n for n, word in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
NUMBER_WORDS |= {"hundred": 100, "thousand": 1000}
# Cues before an amount that give the budget's side, and the words after one ("$20 or less").
MAX_CUES = ("under", "below", "beneath", "less than", "cheaper than", "lower than", "no more than",
            "not more than", "not over", "at most", "up to", "upto", "max", "maximum", "within", "budget is",
            "budget of", "spend")
MIN_CUES = ("over", "above", "more than", "greater than", "at least", "starting at", "starting from", "from",
            "min", "minimum", "upwards of", "no less than", "not less than", "between")
MAX_AFTER = ("or less", "or under", "or below", "or cheaper", "max", "tops", "at most")
MIN_AFTER = ("+", "or more", "and up", "and above", "or above", "plus")
HEDGES = ("like", "about", "around", "only")  # "under like 20": the cue still holds
LOOSE_CUES = ("around", "about", "for")  # before an amount with a currency: no side ("for 20 bucks")


def _words(items: Iterable[str]) -> str:
    """A regex alternation of literal words (each pattern that uses one ends it with a boundary)."""
    return "(?:" + "|".join(re.escape(w).replace("\\ ", " ") for w in items) + ")"


_SYMBOL = f"[{CURRENCY_SYMBOLS}]"
_DIGITS = r"\d+(?:[.,]\d+)?"
_WORD_NUMBER = rf"{_words(NUMBER_WORDS)}(?:[ -]{_words(NUMBER_WORDS)})*"  # "twenty-five", "two hundred"
_NUMBER = rf"(?:{_DIGITS}|{_WORD_NUMBER})"
_CURRENCY_WORD = rf"{_words(CURRENCY_WORDS)}\b"  # "dollars", not "dollarsign"
# A currency symbol or word: what a tagged amount loses before it is read as a number.
CURRENCY = rf"{_SYMBOL}|\b{_CURRENCY_WORD}"

_MONEY = rf"(?:{_SYMBOL}\s*{_DIGITS}|\b{_NUMBER}\s*(?:{_SYMBOL}|{_CURRENCY_WORD})(?!\w))"  # an amount with a currency
_AMOUNT = rf"(?:{_MONEY}|\b{_NUMBER}\b)"
_TO = r"\s*(?:-|\bto\b)\s*"
_HEDGE = rf"(?:{_words(HEDGES)}\s+)?"
PRICE_PHRASE = re.compile(
    rf"\bbetween\s+{_HEDGE}{_AMOUNT}\s+and\s+{_AMOUNT}"                          # between 10 and 20 dollars
    rf"|\b{_words(MAX_CUES + MIN_CUES)}\s+{_HEDGE}{_AMOUNT}(?:{_TO}{_AMOUNT})?"  # under twenty, from 10 to $20
    rf"|(?:\b{_words(LOOSE_CUES)}\s+)?(?:\b{_NUMBER}(?:{_TO}|\s+and\s+))?{_MONEY}"  # for 20 bucks, 10-20 dollars
    rf"(?:{_TO}{_AMOUNT}|\s+and\s+{_MONEY})?(?:\s*{_words(MAX_AFTER + MIN_AFTER)}(?!\w))?",  # $10-20, $20 or less
    re.I)


def nlu_regexes() -> dict[str, list[str]]:
    """The NLU's regex features (name -> patterns), as data/nlu/prices.yml lists them.

    ``money`` and ``number_word`` mark amounts; ``price_max_cue`` / ``price_min_cue`` mark an amount
    with its side: after a cue ("under $20"), as a range's second number ("10 to 20"), or before
    the words that follow one ("$20 or less", "30+").
    """
    amount = rf"(?:{_SYMBOL} ?)?{_NUMBER}\b"
    after = rf"{amount}\s*(?:{_CURRENCY_WORD})?"
    return {
        "money": [rf"{_SYMBOL}\d+(?:[.,]\d{{1,2}})?", r"\b\d+(?:\.\d{1,2})?\b"],
        "number_word": [rf"\b{_words(NUMBER_WORDS)}\b"],
        "price_max_cue": [rf"\b{_words(MAX_CUES)}\s+(?:{_words(HEDGES)} )?{amount}",
                          *(rf"(?<=\d {joiner} ){amount}" for joiner in ("to", "and", "-")),
                          rf"{after}\s+{_words(MAX_AFTER)}\b"],
        "price_min_cue": [rf"\b{_words(MIN_CUES)}\s+(?:{_words(HEDGES)} )?{amount}",
                          rf"{after}\s*{_words(MIN_AFTER)}"],
    }


def format_price(value: float) -> str:
    """Dollars as shown to shoppers: "$20", "$20.50", "$1,200"."""
    return f"${value:,.0f}" if float(value).is_integer() else f"${value:,.2f}"
