"""Reason texts of the query side of the ranker: true statements about what matched.

``filter_reasons`` names the product's own values for the filters that were given; ``matched_phrases``
quotes query words the keyword search matched, only in forms that really occur in the product text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recommender.catalog.products import Product
    from recommender.ranking.ranker import Filters

__all__ = ["filter_reasons", "matched_phrases", "format_price", "shorten", "join_quoted"]


def filter_reasons(p: Product, filters: Filters) -> list[str]:
    """One reason per filter that was given, naming the product's own field values."""
    out = []
    if filters.brand and p.brand:
        out.append(f"{p.brand}, as asked")
    if filters.category:
        levels = [c for c in (*p.category_path, p.category or "") if c]
        hit = next((c for c in levels if c.casefold() == filters.category.casefold()), p.category)
        if hit:
            out.append(f"in {hit}, as asked")
    price, lo, hi = p.price, filters.price_min, filters.price_max
    if price is not None and (lo is not None or hi is not None):
        if lo is not None and hi is not None and lo <= price <= hi:
            out.append(f"between {format_price(lo)} and {format_price(hi)}")
        elif hi is not None and lo is None and price <= hi:
            out.append(f"under your {format_price(hi)} budget" if price < hi else f"within your {format_price(hi)} budget")
        elif lo is not None and hi is None and price >= lo:
            out.append(f"over {format_price(lo)} as asked")
    return out


def matched_phrases(positions: Mapping[str, int], spelled: Mapping[str, str], matched: Sequence[str],
                    text: str) -> list[str]:
    """Matched query terms as they can truthfully be quoted, adjacent ones joined into phrases.

    A term is kept only when it occurs in ``text`` (at a word start) and is quoted as the user
    typed it; a stemmed match ("shampoos" for "shampoo") is quoted in the product's own word form.
    Adjacent query terms become one phrase only when the phrase itself occurs in the text.
    """
    folded = _fold(text)
    found: dict[str, str] = {}  # term -> its form in the (folded) product text
    for term in matched:
        form = _occurs(_fold(term), folded)
        if form:
            found[term] = form
    ordered = sorted(found, key=lambda t: positions.get(t, len(positions) + 1))
    shown = {t: spelled.get(t, t) if found[t] == _fold(t) else found[t] for t in ordered}
    out: list[str] = []
    run: list[str] = []
    for term in ordered + [""]:
        if run and term and positions.get(term, -9) == positions.get(run[-1], -9) + 1:
            run.append(term)
            continue
        out += _phrases(run, found, shown, folded)
        run = [term] if term else []
    return list(dict.fromkeys(out))


def _phrases(run: list[str], found: dict[str, str], shown: dict[str, str], folded: str) -> list[str]:
    """Split a run of adjacent query terms into the longest phrases that occur in the text."""
    out, i = [], 0
    while i < len(run):
        j = len(run)
        while j > i + 1 and not re.search(r"(?<!\w)" + r"\W+".join(re.escape(found[t]) for t in run[i:j]), folded):
            j -= 1
        out.append(" ".join(shown[t] for t in run[i:j]))
        i = j
    return out


def _occurs(term: str, folded_text: str) -> str | None:
    """The form in which ``term`` occurs in the text: itself (word start), or a stemmed variant."""
    if re.search(r"(?<!\w)" + re.escape(term), folded_text):
        return term
    if len(term) < 4:
        return None
    stem = term[: max(4, len(term) - 3)]
    m = re.search(r"(?<!\w)" + re.escape(stem) + r"\w*", folded_text)
    return m.group(0) if m else None


def _fold(text: str) -> str:
    """Lowercase without accents ("Crème" -> "creme"), as the FTS tokenizer sees it."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def format_price(value: float) -> str:
    """Dollars as shown to shoppers: "$20", "$20.50", "$1,200"."""
    return f"${value:,.0f}" if float(value).is_integer() else f"${value:,.2f}"


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def join_quoted(items: Sequence[str]) -> str:
    quoted = [f"'{item}'" for item in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
