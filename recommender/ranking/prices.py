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

Chinese has no spaces between words, so its price phrases ("100元以下", "不超过50块", "50到100元之间",
"五十元左右", "10美元以下") are read by ``zh_prices`` from the Chinese words below (the NLU tags them
as the same price entities: bot/chinese_entities.py); ``zh_number`` reads Chinese numerals.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from babel.numbers import format_currency, get_currency_symbol, list_currencies

from recommender.i18n.messages import LOCALES, SOURCE_LANGUAGE, reply_locale

__all__ = ["Amount", "CURRENCIES", "CURRENCY", "CURRENCY_WORDS", "NUMBER_WORDS", "PRICE_PHRASE", "ZH_CURRENCIES",
           "ZhPrice", "currency_in", "format_price", "nlu_regexes", "zh_number", "zh_prices"]

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


# Chinese: the currency words written after the amount (块 and 刀 are also "piece" and "knife": they
# count only in a price phrase), and the cues before and after an amount that give the budget's side.
ZH_CURRENCIES = {
    "CNY": ("人民币", "块钱", "元", "块", "rmb"),
    "USD": ("美元", "美金", "刀"),
    "EUR": ("欧元",),
    "GBP": ("英镑",),
    "INR": ("卢比",),
    "AED": ("迪拉姆",),
}
ZH_WEAK_WORDS = ("块", "刀")
ZH_MAX_BEFORE = ("不要超过", "别超过", "不超过", "不高于", "不大于", "低于", "少于", "小于", "不到", "最多", "顶多",
                 "最高", "控制在", "预算")
ZH_MIN_BEFORE = ("不低于", "不少于", "超过", "高于", "多于", "大于", "至少", "最少", "最低")
ZH_MAX_AFTER = ("以下", "以内", "之内", "之下", "封顶", "左右", "上下", "内")  # "about 50" is a budget, as in English
ZH_MIN_AFTER = ("以上", "之上", "起")
ZH_RANGE = ("到", "至", "-", "~", "～", "—")  # "50到100元(之间)"
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_ZH_CURRENCY_WORD = {word: code for code, words in ZH_CURRENCIES.items() for word in words}


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
_ZH_MENTION = re.compile("|".join(  # a Latin word ("rmb") whole, not inside "Farmbrook"; Chinese ones anywhere
    rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])" if w.isascii() else re.escape(w)
    for w in sorted(_ZH_CURRENCY_WORD, key=len, reverse=True) if w not in ZH_WEAK_WORDS), re.I)
_TYPED_CODE = re.compile(r"(?<![^\W\d_])([A-Z]{3})\s?(?=\d)|(?<=\d)\s?([A-Z]{3})\b")  # "CHF 50", "50CHF"


def currency_in(text: str) -> str | None:
    """The ISO 4217 code of the currency a shopper's text writes, None when it writes none.

    "$", "dollars", "bucks" -> USD; "€", "euros" -> EUR; "£", "quid" -> GBP; "₹", "rupees" -> INR;
    "dirhams" -> AED; their ISO codes in any case, and any other ISO code typed in capitals next to an
    amount ("CHF 50"). "pound(s)", "rs" and "dhs" count only in a price phrase ("under 20 pounds",
    "rs 500"), not in "10 pound dumbbells". The first currency of a price phrase wins, then the first
    mention anywhere.

    Chinese currency words count the same way ("100元以下", "10美元以下"; "块" and "刀" only in a price).

    >>> [currency_in(t) for t in ("under 1500 rupees", "jeans under ₹1500", "a 55 inch tv", "50 CHF max",
    ...                           "100元以下", "一块肥皂", "十美元以下", "Farmbrook soap", "预算300 RMB")]
    ['INR', 'INR', None, 'CHF', 'CNY', None, 'USD', None, 'CNY']
    """
    text = unicodedata.normalize("NFKC", str(text))  # "₨" -> "Rs", "＄" -> "$", "￥" -> "¥"
    for phrase in PRICE_PHRASE.finditer(text):
        if mention := _MENTION.search(phrase.group()):
            return _CODE_OF[mention.group().lower()]
    for price in zh_prices(text):
        if price.currency:
            return price.currency
    for mention in _MENTION.finditer(text):
        if mention.group().lower() not in AMBIGUOUS_WORDS:
            return _CODE_OF[mention.group().lower()]
    if mention := _ZH_MENTION.search(text):
        return _ZH_CURRENCY_WORD[mention.group().lower()]
    for typed in _TYPED_CODE.finditer(text):
        if (code := typed.group(1) or typed.group(2)) in _iso_codes():
            return code
    return None


@lru_cache(maxsize=1)
def _iso_codes() -> frozenset[str]:
    return frozenset(list_currencies())


def zh_number(text: str) -> float | None:
    """A number in digits or Chinese numerals, None when ``text`` is neither.

    >>> [zh_number(t) for t in ("50", "五十", "两百", "一千五", "三百五", "一百零五", "十五", "1.5万", "2千")]
    [50.0, 50.0, 200.0, 1500.0, 350.0, 105.0, 15.0, 15000.0, 2000.0]
    """
    text = text.strip()
    if digits := re.fullmatch(r"(\d+(?:\.\d+)?)\s*([十百千万]?)", text):
        return float(digits.group(1)) * _ZH_UNITS.get(digits.group(2), 1)
    if not text or any(c not in _ZH_DIGITS and c not in _ZH_UNITS for c in text):
        return None
    total, section, digit, last_unit, zero = 0, 0, None, 1, False
    for c in text:
        if c in _ZH_DIGITS:
            zero = zero or _ZH_DIGITS[c] == 0
            digit = _ZH_DIGITS[c]
        elif _ZH_UNITS[c] == 10000:
            total, section, digit, last_unit = (total + section + (digit or 0)) * 10000, 0, None, 10000
        else:
            section += (1 if digit is None else digit) * _ZH_UNITS[c]
            digit, last_unit, zero = None, _ZH_UNITS[c], False
    if digit is not None:  # "一千五" is 1500: a last digit after 百 or more counts in the unit below
        section += digit * (last_unit // 10 if last_unit >= 100 and not zero else 1)
    return float(total + section)


@dataclass(frozen=True)
class ZhPrice:
    """A price phrase of a Chinese text: its side ("price_max" / "price_min"), amount and span (with
    its cues: "不超过50块", "100元以下"; a range's low end up to the high one: "50到")."""

    entity: str
    amount: float
    currency: str | None  # ISO 4217 code of the currency written with the amount, None when none
    start: int
    end: int


def _cue(text: str, cues: Iterable[str], *, before: bool) -> str:
    """The longest cue that ends ``text`` (before=True) or starts it (a few spaces aside), "" if none."""
    text = text.rstrip() if before else text.lstrip()
    return max((c for c in cues if (text.endswith(c) if before else text.startswith(c))), key=len, default="")


_ZH_AMOUNT = re.compile(
    rf"(?:(?P<symbol>[{CURRENCY_SYMBOLS}¥])\s*)?(?P<number>\d+(?:\.\d+)?\s*[十百千万]?|[零〇一二两三四五六七八九十百千万]+)"
    rf"\s*(?P<word>{'|'.join(sorted(map(re.escape, _ZH_CURRENCY_WORD), key=len, reverse=True))})?", re.I)


def _after(text: str, end: int, cue: str) -> int:
    """Where a phrase ends: after ``cue`` when the text goes on with it (spaces aside), else at ``end``."""
    return text.index(cue, end) + len(cue) if cue else end


def _symbol_code(symbol: str | None) -> str | None:
    """The currency of a symbol before a Chinese amount: "¥" is the yuan there."""
    return "CNY" if symbol == "¥" else _CODE_OF.get(symbol) if symbol else None


def zh_prices(text: str) -> list[ZhPrice]:
    """The price phrases of a Chinese text, in order: an amount with a cue that gives its side
    ("100元以下", "不超过50块", "五十元左右", "300以上"), a range as its two ends ("50到100元之间"), or an
    amount with an unambiguous currency word ("100元的"): a budget. A bare number without a cue is no
    price ("2个", "第二", "iPhone 15"), nor a number right after a letter ("SPF50以上").

    >>> [(p.entity, p.amount, p.currency) for p in zh_prices("50到100元之间的耳机，不要超过10美元的也行")]
    [('price_min', 50.0, 'CNY'), ('price_max', 100.0, 'CNY'), ('price_max', 10.0, 'USD')]
    """
    found: list[ZhPrice] = []
    # an amount right after a letter is a model or a spec ("SPF50以上", "iPhone15"), after 第/前/后 a position
    amounts = [m for m in _ZH_AMOUNT.finditer(text) if not re.search(r"[A-Za-z第前后]$", text[:m.start()])]
    i = 0
    while i < len(amounts):
        amount, after = amounts[i], text[amounts[i].end():]
        value = zh_number(amount.group("number"))
        word = (amount.group("word") or "").lower()
        currency = _ZH_CURRENCY_WORD.get(word) or _symbol_code(amount.group("symbol"))
        nxt = amounts[i + 1] if i + 1 < len(amounts) else None
        if nxt and value is not None and text[amount.end():nxt.start()].strip() in ZH_RANGE:
            high = zh_number(nxt.group("number"))
            end_word = (nxt.group("word") or "").lower()
            currency = currency or _ZH_CURRENCY_WORD.get(end_word)
            if high is not None:
                between = _cue(text[nxt.end():], ("之间", "以内", "左右"), before=False)
                found += [ZhPrice("price_min", value, currency, amount.start(), nxt.start()),
                          ZhPrice("price_max", high, currency, nxt.start(), _after(text, nxt.end(), between))]
                i += 2
                continue
        i += 1
        if value is None:
            continue
        before_cue = _cue(text[:amount.start()], ZH_MAX_BEFORE + ZH_MIN_BEFORE, before=True)
        after_cue = _cue(after, ZH_MAX_AFTER + ZH_MIN_AFTER, before=False)
        if before_cue or after_cue:
            side = "price_min" if (before_cue or after_cue) in ZH_MIN_BEFORE + ZH_MIN_AFTER else "price_max"
            start = text.rindex(before_cue, 0, amount.start()) if before_cue else amount.start()
            found.append(ZhPrice(side, value, currency, start, _after(text, amount.end(), after_cue)))
        elif word and word not in ZH_WEAK_WORDS or amount.group("symbol"):
            found.append(ZhPrice("price_max", value, currency, amount.start(), amount.end()))
    return found


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


def format_price(value: float, currency: str = "USD", language: str | None = None) -> str:
    """A price as shown to shoppers of ``language``. In English replies (None, or a language the replies are
    not written in): the currency's own symbol and English grouping, whole amounts without decimals: "$20",
    "$20.50", "₹1,299", "€12.99", "AED 1,050". In another language: its locale's standard form (Babel):
    "¥1,299.00" and "US$20.00" in Chinese, "1.299,00 €" in German."""
    currency = currency.upper()
    if (locale := reply_locale(language)) != LOCALES[SOURCE_LANGUAGE]:
        return format_currency(value, currency, locale=locale)
    whole = float(value).is_integer()
    space = " " if get_currency_symbol(currency, locale="en")[-1:].isalpha() else ""  # "AED 1,050"
    return format_currency(value, currency, format=f"¤{space}#,##0" + ("" if whole else ".00"), locale="en",
                           currency_digits=not whole)  # cents as the currency has them ("¥1,200")


@dataclass(frozen=True)
class Amount:
    """An amount of money as a value of a ``Text``: said as ``format_price`` says it in each language."""

    value: float
    currency: str

    def said(self, language: str | None) -> str:
        return format_price(self.value, self.currency, language)
