"""Query parsing: the user's text made into what the encoder compares and the keyword search looks up.

The query is user text: it is normalised, cut to ``max_chars``, and price phrases ("under $10",
"under twenty dollars": ``prices.PRICE_PHRASE``) are dropped (prices belong to the filters), and so
are the stop words it starts and ends with ("show me shampoo please" -> "shampoo": what the encoder
compares and the reasons quote); stop words are left out of the keyword query. A query without
content words (empty, punctuation only, "show me something") has no semantic or keyword part, so
the products are ranked by the personal score and popularity within the filters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from recommender.ranking.prices import PRICE_PHRASE

__all__ = ["STOPWORDS", "Query", "parse_query"]

_WORD = re.compile(r"\w+", re.UNICODE)
# Words that carry no product meaning: kept out of the keyword query and of "matches" reasons.
STOPWORDS = frozenset("""
a about above all also am an and any anything are as at be below best buy by can cheap cheaper could do
does dollar dollars find for from get give good great have i im in is it its less like looking me more
most my need nice of on one or over please price recommend show some something than that the this to
under up us want was we what which with would you your
""".split())


@dataclass(frozen=True)
class Query:
    """A parsed query."""

    text: str  # cleaned and truncated user text ("" when it has no words)
    terms: tuple[str, ...]  # lowercased content words, query order, distinct
    positions: dict[str, int]  # term -> word position in the query (for phrases)
    spelled: dict[str, str]  # term -> the word as the user typed it ("opi" -> "OPI")


def parse_query(query: str | None, max_chars: int) -> Query:
    """The query's text without price phrases and filler, and its content words."""
    text = _trim_filler(" ".join(PRICE_PHRASE.sub(" ", _clean(query or "", max_chars)).split()))
    words = _WORD.findall(text)
    positions: dict[str, int] = {}
    spelled: dict[str, str] = {}
    for pos, word in enumerate(words):
        term = word.lower()
        if term not in STOPWORDS and (len(term) > 1 or term.isdigit()) and term not in positions:
            positions[term], spelled[term] = pos, word
    return Query(text, tuple(positions), positions, spelled)


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
