"""The hybrid ranker: query relevance + personal score + popularity inside hard filters, then diversity.

Candidates are the products passing every filter (``Catalog.filter_mask``), or all products when no
filter is set, minus ``exclude``. Each candidate gets::

    score = w_sem * max(cos(query, product), 0)              # sentence-encoder similarity, 0..1
          + w_kw  * bm25(product) / max bm25                 # FTS keyword match, 0..1 (best match = 1)
          + w_personal * exp(cf(product) - max cf)           # collaborative model, 0..1 (best candidate = 1)
          + w_pop * log1p(shoppers) / log1p(max shoppers)    # popularity prior, 0..1

with the weights of ``SearchConfig``. ``cf`` is the collaborative model's score after the shopper's
known history and this session's items (``CFRecommender.scores``), so ``exp(cf - max cf)`` is the
candidate's probability relative to the likeliest candidate; it is 0 without a model or without
any history (a new shopper is ranked by relevance and popularity).

Diversity: the best ``diversity_pool`` candidates are re-ranked greedily (maximal marginal
relevance with a similarity floor): each next pick maximises ``score - diversity * redundancy``,
where ``redundancy = max over picked products of clip((cos(text) - similarity_floor) /
(1 - similarity_floor), 0, 1)``. Near-duplicates (the same mascara in five shades, cos ~0.95) are
pushed down; merely related products (cos ~0.6) are not penalised. Results carry the plain score.

Large catalogs: a catalog of at least ``index_min_products`` products (the shipped one never is) also
has an approximate vector index (``VectorIndex``: faiss IVF, built once and cached next to the
embeddings). When a query has text and the candidates are at least ``index_min_share`` of the
catalog, only a shortlist of them is scored: the ``index_candidates`` products nearest to the query
by the index (``index_nprobe`` lists scanned; more products asked for as the filters narrow, so about
that many pass them), the keyword matches, and with a history the collaborative model's likeliest
products, each kept only when it is a candidate. The shortlist is scored exactly as above (exact
cosines, the same normalisations), so a candidate outside it is one below all of these tops. ``cf``
is normalised by the best shortlisted candidate, which is the best candidate unless the model's
likeliest products all fail the filters. Narrower filters score every candidate (when they are at
most a quarter of the catalog, the cosines are taken over their rows only). ``similar`` does the same
with the source product's vector as the query.

Query vectors: the vectors of the last ``query_cache_size`` distinct query texts are kept, so "show
me more", a new filter on the same words, or a query many shoppers type costs no encoding (the
encoder is most of a new query's time).

The query is user text: it is normalised, cut to ``max_query_chars``, and price phrases ("under
$10") are dropped (prices belong to the filters), and so are the stop words it starts and ends with
("show me shampoo please" -> "shampoo": what the encoder compares and the reasons quote); stop words
are left out of the keyword query. A query without content words (empty, punctuation only, "show me
something") has no semantic or keyword part, so the products are ranked by the personal score and
popularity within the filters.

Reasons are true statements about what really scored, ordered by contribution, then the filters:

- ``matches 'dry skin'``: query words the keyword search matched and that occur in the product's
  title, brand or categories (a phrase only when the phrase itself occurs there);
- ``close in meaning to '<query>'``: only when cos >= ``SearchConfig.semantic_reason_min``;
- ``because you liked <p>`` / ``often bought after <p> (N shoppers)``: the collaborative model's
  reasons (``CFRecommender``: occlusion and co-purchase counts, ``p`` always from the shopper's
  history or session), given when the personal part is at least ``personal_reason_min``;
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
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recommender.catalog.products import Catalog, Product
from recommender.text.embeddings import ProductEmbeddings, cache_path, product_text
from recommender.text.encoder import Encoder, TextEncoder
from recommender.errors import CatalogMismatch, ProductNotFound
from recommender.ranking.reasons import filter_reasons, format_price, join_quoted, matched_phrases, shorten

if TYPE_CHECKING:
    from recommender.cf.recommender import CFRecommender
    from recommender.text.vector_index import VectorIndex

logger = logging.getLogger(__name__)

__all__ = ["Filters", "ProductSearch", "ScoredProduct", "SearchConfig", "SearchOutcome", "format_price"]

RELAX_ORDER = ("price_max", "price_min", "brand", "category")
_WORD = re.compile(r"\w+", re.UNICODE)
_AMOUNT = r"(?:[$€£]\s*\d+(?:[.,]\d+)?|\d+(?:[.,]\d+)?\s*(?:\$|dollars?|bucks|usd)(?!\w))"
# A price phrase ("under $10", "between 5 and 10 dollars"): the filters carry prices, not the text.
_MONEY = re.compile(r"(?:\b(?:under|below|over|above|less than|more than|up to|around|about|max|between|for)\s+)?"
                    rf"(?:{_AMOUNT}|\d+(?:[.,]\d+)?(?=\s*(?:-|to|and)\s*{_AMOUNT}))"
                    rf"(?:\s*(?:-|to|and)\s*{_AMOUNT})?", re.I)
_BLOCK = 16_384  # rows per block when cosines are taken over some rows only (25 MB at 384 dimensions)
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
    w_personal: float = 0.3  # collaborative score: reorders what is relevant by what this shopper is likely to buy
    diversity: float = 0.15  # near-duplicate penalty of the diversity step (0 = off): as much as w_personal
    similarity_floor: float = 0.85  # text cosine above which two products count as near-duplicates
    diversity_pool: int = 50  # best candidates the diversity step may reorder
    semantic_reason_min: float = 0.5  # cos needed before saying "close in meaning to"
    personal_reason_min: float = 0.2  # personal part (0..1) needed before giving the model's reasons
    popular_reason_min: int = 30  # shoppers before saying "popular: N shoppers bought it" (~top 10% here)
    keyword_limit: int = 500  # keyword matches used per query without filters (the best ones)
    keyword_limit_filtered: int = 1000  # with filters: matches inside the filter may rank lower overall
    max_query_chars: int = 300  # longer user text is cut at a word boundary
    query_cache_size: int = 4096  # distinct recent query texts whose vectors are kept (0 = none; 1.5 KB each)
    index_min_products: int = 200_000  # catalogs this big rank with the vector index ("Large catalogs")
    index_candidates: int = 1000  # products taken from the index per query (that pass the filters)
    index_nprobe: int = 32  # lists the index scans: recall@10 0.955 in 5 ms at 1M products (bench/scale.py)
    index_min_share: float = 0.5  # the index is used when the candidates are at least this share of the catalog


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
        """The filters as keyword arguments of ``Catalog.filter_mask`` (and ``filter_ids``)."""
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
    """The hybrid ranker over one catalog, its embeddings and (optionally) a collaborative model."""

    def __init__(self, catalog: Catalog, encoder: Encoder, embeddings: ProductEmbeddings,
                 config: SearchConfig | None = None, recommender: CFRecommender | None = None,
                 index: VectorIndex | None = None) -> None:
        """``index``: the vector index of ``embeddings`` on a large catalog (module docstring), else None."""
        self.catalog = catalog
        self.encoder = encoder
        self.embeddings = embeddings
        self.config = config or SearchConfig()
        self.recommender = recommender
        self.index = index
        self._popularity: dict[str, int] | None = None
        self._pop_norm: np.ndarray | None = None
        self._cf_rows: np.ndarray | None = None
        self._cf_item_rows: np.ndarray | None = None
        # Read-only while serving, so computed once: the embedding row of each catalog product (-1: no
        # vector), every row, and each row's rank by product id (the deterministic tie-break).
        self._catalog_rows = embeddings.row_numbers(catalog.product_ids())
        self._all_rows = np.arange(len(embeddings))
        self._id_rank = np.empty(len(embeddings), dtype=np.int64)
        self._id_rank[np.argsort(np.array(embeddings.ids, dtype=str), kind="stable")] = self._all_rows
        # The vectors again, one row per dimension: a query's cosines with every product read them
        # ~1.9x faster than the product-major matrix here (OpenBLAS's gemv). Below the index's size
        # only (+18.6 MB on the shipped catalog; it would be +1.5 GB at 1M products).
        small = len(embeddings) < self.config.index_min_products
        self._by_dim = np.ascontiguousarray(embeddings.matrix.T) if small else None  # (dim, products)
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()  # query text -> vector, oldest first
        self._recent_lock = threading.Lock()

    @classmethod
    def from_paths(cls, catalog_path: str | Path | None = None, cache_dir: str | Path | None = None,
                   *, progress: bool = True, model_path: str | Path | None = None,
                   config: SearchConfig | None = None) -> ProductSearch:
        """Open the catalog, load (or build and cache) its embeddings with the packaged model (and their
        vector index on a large catalog), and load the collaborative model trained by set-up when it
        exists for this catalog."""
        from recommender import config as settings

        config = config or SearchConfig()
        catalog = Catalog.open(catalog_path or settings.catalog_path())
        encoder = TextEncoder()
        cache_dir = cache_dir or settings.cache_dir()
        embeddings = ProductEmbeddings.load_or_build(catalog, encoder, cache_dir, progress=progress)
        index = None
        if len(embeddings) >= config.index_min_products:
            from recommender.text.vector_index import VectorIndex

            index = VectorIndex.load_or_build(embeddings, cache_path(cache_dir, encoder.model_id).parent)
        recommender = _load_recommender(catalog, Path(model_path or settings.cf_model_path()))
        return cls(catalog, encoder, embeddings, config, recommender=recommender, index=index)

    def close(self) -> None:
        """Close the catalog."""
        self.catalog.close()

    # ---- search --------------------------------------------------------------------------------

    def search(self, query: str, filters: Filters = Filters(), n: int = 5, exclude: Collection[str] = (),
               *, shopper_id: str | None = None, session_items: Sequence[str] = ()) -> SearchOutcome:
        """The top ``n`` products for a free-text query within the filters, with reasons.

        Args:
            shopper_id: a shopper whose known history personalises the ranking (unknown ids are fine).
            session_items: products this conversation showed interest in (liked, added to the cart).
        """
        filters = filters or Filters()
        q = self._parse(query)
        rows, outcome = self._candidates(filters, exclude)
        if outcome is not None:
            logger.debug("search %r %s: no product passes the filters (relax: %s)", q.text, filters, outcome.relax)
            return outcome
        cfg = self.config
        vector = self._query_vector(q.text) if q.text else None
        hits = self._keyword_hits(q, filtered=not filters.is_empty())
        scored = self._cf_scores(shopper_id, session_items)
        rows = self._shortlist(rows, vector, hits[0], scored)
        sem = self._cosines(vector, rows)
        kw, matched = self._keyword(hits, rows)
        personal = self._personal(rows, scored)
        pop = self._popularity_norm()[rows]
        scores = cfg.w_sem * sem + cfg.w_kw * kw + cfg.w_personal * personal + cfg.w_pop * pop
        top = self._ranked(scores, rows, n)
        personal_reasons = self._personal_reasons([p.id for i, p in top if personal[i] >= cfg.personal_reason_min],
                                                  scored)
        results = []
        for i, product in top:
            reasons = self._reasons(product, q, filters, sem[i], kw[i], matched.get(i, ()),
                                    (cfg.w_personal * personal[i], personal_reasons.get(product.id, ())))
            results.append(ScoredProduct(product, round(float(scores[i]), 6), reasons))
        return SearchOutcome(results, None)

    def similar(self, product_id: str, n: int = 5, filters: Filters = Filters(),
                exclude: Collection[str] = ()) -> SearchOutcome:
        """Products like ``product_id`` within the filters: described alike and bought alike.

        ``score = w_sem * max(cos(text), 0) + w_personal * exp(cf - max cf) + w_pop * popularity``, where
        ``cf`` is the collaborative model's score after a session of this one product (what shoppers go
        on to buy with it); then the diversity step.
        Raises ProductNotFound for an unknown product.
        """
        source = self.catalog.get_product(product_id)
        filters = filters or Filters()
        rows, outcome = self._candidates(filters, [*exclude, product_id])
        if outcome is not None:
            return outcome
        cfg = self.config
        vector = self.embeddings.matrix[self.embeddings.index_of(product_id)] if product_id in self.embeddings else None
        after = self._cf_scores(None, [product_id])                   # what shoppers go on to buy after it
        rows = self._shortlist(rows, vector, np.empty(0, dtype=np.int64), after)
        text = self._cosines(vector, rows)
        bought = self._personal(rows, after)
        cf = self.recommender
        scores = cfg.w_sem * text + cfg.w_personal * bought + cfg.w_pop * self._popularity_norm()[rows]
        name = shorten(source.display_title, 60)
        results = []
        for i, product in self._ranked(scores, rows, n):
            scored: list[tuple[float, str]] = []
            if text[i] >= cfg.semantic_reason_min:
                scored.append((cfg.w_sem * text[i], f"described like {name}"))
            together = cf.bought_together(product_id, product.id) if cf is not None and \
                cf.index_of(product_id) is not None and cf.index_of(product.id) is not None else 0
            if together >= 2:
                scored.append((cfg.w_personal * bought[i], f"often bought together with {name} ({together} shoppers)"))
            scored.sort(key=lambda item: -item[0])
            facts = [f"also from {product.brand}"] if product.brand and product.brand == source.brand else []
            if product.category and product.category == source.category:
                facts.append(f"also in {product.category}")
            reasons = tuple(t for _, t in scored) + tuple(facts) + tuple(filter_reasons(product, filters))
            results.append(ScoredProduct(product, round(float(scores[i]), 6), reasons))
        return SearchOutcome(results, None)

    def _ranked(self, scores: np.ndarray, rows: np.ndarray, n: int) -> list[tuple[int, Product]]:
        """The ``n`` best candidates after the diversity step, as (candidate index, product), best first."""
        pool = self._top_k(scores, rows, max(n, self.config.diversity_pool) if n > 0 else 0)
        top = self._diversify(pool, scores, rows, n)
        products = {p.id: p for p in self.catalog.get_products([self.embeddings.ids[rows[i]] for i in top])}
        # a product missing here left the catalog after its vector was made
        return [(i, products[pid]) for i in top if (pid := self.embeddings.ids[rows[i]]) in products]

    def _candidates(self, filters: Filters, exclude: Collection[str]) -> tuple[np.ndarray, SearchOutcome | None]:
        """Embedding rows (ascending) of the products passing the filters, minus ``exclude``; when there
        are none, the empty outcome to return (naming a filter to relax)."""
        excluded = self.embeddings.row_numbers(exclude)
        rows = self._passing(filters, excluded)
        if len(rows):
            return rows, None
        return rows, SearchOutcome([], self._relax(filters, excluded) if not filters.is_empty() else None)

    def _passing(self, filters: Filters, excluded: np.ndarray) -> np.ndarray:
        """Embedding rows (ascending) of the products passing the filters and not ``excluded`` (rows)."""
        if filters.is_empty():
            rows = self._all_rows
        else:
            rows = self._catalog_rows[self.catalog.filter_mask(**filters.as_kwargs())]
            rows = np.sort(rows[rows >= 0])
        return rows[~np.isin(rows, excluded)] if len(excluded) else rows

    def _parse(self, query: str | None) -> _Query:
        text = _trim_filler(" ".join(_MONEY.sub(" ", _clean(query or "", self.config.max_query_chars)).split()))
        words = _WORD.findall(text)
        positions: dict[str, int] = {}
        spelled: dict[str, str] = {}
        for pos, word in enumerate(words):
            term = word.lower()
            if term not in STOPWORDS and (len(term) > 1 or term.isdigit()) and term not in positions:
                positions[term], spelled[term] = pos, word
        return _Query(text, tuple(positions), positions, spelled)

    def _query_vector(self, text: str) -> np.ndarray:
        """The query's unit vector: kept from a recent query with this text, or encoded (and kept)."""
        with self._recent_lock:
            vector = self._recent.get(text)
            if vector is not None:
                self._recent.move_to_end(text)
                return vector
        vector = self.encoder.encode([text])[0]
        if self.config.query_cache_size > 0:
            with self._recent_lock:
                self._recent[text] = vector
                while len(self._recent) > self.config.query_cache_size:
                    self._recent.popitem(last=False)
        return vector

    def _shortlist(self, rows: np.ndarray, vector: np.ndarray | None, keyword_rows: np.ndarray,
                   scored: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """The candidate rows to score (ascending): all of them, or on a large catalog with wide
        candidates, those near ``vector`` by the index, ``keyword_rows`` and the collaborative model's
        likeliest (module docstring, "Large catalogs")."""
        cfg = self.config
        n = len(self.embeddings)
        if self.index is None or vector is None or len(rows) < cfg.index_min_share * n:
            return rows
        k = math.ceil(cfg.index_candidates * n / len(rows))
        picked = [self.index.search(vector, k, cfg.index_nprobe)[0], keyword_rows]
        if scored is not None:
            picked.append(self._cf_top_rows(scored[0], k))
        wanted = np.unique(np.concatenate(picked))
        kept = wanted[_positions(rows, wanted) >= 0]
        return kept if len(kept) else rows

    def _cosines(self, vector: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
        """max(cos(vector, product), 0) of each row's product; zeros without a vector."""
        if vector is None:
            return np.zeros(len(rows), dtype=np.float32)
        matrix = self.embeddings.matrix
        if self.index is not None and 0 < len(rows) * 4 <= len(matrix):  # large catalog, few rows: theirs only
            sims = np.concatenate([matrix[rows[i:i + _BLOCK]] @ vector for i in range(0, len(rows), _BLOCK)])
        elif self._by_dim is not None:
            sims = (vector @ self._by_dim)[rows]  # one pass over all vectors, no copy of the candidates' rows
        else:
            sims = (matrix @ vector)[rows]
        return np.clip(sims, 0.0, 1.0)

    def _keyword_hits(self, q: _Query, filtered: bool) -> tuple[np.ndarray, np.ndarray, list[tuple[str, ...]]]:
        """The keyword search's matches: their rows (-1: no vector), bm25 scores and matched terms."""
        hits = self.catalog.keyword_search(" ".join(q.terms), limit=self.config.keyword_limit_filtered if filtered
                                           else self.config.keyword_limit) if q.terms else []
        return (self.embeddings.row_numbers([pid for pid, _, _ in hits]),
                np.array([s for _, s, _ in hits], dtype=np.float64), [terms for _, _, terms in hits])

    def _keyword(self, hits: tuple[np.ndarray, np.ndarray, list[tuple[str, ...]]],
                 rows: np.ndarray) -> tuple[np.ndarray, dict[int, tuple[str, ...]]]:
        """bm25 / best bm25 of each candidate (0 when not matched), and candidate index -> matched terms."""
        kw = np.zeros(len(rows), dtype=np.float32)
        hit_rows, score, terms = hits
        if not len(hit_rows):
            return kw, {}
        found = _positions(rows, hit_rows)
        kept = np.flatnonzero(found >= 0)
        kw[found[kept]] = score[kept] / score.max()
        return kw, {int(found[j]): terms[j] for j in kept.tolist()}

    def knows(self, shopper_id: str | None, session_items: Sequence[str] = ()) -> bool:
        """True when the collaborative model has a history to personalise with (known shopper or session)."""
        if self.recommender is None:
            return False
        return self.recommender.history_length(shopper_id, session_items) > 0

    def _cf_scores(self, shopper_id: str | None,
                   session_items: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
        """The collaborative model's (scores, history) for this shopper and session; None without a
        model or a history (no personal part)."""
        if self.recommender is None or self.config.w_personal == 0 or (shopper_id is None and not session_items):
            return None
        scores, history = self.recommender.scores(shopper_id, session_items)
        return (scores, history) if len(history) else None

    def _personal(self, rows: np.ndarray, scored: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """exp(cf - max cf) over the candidates (embedding ``rows``) from the model's ``scored``; zeros without."""
        personal = np.zeros(len(rows), dtype=np.float64)
        if scored is None:
            return personal
        cf_rows = self._cf_index()[rows]
        known = cf_rows >= 0
        if known.any():
            raw = scored[0][cf_rows[known]]
            personal[known] = np.exp(raw - raw.max())
        return personal

    def _cf_top_rows(self, scores: np.ndarray, k: int) -> np.ndarray:
        """Embedding rows of the collaborative model's ``k`` likeliest products (those with a vector)."""
        if self._cf_item_rows is None:
            cf = self._cf_index()
            item_rows = np.full(len(scores), -1, dtype=np.int64)
            item_rows[cf[cf >= 0]] = np.flatnonzero(cf >= 0)
            self._cf_item_rows = item_rows
        top = np.argpartition(-scores, k)[:k] if len(scores) > k else np.arange(len(scores))
        rows = self._cf_item_rows[top]
        return rows[rows >= 0]

    def _cf_index(self) -> np.ndarray:
        """Embedding row -> the collaborative model's item index (-1 for products it does not know)."""
        if self._cf_rows is None:
            index = self.recommender.index_of if self.recommender is not None else (lambda pid: None)
            self._cf_rows = np.array([-1 if (i := index(pid)) is None else i for pid in self.embeddings.ids],
                                     dtype=np.int64)
        return self._cf_rows

    def _personal_reasons(self, ids: Sequence[str],
                          scored: tuple[np.ndarray, np.ndarray] | None) -> dict[str, tuple[str, ...]]:
        """product id -> the collaborative model's reasons that name a product of the history or session."""
        if not ids or self.recommender is None or scored is None:
            return {}
        recs = self.recommender.reasons_for(ids, scored=scored)
        return {pid: rec.history_reasons for pid, rec in recs.items() if rec.history_reasons}

    def _top_k(self, scores: np.ndarray, rows: np.ndarray, k: int) -> list[int]:
        """Candidate indexes of the k best scores, best first; ties broken by product id (deterministic)."""
        if k <= 0 or len(scores) == 0:
            return []
        if len(scores) > 4 * k:
            # Keep every candidate tied with the k-th score, so the id tie-break stays exact.
            kth = np.partition(scores, len(scores) - k)[len(scores) - k]
            pool = np.flatnonzero(scores >= kth)
        else:
            pool = np.arange(len(scores))
        return pool[np.lexsort((self._id_rank[rows[pool]], -scores[pool]))][:k].tolist()

    def _diversify(self, pool: list[int], scores: np.ndarray, rows: np.ndarray, n: int) -> list[int]:
        """Greedy re-ranking of ``pool`` (best first) that pushes near-duplicates down (module docstring)."""
        cfg = self.config
        if cfg.diversity <= 0 or n <= 1 or len(pool) <= 1:
            return pool[:n]
        vectors = self.embeddings.matrix[rows[pool]]
        gain = scores[pool].astype(np.float64)
        redundancy = np.zeros(len(pool))
        picked = [0]
        while len(picked) < min(n, len(pool)):
            cos = vectors @ vectors[picked[-1]]
            redundancy = np.maximum(redundancy, np.clip((cos - cfg.similarity_floor) / (1 - cfg.similarity_floor), 0, 1))
            adjusted = gain - cfg.diversity * redundancy
            adjusted[picked] = -np.inf
            picked.append(int(np.argmax(adjusted)))                   # first of equals: pool order breaks ties
        return [pool[k] for k in picked]

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

    def _relax(self, filters: Filters, excluded: np.ndarray) -> str | None:
        for name in RELAX_ORDER:
            if getattr(filters, name) is not None and len(self._passing(filters.without(name), excluded)):
                return name
        return None

    # ---- reasons -------------------------------------------------------------------------------

    def _reasons(self, p: Product, q: _Query, filters: Filters, sem: float, kw: float,
                 matched: Sequence[str], personal: tuple[float, Sequence[str]]) -> tuple[str, ...]:
        cfg = self.config
        scored: list[tuple[float, str]] = []
        phrases = matched_phrases(q.positions, q.spelled, matched, product_text(p)) if kw > 0 else []
        if phrases:
            scored.append((cfg.w_kw * kw, "matches " + join_quoted(phrases)))
        if q.text and sem >= cfg.semantic_reason_min:
            scored.append((cfg.w_sem * sem, f"close in meaning to '{shorten(q.text, 60)}'"))
        scored += [(personal[0], text) for text in personal[1]]
        shoppers = self.popularity().get(p.id, 0)
        if shoppers >= cfg.popular_reason_min or (not q.text and shoppers > 0):
            pop = float(self._popularity_norm()[self.embeddings.index_of(p.id)])
            bought = f"{shoppers} shopper{'s' if shoppers != 1 else ''} bought it"
            scored.append((cfg.w_pop * pop, f"popular: {bought}" if shoppers >= cfg.popular_reason_min else bought))
        scored.sort(key=lambda item: -item[0])  # stable: equal contributions keep this order
        return tuple(text for _, text in scored) + tuple(filter_reasons(p, filters))


def _positions(rows: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The index in ``rows`` (ascending) of each of ``wanted`` (rows, -1 allowed), -1 where absent."""
    pos = np.searchsorted(rows, wanted)
    found = pos < len(rows)
    found[found] = rows[pos[found]] == wanted[found]
    return np.where(found, pos, -1)


def _load_recommender(catalog: Catalog, path: Path) -> CFRecommender | None:
    """The collaborative model at ``path`` if it exists and was trained on this catalog, else None."""
    if not path.exists():
        logger.info("no collaborative model at %s: rankings are not personal (run 'shopbot setup')", path)
        return None
    from recommender.cf.recommender import CFRecommender

    try:
        recommender = CFRecommender.load(path, fingerprint=catalog.fingerprint())
    except CatalogMismatch as exc:
        logger.warning("%s; rankings are not personal until then", exc)
        return None
    recommender.describe = lambda pid: _product_name(catalog, pid)
    return recommender


def _product_name(catalog: Catalog, product_id: str) -> str:
    """How reasons name a product: its title, shortened."""
    try:
        return shorten(catalog.get_product(product_id).display_title, 60)
    except ProductNotFound:
        return product_id


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


