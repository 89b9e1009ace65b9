"""Product search: semantic similarity + keyword match + popularity, inside hard filters.

Candidates are the products passing every filter (``Catalog.filter_ids``), or all products when no
filter is set, minus ``exclude``. Each candidate gets::

    score = w_sem * max(cos(query, product), 0)        # sentence-encoder similarity, 0..1
          + w_kw  * bm25(product) / max bm25           # FTS keyword match, 0..1 (best match = 1)
          + w_pop * log1p(shoppers) / log1p(max shoppers)   # popularity prior, 0..1

with the weights of ``SearchConfig``. The query is user text: it is normalised, cut to
``max_query_chars``, and price phrases ("under $10") are dropped (prices belong to the filters);
stop words are left out of the keyword query. A query without words (empty, punctuation only) has
no semantic or keyword part, so the products are ranked by popularity within the filters.

Reasons are true statements about what really scored, ordered by contribution, then the filters:

- ``matches 'dry skin'``: query words the keyword search matched and that occur in the product's
  title, brand or categories (a phrase only when the phrase itself occurs there);
- ``close in meaning to '<query>'``: only when cos >= ``SearchConfig.semantic_reason_min``;
- ``popular: N shoppers bought it``: only when N >= ``SearchConfig.popular_reason_min``; with no
  query words, popularity is the ranking, so any N > 0 is given (``2 shoppers bought it``);
- ``Neutrogena, as asked`` / ``in Shampoos, as asked`` / ``under your $15 budget`` /
  ``between $10 and $30`` / ``over $20 as asked``: only for filters that were given (every result
  satisfies them: they are hard filters).

When no product passes the filters, ``SearchOutcome.relax`` names the single filter whose removal
gives results, trying ``RELAX_ORDER`` in turn (price first, the product type last).
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from recommender.catalog import Catalog, Product
from recommender.embeddings import ProductEmbeddings, product_text
from recommender.encoder import Encoder, TextEncoder

logger = logging.getLogger(__name__)

__all__ = ["Filters", "ProductSearch", "ScoredProduct", "SearchConfig", "SearchOutcome", "format_price"]

RELAX_ORDER = ("price_max", "price_min", "brand", "category")
_WORD = re.compile(r"\w+", re.UNICODE)
_AMOUNT = r"(?:[$€£]\s*\d+(?:[.,]\d+)?|\d+(?:[.,]\d+)?\s*(?:\$|dollars?|bucks|usd)(?!\w))"
# A price phrase ("under $10", "between 5 and 10 dollars"): the filters carry prices, not the text.
_MONEY = re.compile(r"(?:\b(?:under|below|over|above|less than|more than|up to|around|about|max|between|for)\s+)?"
                    rf"(?:{_AMOUNT}|\d+(?:[.,]\d+)?(?=\s*(?:-|to|and)\s*{_AMOUNT}))"
                    rf"(?:\s*(?:-|to|and)\s*{_AMOUNT})?", re.I)
# Words that carry no product meaning: kept out of the keyword query and of "matches" reasons.
STOPWORDS = frozenset("""
a about above all also am an and any anything are as at be below best buy by can cheap cheaper could do
does dollar dollars find for from get give good great have i im in is it its less like looking me more
most my need nice of on one or over please price recommend show some something than that the this to
under up us want was we what which with would you your
""".split())


@dataclass(frozen=True)
class SearchConfig:
    """Weights and thresholds of the hybrid score (see the module docstring for the formula)."""

    w_sem: float = 0.6  # semantic similarity: finds "cleanser" for "face wash"
    w_kw: float = 0.35  # keyword match: rewards products that literally say what was asked
    w_pop: float = 0.05  # popularity prior: a tie-breaker, and the ranking for empty queries
    semantic_reason_min: float = 0.5  # cos needed before saying "close in meaning to"
    popular_reason_min: int = 30  # shoppers before saying "popular: N shoppers bought it" (~top 10% here)
    keyword_limit: int = 500  # keyword matches fetched per query without filters (~100 ms for 3 terms)
    keyword_limit_filtered: int = 1000  # with filters: matches inside the filter may rank lower overall
    max_query_chars: int = 300  # longer user text is cut at a word boundary


@dataclass(frozen=True)
class Filters:
    """Hard filters: every result satisfies every filter that is set (None = not set)."""

    category: str | None = None
    brand: str | None = None
    price_min: float | None = None
    price_max: float | None = None

    def __post_init__(self) -> None:
        for name in ("category", "brand"):
            value = getattr(self, name)
            object.__setattr__(self, name, value.strip() or None if isinstance(value, str) else value)
        for name in ("price_min", "price_max"):
            value = getattr(self, name)
            if value is not None:
                value = float(value)
                object.__setattr__(self, name, None if math.isnan(value) else value)

    def is_empty(self) -> bool:
        """True when no filter is set."""
        return all(getattr(self, f.name) is None for f in fields(self))

    def describe(self) -> list[str]:
        """Phrases for the filters that are set, e.g. ["in Shampoos", "from Neutrogena", "under $15"]."""
        out = []
        if self.category:
            out.append(f"in {self.category}")
        if self.brand:
            out.append(f"from {self.brand}")
        lo, hi = self.price_min, self.price_max
        if lo is not None and hi is not None:
            out.append(f"between {format_price(lo)} and {format_price(hi)}")
        elif hi is not None:
            out.append(f"under {format_price(hi)}")
        elif lo is not None:
            out.append(f"over {format_price(lo)}")
        return out

    def as_kwargs(self) -> dict[str, str | float | None]:
        """The filters as keyword arguments of ``Catalog.filter_ids``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def without(self, name: str) -> Filters:
        """A copy with one filter removed."""
        return replace(self, **{name: None})


@dataclass(frozen=True)
class ScoredProduct:
    """A search result: the product, its score and why it was chosen."""

    product: Product
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class SearchOutcome:
    """Ranked results; ``relax`` names the filter to drop when nothing passed the filters."""

    results: list[ScoredProduct]
    relax: str | None = None


@dataclass(frozen=True)
class _Query:
    text: str  # cleaned and truncated user text ("" when it has no words)
    terms: tuple[str, ...]  # lowercased content words, query order, distinct
    positions: dict[str, int]  # term -> word position in the query (for phrases)
    spelled: dict[str, str]  # term -> the word as the user typed it ("opi" -> "OPI")


class ProductSearch:
    """Hybrid product search over one catalog and its embeddings."""

    def __init__(self, catalog: Catalog, encoder: Encoder, embeddings: ProductEmbeddings,
                 config: SearchConfig | None = None) -> None:
        self.catalog = catalog
        self.encoder = encoder
        self.embeddings = embeddings
        self.config = config or SearchConfig()
        self._popularity: dict[str, int] | None = None
        self._pop_norm: np.ndarray | None = None

    @classmethod
    def from_paths(cls, catalog_path: str | Path | None = None, cache_dir: str | Path | None = None,
                   *, progress: bool = True) -> ProductSearch:
        """Open the catalog and load (or build and cache) its embeddings with the packaged model."""
        from recommender import config

        catalog = Catalog.open(catalog_path or config.catalog_path())
        encoder = TextEncoder()
        embeddings = ProductEmbeddings.load_or_build(catalog, encoder, cache_dir or config.cache_dir(),
                                                     progress=progress)
        return cls(catalog, encoder, embeddings)

    def close(self) -> None:
        """Close the catalog."""
        self.catalog.close()

    # ---- search --------------------------------------------------------------------------------

    def search(self, query: str, filters: Filters = Filters(), n: int = 5,
               exclude: Collection[str] = ()) -> SearchOutcome:
        """The top ``n`` products for a free-text query within the filters, with reasons."""
        filters = filters or Filters()
        q = self._parse(query)
        excluded = set(exclude)
        ids = self.embeddings.ids if filters.is_empty() else self.catalog.filter_ids(**filters.as_kwargs())
        ids, rows = self.embeddings.rows(pid for pid in ids if pid not in excluded)
        if not ids:
            relax = self._relax(filters, excluded) if not filters.is_empty() else None
            logger.info("search %r %s: no product passes the filters (relax: %s)", q.text, filters, relax)
            return SearchOutcome([], relax)
        cfg = self.config
        sem = self._semantic(q, rows)
        kw, matched = self._keyword(q, ids, filtered=not filters.is_empty())
        pop = self._popularity_norm()[rows]
        scores = cfg.w_sem * sem + cfg.w_kw * kw + cfg.w_pop * pop
        top = _top_k(scores, ids, max(0, n))
        products = {p.id: p for p in self.catalog.get_products([ids[i] for i in top])}
        results = []
        for i in top:
            product = products.get(ids[i])
            if product is None:  # the catalog changed under the embeddings
                continue
            reasons = self._reasons(product, q, filters, sem[i], kw[i], matched.get(ids[i], ()))
            results.append(ScoredProduct(product, round(float(scores[i]), 6), reasons))
        return SearchOutcome(results, None)

    def _parse(self, query: str | None) -> _Query:
        text = " ".join(_MONEY.sub(" ", _clean(query or "", self.config.max_query_chars)).split())
        words = _WORD.findall(text)
        positions: dict[str, int] = {}
        spelled: dict[str, str] = {}
        for pos, word in enumerate(words):
            term = word.lower()
            if term not in STOPWORDS and (len(term) > 1 or term.isdigit()) and term not in positions:
                positions[term], spelled[term] = pos, word
        if not _WORD.search(text):
            text = ""
        return _Query(text, tuple(positions), positions, spelled)

    def _semantic(self, q: _Query, rows: np.ndarray) -> np.ndarray:
        if not q.text:
            return np.zeros(len(rows), dtype=np.float32)
        vec = self.encoder.encode([q.text])[0]
        return np.clip(self.embeddings.matrix[rows] @ vec, 0.0, 1.0)

    def _keyword(self, q: _Query, ids: Sequence[str],
                 filtered: bool) -> tuple[np.ndarray, dict[str, tuple[str, ...]]]:
        kw = np.zeros(len(ids), dtype=np.float32)
        if not q.terms:
            return kw, {}
        limit = self.config.keyword_limit_filtered if filtered else self.config.keyword_limit
        hits = self.catalog.keyword_search(" ".join(q.terms), limit=limit)
        if not hits:
            return kw, {}
        best = max(score for _, score, _ in hits)
        where = {pid: i for i, pid in enumerate(ids)}
        matched: dict[str, tuple[str, ...]] = {}
        for pid, score, terms in hits:
            i = where.get(pid)
            if i is not None:
                kw[i] = score / best
                matched[pid] = terms
        return kw, matched

    def _popularity_norm(self) -> np.ndarray:
        if self._pop_norm is None:
            counts = self.popularity()
            raw = np.array([counts.get(pid, 0) for pid in self.embeddings.ids], dtype=np.float32)
            top = float(raw.max()) if len(raw) else 0.0
            self._pop_norm = np.log1p(raw) / math.log1p(top) if top > 0 else np.zeros_like(raw)
        return self._pop_norm

    def popularity(self) -> dict[str, int]:
        """product_id -> shoppers who interacted with it (read once from the catalog)."""
        if self._popularity is None:
            self._popularity = self.catalog.popularity()
        return self._popularity

    def _relax(self, filters: Filters, excluded: set[str]) -> str | None:
        for name in RELAX_ORDER:
            if getattr(filters, name) is None:
                continue
            looser = filters.without(name)
            ids = self.embeddings.ids if looser.is_empty() else self.catalog.filter_ids(**looser.as_kwargs())
            if any(pid not in excluded and pid in self.embeddings for pid in ids):
                return name
        return None

    # ---- reasons -------------------------------------------------------------------------------

    def _reasons(self, p: Product, q: _Query, filters: Filters, sem: float, kw: float,
                 matched: Sequence[str]) -> tuple[str, ...]:
        cfg = self.config
        scored: list[tuple[float, str]] = []
        phrases = _matched_phrases(q, matched, product_text(p)) if kw > 0 else []
        if phrases:
            scored.append((cfg.w_kw * kw, "matches " + _join_quoted(phrases)))
        if q.text and sem >= cfg.semantic_reason_min:
            scored.append((cfg.w_sem * sem, f"close in meaning to '{_shorten(q.text, 60)}'"))
        shoppers = self.popularity().get(p.id, 0)
        if shoppers >= cfg.popular_reason_min or (not q.text and shoppers > 0):
            pop = float(self._popularity_norm()[self.embeddings.index_of(p.id)])
            bought = f"{shoppers} shopper{'s' if shoppers != 1 else ''} bought it"
            scored.append((cfg.w_pop * pop, f"popular: {bought}" if shoppers >= cfg.popular_reason_min else bought))
        scored.sort(key=lambda item: -item[0])
        return tuple(text for _, text in scored) + tuple(_filter_reasons(p, filters))


def _filter_reasons(p: Product, filters: Filters) -> list[str]:
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


def _matched_phrases(q: _Query, matched: Sequence[str], text: str) -> list[str]:
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
    ordered = sorted(found, key=lambda t: q.positions.get(t, len(q.positions) + 1))
    shown = {t: q.spelled.get(t, t) if found[t] == _fold(t) else found[t] for t in ordered}
    out: list[str] = []
    run: list[str] = []
    for term in ordered + [""]:
        if run and term and q.positions.get(term, -9) == q.positions.get(run[-1], -9) + 1:
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


def _clean(text: str, max_chars: int) -> str:
    """User text made safe to embed: NFKC, no control characters, one-line, cut at a word boundary."""
    text = unicodedata.normalize("NFKC", str(text))
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    if len(text) > max_chars:
        cut = text[:max_chars]
        text = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return text


def _top_k(scores: np.ndarray, ids: Sequence[str], k: int) -> list[int]:
    """Indexes of the k best scores, best first; ties broken by product id (deterministic)."""
    if k <= 0 or len(scores) == 0:
        return []
    if len(scores) > 4 * k:
        # Keep every candidate tied with the k-th score, so the id tie-break stays exact.
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        pool = np.flatnonzero(scores >= kth)
    else:
        pool = np.arange(len(scores))
    return sorted(pool.tolist(), key=lambda i: (-float(scores[i]), ids[i]))[:k]


def format_price(value: float) -> str:
    """Dollars as shown to shoppers: "$20", "$20.50", "$1,200"."""
    return f"${value:,.0f}" if float(value).is_integer() else f"${value:,.2f}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _join_quoted(items: Sequence[str]) -> str:
    quoted = [f"'{item}'" for item in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
