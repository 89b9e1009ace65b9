"""Reason texts: true statements about why a product was chosen.

The ranker's reasons, ordered by contribution (``by_contribution``), then the filters:

- ``matches 'dry skin'``: query words the keyword search matched and that occur in the product's
  title, brand or categories (a phrase only when the phrase itself occurs there: ``matched_phrases``);
- ``close in meaning to '<query>'``: only when cos >= ``SearchConfig.semantic_reason_min``;
- ``in Creams`` / ``from HongNuo``: the product is in a category the query names (the deepest such level
  of its path) / of a brand it names;
- ``because you liked <p>`` / ``often bought after <p> (N shoppers)``: the collaborative model's
  reasons (``CFRecommender``: occlusion and co-purchase counts, ``p`` always from the shopper's
  history or session), given when the personal part is at least ``personal_reason_min``;
- the prior's (``prior`` module): ``popular: N shoppers bought it`` only when N >=
  ``SearchConfig.popular_reason_min``; with no query words the prior is the ranking, so any N > 0 is
  given (``2 shoppers bought it``); without histories ``popular: N reviews`` / ``2 reviews`` the same
  way; without either, ``new: listed 2026-11-03`` for the newest tenth (``listed 2025-01-10`` when it ranks);
- ``Neutrogena, as asked`` / ``in Shampoos, as asked`` / ``black, as asked`` / ``for women, as asked``
  / ``under your $15 budget`` / ``between $10 and $30`` / ``over $20 as asked``: only for filters
  that were given (every result satisfies them: they are hard filters), prices in the catalog's
  currency ("under your ₹1,500 budget").

Each reason is a ``Text``: its English wording, said in the shopper's language by the actions
(``Text.said``; prices as that language writes them, names as the shop wrote them).

Similar products (``similar`` module): by contribution ``described like <p>`` (cos >=
``semantic_reason_min``), the model's ``often bought together with <p> (N shoppers)`` and ``popular: N
shoppers bought it`` (the prior's reason when strong), then ``also from <brand>`` / ``also in <category>``
(the category is what made it the same kind of product).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from recommender.i18n.detect import HAN
from recommender.i18n.text import Text
from recommender.ranking.filters import Facet, Filters
from recommender.ranking.prices import Amount

if TYPE_CHECKING:
    from recommender.catalog.products import Product

__all__ = ["also_like", "bought_it", "by_contribution", "close_in_meaning", "described_like", "filter_reasons",
           "listed", "matched_phrases", "matches", "named_brand", "named_kind", "reviewed", "shorten"]


def by_contribution(scored: Iterable[tuple[float, Text]]) -> tuple[Text, ...]:
    """The reason texts, the largest contribution to the score first (equal ones keep their order)."""
    return tuple(text for _, text in sorted(scored, key=lambda item: -item[0]))


def matches(phrases: Sequence[str]) -> Text:
    return Text("matches {terms}", terms=tuple(phrases))


def close_in_meaning(query_text: str) -> Text:
    return Text("close in meaning to '{query}'", query=shorten(query_text, 60))


def bought_it(shoppers: int, popular: bool) -> Text:
    """ "popular: 40 shoppers bought it" when ``popular``, else "1 shopper bought it"."""
    if popular:
        return Text("popular: {count} shoppers bought it", count=shoppers)
    return Text("{count} shopper bought it", count=shoppers) if shoppers == 1 else \
        Text("{count} shoppers bought it", count=shoppers)


def reviewed(reviews: int, popular: bool) -> Text:
    """ "popular: 120 reviews" when ``popular``, else "1 review"."""
    if popular:
        return Text("popular: {count} reviews", count=reviews)
    return Text("{count} review", count=reviews) if reviews == 1 else Text("{count} reviews", count=reviews)


def listed(day: str, new: bool) -> Text:
    """ "new: listed 2026-11-03" when among the newest, else "listed 2026-11-03"."""
    return Text("new: listed {day}", day=day) if new else Text("listed {day}", day=day)


def described_like(source: Product) -> Text:
    return Text("described like {product}", product=shorten(source.display_title, 60))


def also_like(p: Product, source: Product) -> tuple[Text, ...]:
    """What ``p`` shares with the product it is similar to: its brand, its category."""
    facts = [Text("also from {brand}", brand=p.brand)] if p.brand and p.brand == source.brand else []
    if p.category and p.category == source.category:
        facts.append(Text("also in {category}", category=p.category))
    return tuple(facts)


def named_kind(p: Product, kinds: Iterable[str]) -> Text | None:
    """``in <category>``: the deepest level of the product's category path among the categories ``kinds``
    the query named; None when it is in none of them."""
    wanted = {kind.casefold() for kind in kinds}
    levels = [c for c in _levels(p) if c.casefold() in wanted]
    return Text("in {category}", category=levels[-1]) if levels else None


def named_brand(brand: str) -> Text:
    return Text("from {brand}", brand=brand)


def _levels(p: Product) -> list[str]:
    """The product's category path, then its leaf: every level a category name may name."""
    return [c for c in (*p.category_path, p.category or "") if c]


def filter_reasons(p: Product, filters: Filters, currency: str = "USD") -> tuple[Text, ...]:
    """One reason per filter that was given, naming the product's own field values (prices in ``currency``)."""
    out = []
    if filters.brand and p.brand:
        out.append(Text("{brand}, as asked", brand=p.brand))
    if filters.category:
        hit = next((c for c in _levels(p) if c.casefold() == filters.category.casefold()), p.category)
        if hit:
            out.append(Text("in {category}, as asked", category=hit))
    out += [Text("{facet}, as asked", facet=Facet(name, value))
            for name, value in filters.facets if (name, value) in p.facets]
    price, lo, hi = p.price, filters.price_min, filters.price_max
    if price is not None and (lo is not None or hi is not None):
        if lo is not None and hi is not None and lo <= price <= hi:
            out.append(Text("between {low} and {high}", low=Amount(lo, currency), high=Amount(hi, currency)))
        elif hi is not None and lo is None and price <= hi:
            budget = Amount(hi, currency)
            out.append(Text("under your {budget} budget", budget=budget) if price < hi else
                       Text("within your {budget} budget", budget=budget))
        elif lo is not None and hi is None and price >= lo:
            out.append(Text("over {price} as asked", price=Amount(lo, currency)))
    return tuple(out)


def matched_phrases(positions: Mapping[str, int], spelled: Mapping[str, str], matched: Sequence[str],
                    text: str) -> list[str]:
    """Matched query terms as they can truthfully be quoted, adjacent ones joined into phrases.

    A term is kept only when it occurs in ``text`` (at a word start) and is quoted as the user
    typed it; a stemmed match ("shampoos" for "shampoo") is quoted in the product's own word form.
    Adjacent query terms become one phrase only when the phrase itself occurs in the text.
    """
    folded = _fold_accents(text)
    found: dict[str, str] = {}  # term -> its form in the (folded) product text
    for term in matched:
        form = _occurs(_fold_accents(term), folded)
        if form:
            found[term] = form
    ordered = sorted(found, key=lambda t: positions.get(t, len(positions) + 1))
    shown = {t: spelled.get(t, t) if found[t] == _fold_accents(t) else found[t] for t in ordered}
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
    """The form in which ``term`` occurs in the text: itself (word start; Han script anywhere, it has no
    spaces), or a stemmed variant."""
    if re.search(("" if HAN.search(term) else r"(?<!\w)") + re.escape(term), folded_text):
        return term
    if len(term) < 4 or HAN.search(term):
        return None
    stem = term[: max(4, len(term) - 3)]
    m = re.search(r"(?<!\w)" + re.escape(stem) + r"\w*", folded_text)
    return m.group(0) if m else None


def _fold_accents(text: str) -> str:
    """Lowercase without accents ("Crème" -> "creme"), as the FTS tokenizer sees it."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

