"""Prices as shops write them: "₹1,299", "€12,99", "1.299,00 €", "$1,050.00", "Dhs 1,050" -> amount and currency.

Reading only (the importer's side); prices are shown to shoppers by ``recommender.ranking.prices``.

Numbers: a space, a no-break space or an apostrophe always groups digits ("1 299,00", "1'299.50").
When both "." and "," appear, the last one is the decimal mark ("1.299,00", "1,050.00"). A single
"." or "," followed by exactly three digits groups thousands ("1,299" and "1.299" are 1299; "0.125"
is a decimal); otherwise it is the decimal mark ("12,99" is 12.99). Indian grouping ("1,29,999")
is read too. A trailing ",-" or ".-" means no cents ("12,-").

Currencies: symbols and words ("₹", "Rs", "€", "euro", "£", "Dhs", "AED", ...) and any ISO 4217
code Babel knows. A sign shared by several currencies ("$", "kr", "¥") names all of them, most
common first, so "$5" fits a catalog in CAD as well as one in USD.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from babel.numbers import is_currency

DEFAULT_CURRENCY = "USD"  # a catalog whose prices name no currency, imported without --currency

_DOLLARS = ("USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "TWD")  # "$" names any of them, USD first
_RUPEES = ("INR", "PKR", "LKR", "NPR")
_SIGNS: dict[str, tuple[str, ...]] = {  # casefolded sign or word -> the codes it can name, most common first
    "$": _DOLLARS, "dollar": _DOLLARS, "dollars": _DOLLARS, "us$": ("USD",), "c$": ("CAD",), "ca$": ("CAD",),
    "a$": ("AUD",), "au$": ("AUD",), "nz$": ("NZD",), "s$": ("SGD",), "hk$": ("HKD",), "r$": ("BRL",),
    "€": ("EUR",), "euro": ("EUR",), "euros": ("EUR",),
    "£": ("GBP",), "pound": ("GBP",), "pounds": ("GBP",),
    "₹": ("INR",), "rs": _RUPEES, "rs.": _RUPEES, "₨": _RUPEES, "rupee": _RUPEES, "rupees": _RUPEES,
    "dhs": ("AED",), "dh": ("AED", "MAD"), "dirham": ("AED", "MAD"), "dirhams": ("AED", "MAD"), "د.إ": ("AED",),
    "¥": ("JPY", "CNY"), "円": ("JPY",), "元": ("CNY",), "₩": ("KRW",), "₽": ("RUB",), "₺": ("TRY",),
    "₪": ("ILS",), "₱": ("PHP",), "₫": ("VND",), "฿": ("THB",), "zł": ("PLN",), "kč": ("CZK",),
    "ft": ("HUF",),
    "kr": ("SEK", "NOK", "DKK", "ISK"), "kr.": ("DKK", "SEK", "NOK", "ISK"), "fr.": ("CHF",),
    "rm": ("MYR",), "rp": ("IDR",), "sr": ("SAR",), "r": ("ZAR",), "₦": ("NGN",), "ksh": ("KES",),
}
_SEPARATORS = ".,'’ \u00a0\u202f\u2009"
_PRICE = re.compile(r"^(?P<before>[^\d]*?)(?P<number>\d(?:[\d" + _SEPARATORS + r"]*\d)?)(?P<after>[^\d]*)$")
_NO_CENTS = re.compile(r"^[.,][-–]")  # "12,-" and "12.–"
_GROUPS = {" ", "'", "’", "\u00a0", "\u202f", "\u2009"}


@dataclass(frozen=True)
class Price:
    """A price read from text: the amount and the currencies the text names (() for a bare number)."""

    amount: float
    currencies: tuple[str, ...] = ()


def currency_code(code: str) -> str:
    """``code`` as an upper-case ISO 4217 code Babel knows; raises ValueError naming an example."""
    upper = code.strip().upper()
    if len(upper) != 3 or not upper.isascii() or not upper.isalpha() or not is_currency(upper):
        raise ValueError(f"{code!r} is not an ISO 4217 currency code (for example USD, EUR, GBP, INR, AED)")
    return upper


def read_amount(value: Any, field: str = "price") -> float:
    """A non-negative number, or text of one written with any grouping and decimal marks (module docs).

    Raises:
        ValueError: ``"<field> '<text>' is not a number"`` or ``"... is negative"``.
    """
    if isinstance(value, bool):
        raise ValueError(f"{field} {value!r} is not a number")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"{field} {value!r} is not a number")
        if value < 0:
            raise ValueError(f"{field} {value!r} is negative")
        return float(value)
    text = str(value).strip()
    negative = text[:1] in ("-", "−")
    digits = text[1:].strip() if negative else text
    if not re.fullmatch(r"\d(?:[\d" + _SEPARATORS + r"]*\d)?|\d*[.,]\d+", digits):
        raise ValueError(f"{field} {text!r} is not a number")
    number = _number(digits)
    if number is None or not math.isfinite(number):
        raise ValueError(f"{field} {text!r} is not a number")
    if negative and number != 0:
        raise ValueError(f"{field} {text!r} is negative")
    return number


def read_price(value: Any, field: str = "price") -> Price:
    """The amount and named currencies of a price cell ("₹1,299", "1.299,00 €", 12.5, "AED 1,050").

    Raises:
        ValueError: not a number, negative, or words around the number that name no currency
            (``"price 'about 5' is not a number"``).
    """
    if isinstance(value, (bool, int, float)):
        return Price(read_amount(value, field))
    text = unicodedata.normalize("NFKC", str(value)).strip()  # full-width signs and digits: "￥２９９" is "¥299"
    match = _PRICE.match("0" + text if re.match(r"[.,]\d", text) else text)
    if match is None:
        raise ValueError(f"{field} {text!r} is not a number")
    before, after = match["before"].strip(), match["after"].strip()
    if _NO_CENTS.match(after):
        after = after[2:].strip()
    negative = before.endswith(("-", "−")) or before.startswith(("-", "−"))
    sign = " ".join(s for s in (before.strip("-− "), after) if s)
    number = _number(match["number"])
    if number is None:
        raise ValueError(f"{field} {text!r} is not a number")
    if negative and number != 0:
        raise ValueError(f"{field} {text!r} is negative")
    if not sign:
        return Price(number)
    currencies = currencies_named(sign)
    if not currencies:
        raise ValueError(f"{field} {text!r} is not a number")
    return Price(number, currencies)


def currencies_named(sign: str) -> tuple[str, ...]:
    """The ISO codes a currency sign, word or code names, most common first; () for none."""
    folded = " ".join(sign.casefold().split())
    if folded in _SIGNS:
        return _SIGNS[folded]
    try:
        return (currency_code(folded),)
    except ValueError:
        return ()


def _number(digits: str) -> float | None:
    """The value of digits with separators, or None when the grouping is not a real one ("1,2,3")."""
    marks = [(i, c) for i, c in enumerate(digits) if not c.isdigit()]
    decimal = None
    dots_commas = [(i, c) for i, c in marks if c in ".,"]
    if dots_commas:
        last_at, last = dots_commas[-1]
        tail = digits[last_at + 1:]
        others = [c for _, c in dots_commas[:-1]]
        if others and all(c != last for c in others):  # "1.299,00": the last kind is the decimal mark
            decimal = last_at
        elif not others and not (len(tail) == 3 and digits[:last_at].strip("".join(_GROUPS)) not in ("0", "")):
            decimal = last_at  # one mark not followed by a thousands group: "12,99", "0.125"
    whole, cents = (digits[:decimal], digits[decimal + 1:]) if decimal is not None else (digits, "")
    groups = re.split("[" + re.escape(_SEPARATORS) + "]", whole) if whole else [""]
    if len(groups) > 1 and (not 1 <= len(groups[0]) <= 3 or len(groups[-1]) != 3
                            or any(len(g) not in (2, 3) for g in groups[1:-1])):
        return None
    if not cents.isdigit() and cents:
        return None
    return float(f"{''.join(groups) or '0'}.{cents or '0'}")


@dataclass
class CatalogCurrency:
    """The one currency of a catalog: given (``--currency``), else set by the first price naming one.

    ``check`` turns a price in another currency into a row error that says where the catalog's
    currency came from.
    """

    code: str | None = None
    decided_on: int | None = None  # the line whose price set ``code``; None when given

    def check(self, currencies: tuple[str, ...], text: Any, line: int, field: str = "price") -> None:
        """Accept a price read on ``line`` that names ``currencies`` or raise ValueError; the first
        price naming a currency decides when none was given."""
        if not currencies:
            return
        if self.code is None:
            self.code, self.decided_on = currencies[0], line
        elif self.code not in currencies:
            where = "set by --currency" if self.decided_on is None else f"from line {self.decided_on}"
            raise ValueError(f"{field} {str(text).strip()!r} is in {currencies[0]}, but this catalog's prices "
                             f"are in {self.code} ({where})")
