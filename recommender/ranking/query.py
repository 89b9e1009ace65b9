"""Query parsing: the user's text made into what the encoder compares and the keyword search looks up.

The query is user text: it is normalised, cut to ``max_chars``, and price phrases ("under $10",
"under twenty dollars": ``prices.PRICE_PHRASE``; "10美元以下": ``prices.zh_prices``) are dropped (prices
belong to the filters), as are
the phrases the caller names in ``drop`` (facet values and aliases that became filters: "black", "women",
"洗发水"), and so
are the stop words it starts and ends with ("show me shampoo please" -> "shampoo": what the encoder
compares and the reasons quote); stop words are left out of the keyword query. A Latin word of
two letters or more written inside Chinese is a word of its own ("我想买mascara": "我想买", "mascara"; not
"T恤"); Chinese is not split
further, so a few whole Chinese fillers are stop words. A query without
content words (empty, punctuation only, "show me something") has no semantic or keyword part, so
the products are ranked by the personal score and popularity within the filters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

from recommender.i18n.detect import HAN
from recommender.ranking.prices import AMBIGUOUS_WORDS, CURRENCY_WORDS, PRICE_PHRASE, zh_prices

__all__ = ["STOPWORDS", "Query", "parse_query", "phrase_pattern"]

_WORD = re.compile(r"\w+", re.UNICODE)
# Words that carry no product meaning: kept out of the keyword query and of "matches" reasons; the
# currency words among them ("jeans in rupees"), except those that mean something else away from an
# amount ("10 pound dumbbells", "rs").
STOPWORDS = frozenset("""
a about above all also am an and any anything are as at be below best buy by can carry cheap cheaper could do
does find for from get give good great have i im in is it item items its just less like looking me more
most my need nice of on one only or over please price product products recommend sell sells show some something stuff
than that the thing things this to under up us want was we what which with would you your
""".split()) | (set(CURRENCY_WORDS) - set(AMBIGUOUS_WORDS)) | frozenset(
    "我想买 我要买 想买 我想要 我要 我想找 帮我找 有没有 有没有卖 给我看看 看看 请问 推荐 推荐一下 的 吗 呢 吧".split())
# Chinese filler inside a run of Han characters (no spaces to find it by): a request's opening words and a
# measure word after them ("我想买一件羽绒服" -> "羽绒服"), the particles it ends with ("有没有被子呢" -> "被子"),
# and 的 between words ("红色的连衣裙" -> "红色 连衣裙").
_ZH_OPENING = re.compile(
    r"^(?:请问|麻烦)?(?:(?:我|帮我|给我)?(?:想|要|想要|需要)?(?:买|找|搜|看看|看一下|推荐一下|推荐|求推荐)|"
    r"我想要|我要|有没有卖|有没有|有卖)(?:一(?:款|个|件|双|条|台|套|瓶|支|只|把|张|本|盒|包|些|下))?")
_ZH_CLOSING = re.compile(r"(?:的|吗|呢|吧|啊|呀)+$")
_ZH_JOINER = re.compile(rf"(?<={HAN.pattern})的(?={HAN.pattern})")
_LATIN_RUN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]+")  # a Latin word of 2 or more inside Chinese: "我想买mascara"


@dataclass(frozen=True)
class Query:
    """A parsed query."""

    text: str  # cleaned and truncated user text ("" when it has no words)
    terms: tuple[str, ...]  # lowercased content words, query order, distinct
    positions: dict[str, int]  # term -> word position in the query (for phrases)
    spelled: dict[str, str]  # term -> the word as the user typed it ("opi" -> "OPI")


def parse_query(query: str | None, max_chars: int, drop: Collection[str] = ()) -> Query:
    """The query's text without price phrases, the phrases of ``drop`` (whole words, any case) and
    filler, and its content words."""
    text = PRICE_PHRASE.sub(" ", _clean(query or "", max_chars))
    for price in reversed(zh_prices(text)):  # and the 的 that joins it to the product: "100元以下的洗发水"
        text = f"{text[:price.start]} {text[price.end:].removeprefix('的')}"
    if HAN.search(text):
        text = _LATIN_RUN.sub(lambda word: f" {word.group()} ", text)
        text = " ".join(_ZH_CLOSING.sub("", _ZH_OPENING.sub("", _ZH_JOINER.sub(" ", run))) for run in text.split())
    if pattern := phrase_pattern(drop):
        text = pattern.sub(" ", text)
    text = _trim_filler(" ".join(text.split()))
    words = _WORD.findall(text)
    positions: dict[str, int] = {}
    spelled: dict[str, str] = {}
    for pos, word in enumerate(words):
        term = word.lower()
        if term not in STOPWORDS and (len(term) > 1 or term.isdigit()) and term not in positions:
            positions[term], spelled[term] = pos, word
    return Query(text, tuple(positions), positions, spelled)


def phrase_pattern(phrases: Collection[str]) -> re.Pattern[str] | None:
    """A case-insensitive pattern finding any of ``phrases`` as whole words, the longest first (a space
    in a phrase matches any run of spaces), a phrase in Han script anywhere (Chinese writes no spaces);
    None when there is no phrase."""
    unique = sorted({" ".join(p.split()) for p in phrases} - {""}, key=lambda p: (-len(p), p))
    if not unique:
        return None
    han: list[str] = []
    words: list[str] = []
    for phrase in unique:
        (han if HAN.search(phrase) else words).append(re.escape(phrase).replace("\\ ", r"\s+"))
    return re.compile("|".join([*han, *([r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)"] if words else [])]), re.I)


def _trim_filler(text: str) -> str:
    """The text from its first to its last content word: "show me shampoo please" -> "shampoo";
    "" when every word is a stop word or there is no word."""
    content = [m for m in _WORD.finditer(text) if m.group().lower() not in STOPWORDS]
    return text[content[0].start():content[-1].end()] if content else ""


def _clean(text: str, max_chars: int) -> str:
    """User text made safe to embed: NFKC, no control characters, one-line, cut at a word boundary."""
    text = unicodedata.normalize("NFKC", str(text))
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    if len(text) > max_chars:
        cut = text[:max_chars]
        text = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return text
