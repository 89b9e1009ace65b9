"""One price vocabulary: how shoppers type prices ("under twenty dollars", "20€", "$10-$20", "under
1500 rupees", "Rs. 1,299") and how prices are shown ("$20.50", "₹1,299", "AED 1,050").

Three readers are built from these words, so that they agree on what a price phrase is:

- the NLU regex features (``nlu_regexes``: data/nlu/prices.yml, written by bot/nlu_lookups.py),
  which help DIET tag the amounts as ``price_min`` / ``price_max``;
- the actions' parsing of a tagged amount (actions/prices.py: currency marks and words are noise,
  number words are numbers);
- the ranker's query clean-up (``PRICE_PHRASE``, used by ranking/query.py): a price phrase sets a
  filter, so it is dropped from the text the encoder compares and the keyword search looks up.

``PRICE_PHRASE`` drops an amount with a currency (``$20``, ``20 euros``, ``twenty bucks``, ``20€``,
``rs 500``), with its cue and range (``under``, ``for``, ``between 10 and 20 dollars``, ``$20 or
less``), and a bare number after a cue that gives the budget's side (``under 20``, ``max 50``): a bare
number without such a cue is kept ("spf 50", "2 pack", "24 hour", "55 inch"). "pound(s)" is a unit of
weight as often as money, so it counts as a currency only after a cue or before the words that end a
budget ("under 20 pounds", "for 20 pounds", "20 pounds or less"; not "10 pound dumbbells").

``currency_in`` names the currency a shopper's text writes (its ISO 4217 code), so that an amount
in another currency than the catalog's gets a clear answer instead of a wrong filter.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from babel.numbers import format_currency, get_currency_symbol, list_currencies

__all__ = ["CURRENCIES", "CURRENCY", "CURRENCY_WORDS", "NUMBER_WORDS", "PRICE_PHRASE", "currency_in",
           "format_price", "nlu_regexes"]

# ISO 4217 code -> how shoppers write it: its symbols and words (lowercase), the code among them.
CURRENCIES = {
    "USD": ("$", "usd", "dollar", "dollars", "buck", "bucks"),
    "EUR": ("€", "eur", "euro", "euros"),
    "GBP": ("£", "gbp", "pound", "pounds", "quid"),
    "INR": ("₹", "inr", "rs", "rupee", "rupees"),
    "AED": ("aed", "dhs", "dirham", "dirhams"),
}
CURRENCY_SYMBOLS = "".join(mark for marks in CURRENCIES.values() for mark in marks if not mark.isalpha())
CURRENCY_WORDS = tuple(mark for marks in CURRENCIES.values() for mark in marks if mark.isalpha())
WEAK_WORDS = ("pound", "pounds")  # units of weight too: money only with a cue ("under 20 pounds")
PREFIX_WORDS = ("usd", "eur", "gbp", "inr", "aed", "rs", "dhs")  # written before the amount: "rs. 500"
AMBIGUOUS_WORDS = (*WEAK_WORDS, "rs", "dhs")  # name a currency only inside a price phrase
_CODE_OF = {mark: code for code, marks in CURRENCIES.items() for mark in marks}

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
_DIGITS = r"\d+(?:[.,]\d+)*"  # "20", "12.50", "1,299", "1,00,000"
_WORD_NUMBER = rf"{_words(NUMBER_WORDS)}(?:[ -]{_words(NUMBER_WORDS)})*"  # "twenty-five", "two hundred"
_NUMBER = rf"(?:{_DIGITS}|{_WORD_NUMBER})"
_STRONG = tuple(w for w in CURRENCY_WORDS if w not in WEAK_WORDS)
_CURRENCY_WORD = rf"{_words(_STRONG)}\b"  # "dollars", not "dollarsign"
_PREFIX = rf"\b{_words(PREFIX_WORDS)}\b\.?"  # "rs", "Rs.", "AED"
# A currency symbol or word: what a tagged amount loses before it is read as a number.
CURRENCY = rf"{_SYMBOL}|{_PREFIX}|\b{_words(CURRENCY_WORDS)}\b"

_MONEY = (rf"(?:(?:{_SYMBOL}|{_PREFIX})\s*{_DIGITS}"                   # $20, rs. 1,299, AED 200
          rf"|\b{_NUMBER}\s*(?:{_SYMBOL}|{_CURRENCY_WORD})(?!\w))")   # 20€, 20 rupees
_WEAK_MONEY = rf"\b{_NUMBER}\s*{_words(WEAK_WORDS)}\b"
_AMOUNT = rf"(?:{_MONEY}|{_WEAK_MONEY}|\b{_NUMBER}\b)"
_TO = r"\s*(?:-|\bto\b)\s*"
_HEDGE = rf"(?:{_words(HEDGES)}\s+)?"
_AFTER = rf"\s*{_words(MAX_AFTER + MIN_AFTER)}(?!\w)"
PRICE_PHRASE = re.compile(
    rf"\bbetween\s+{_HEDGE}{_AMOUNT}\s+and\s+{_AMOUNT}"                          # between 10 and 20 dollars
    rf"|\b{_words(MAX_CUES + MIN_CUES)}\s+{_HEDGE}{_AMOUNT}(?:{_TO}{_AMOUNT})?"  # under twenty, from 10 to $20
    rf"|(?:\b{_words(LOOSE_CUES)}\s+)?(?:\b{_NUMBER}(?:{_TO}|\s+and\s+))?{_MONEY}"  # for 20 bucks, 10-20 dollars
    rf"(?:{_TO}{_AMOUNT}|\s+and\s+{_MONEY})?(?:{_AFTER})?"                      # $10-20, $20 or less
    rf"|\b{_words(LOOSE_CUES)}\s+{_WEAK_MONEY}(?:{_AFTER})?|{_WEAK_MONEY}{_AFTER}",  # for 20 pounds, 20 pounds max
    re.I)

_MENTION = re.compile(rf"{_SYMBOL}|\b{_words(CURRENCY_WORDS)}\b", re.I)
_TYPED_CODE = re.compile(r"(?<![^\W\d_])([A-Z]{3})\s?(?=\d)|(?<=\d)\s?([A-Z]{3})\b")  # "CHF 50", "50CHF"


def currency_in(text: str) -> str | None:
    """The ISO 4217 code of the currency a shopper's text writes, None when it writes none.

    "$", "dollars", "bucks" -> USD; "€", "euros" -> EUR; "£", "quid" -> GBP; "₹", "rupees" -> INR;
    "dirhams" -> AED; their ISO codes in any case, and any other ISO code typed in capitals next to an
    amount ("CHF 50"). "pound(s)", "rs" and "dhs" count only in a price phrase ("under 20 pounds",
    "rs 500"), not in "10 pound dumbbells". The first currency of a price phrase wins, then the first
    mention anywhere.

    >>> [currency_in(t) for t in ("under 1500 rupees", "jeans under ₹1500", "a 55 inch tv", "50 CHF max")]
    ['INR', 'INR', None, 'CHF']
    """
    text = unicodedata.normalize("NFKC", str(text))  # "₨" -> "Rs", "＄" -> "$"
    for phrase in PRICE_PHRASE.finditer(text):
        if mention := _MENTION.search(phrase.group()):
            return _CODE_OF[mention.group().lower()]
    for mention in _MENTION.finditer(text):
        if mention.group().lower() not in AMBIGUOUS_WORDS:
            return _CODE_OF[mention.group().lower()]
    for typed in _TYPED_CODE.finditer(text):
        if (code := typed.group(1) or typed.group(2)) in _iso_codes():
            return code
    return None


@lru_cache(maxsize=1)
def _iso_codes() -> frozenset[str]:
    return frozenset(list_currencies())


def nlu_regexes() -> dict[str, list[str]]:
    """The NLU's regex features (name -> patterns), as data/nlu/prices.yml lists them.

    ``money`` and ``number_word`` mark amounts; ``price_max_cue`` / ``price_min_cue`` mark an amount
    with its side: after a cue ("under $20"), as a range's second number ("10 to 20"), or before
    the words that follow one ("$20 or less", "30+").
    """
    amount = rf"(?:(?:{_SYMBOL}|{_PREFIX}) ?)?{_NUMBER}\b"
    after = rf"{amount}\s*(?:\b{_words(CURRENCY_WORDS)}\b)?"
    return {
        "money": [rf"(?:{_SYMBOL}|{_PREFIX}) ?\d+(?:[.,]\d{{1,2}})?", r"\b\d+(?:\.\d{1,2})?\b"],
        "number_word": [rf"\b{_words(NUMBER_WORDS)}\b"],
        "price_max_cue": [rf"\b{_words(MAX_CUES)}\s+(?:{_words(HEDGES)} )?{amount}",
                          *(rf"(?<=\d {joiner} ){amount}" for joiner in ("to", "and", "-")),
                          rf"{after}\s+{_words(MAX_AFTER)}\b"],
        "price_min_cue": [rf"\b{_words(MIN_CUES)}\s+(?:{_words(HEDGES)} )?{amount}",
                          rf"{after}\s*{_words(MIN_AFTER)}"],
    }


def format_price(value: float, currency: str = "USD") -> str:
    """A price as shown to shoppers, in the currency's own symbol and English grouping (Babel, locale
    "en"); whole amounts without decimals: "$20", "$20.50", "₹1,299", "€12.99", "AED 1,050"."""
    currency = currency.upper()
    whole = float(value).is_integer()
    space = " " if get_currency_symbol(currency, locale="en")[-1:].isalpha() else ""  # "AED 1,050"
    return format_currency(value, currency, format=f"¤{space}#,##0" + ("" if whole else ".00"), locale="en",
                           currency_digits=not whole)  # cents as the currency has them ("¥1,200")
