"""The hybrid ranker: query relevance + personal score + popularity inside hard filters, then diversity.

Candidates are the products passing every filter (``Catalog.filter_mask``), or all products when no
filter is set, minus ``exclude``. Each candidate gets::

    score = w_sem * max(cos(query, product), 0)              # sentence-encoder similarity, 0..1
          + w_kw  * bm25(product) / max bm25                 # FTS keyword match, 0..1 (best match = 1)
          + w_personal * exp(cf(product) - max cf)           # collaborative model, 0..1 (best candidate = 1)
          + w_pop * prior(product)                           # popularity prior, 0..1 (``prior`` module)
          + w_named * (in_named_categories(product)          # in the categories the query names, 0..1
                       + of_named_brands(product))           # and of the brands it names, 0..1

with the weights of ``SearchConfig``. ``in_named_categories`` is the share of the shop's categories the
query names ("eye creams": Eyes and Creams; ``kinds``), other than the category filter's, that the
product is in (any level of its path), ``of_named_brands`` the same for brands, so a shopper who names
what the shop has finds it first even when nothing made it a filter. Both are taken only for a query
that is nothing but such names and filler ("gels", "anything from HongNuo"; not "body exfoliator", where
"body" names a level of body lotions), categories only when some product is in all of them, and a brand
named by a word more of other brands' products have than its own only when it is named alone ("Clear",
not "clear nail polish"). ``cf`` is the collaborative model's score after the shopper's
known history and this session's items (``CFRecommender.scores``), so ``exp(cf - max cf)`` is the
candidate's probability relative to the likeliest candidate; it is 0 without a model or without
any history (a new shopper is ranked by relevance and popularity). The prior is the shoppers who
bought the product; a catalog without histories uses its review counts, then its products' dates
(newest first), and with none of them is ranked by relevance alone, ties by product id.

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
with the source product's vector as the query (its blend and tiers: ``similar``'s module docstring).

Query vectors: the vectors of the last ``query_cache_size`` distinct query texts are kept, so "show
me more", a new filter on the same words, or a query many shoppers type costs no encoding (the
encoder is most of a new query's time; ``semantic.Semantic``).

Other languages: the catalog's language is taken to be English. A query in Chinese, or one the
language identifier reads as another language (``i18n.detect``: "Ich suche eine Wimperntusche"), is
read by the multilingual encoder (USE multilingual, ``text.multilingual``) against its own vectors of
the products (built by set-up beside MiniLM's, 30 s for the shipped catalog; ``from_paths`` loads
them): sem is that cosine, the relevance floor divides by that encoder's own reference cosine and
uses ``relevance_floor_multilingual``. Its words are no keyword matches ("pour" is no match for
"Prada Pour Homme"), except the Latin words of a Chinese text ("OPI 指甲油"). The shop's aliases of the
filters' brand and category ("美宝莲", "洗发水": ``shopbot catalog build --brand-aliases``,
``--category-aliases``) name nothing more than the filters, and a query in another language with a
category filter has no floor (its other words only order the products of that kind). Such a query
scores every candidate (no vector index shortlist: the index holds MiniLM's vectors).
bench/cross_lingual.py measures it (results/cross_lingual.md).

A catalog written in Chinese (Han characters in at least ``HAN_CATALOG_SHARE`` of its products) is read
by the multilingual vectors for every query, English ones too, and its keyword index matches Han words
by their characters and pairs (catalog/keyword_index.py). There a Chinese query none of whose pairs the
index has names nothing the shop sells (``no_match``), and one whose every character a candidate's
keyword matches spell out ("小米" and "手机" for "小米手机") passes the relevance floor whatever its
cosine; the "close in meaning" reason of the multilingual side needs the same share of its reference
cosine as MiniLM's does of its own (``_reason_min``). bench/chinese_catalog.py measures it.

The query is parsed by ``query.parse_query`` (price phrases and filler dropped); the reasons are
worded by ``reasons`` (its docstring lists them), the collaborative model is reached through
``cf_bridge.CFBridge``, and top-k and diversity are the array functions of ``topk``.

When no product passes the filters, ``SearchOutcome.relax`` names the single filter whose removal
gives results, trying ``RELAX_ORDER`` in turn (price first, the product type last).

Relevance floor: a query whose words name something (words left after the price phrases, the filler
and the words of the filters themselves: "only OPI" with the brand filter OPI names nothing more) must
find a candidate close enough in meaning. The measure (``relevance``) is the best candidate's cosine
with the query text divided by the catalog's reference cosine (``reference_cosine``: the median, over
its largest categories, of the best cosine between a category's name and a product in it). The
reference makes one floor fit catalogs whose product texts differ: a product text with a
description or facets is longer, and every query is less close to it (the shipped catalog's
reference is 0.65; the fixtures' with descriptions 0.53-0.57). It is not the hybrid score: the
keyword part is normalised by the best match, so the best hit always has 1. When no candidate
reaches ``relevance_floor``, no product is listed: ``SearchOutcome.no_match`` when no product of the
whole catalog reaches it (the shop does not carry it), else ``relax`` names the filter whose removal
finds one ("Prada mascara": drop the brand). A search with no words (filters only) and ``similar``
have no floor. The floor was measured on the shipped catalog and checked on two other shops'
(bench/relevance_floor.py, results in bench/results/relevance_floor.md).

Spelling: a query word the keyword index does not know that is one typo from a word of the
catalog's category names or facet values is read as that word ("shampo" -> "shampoo"; ``spelling``).

Facets: words of the query that are exactly a facet value given as a filter ("black", "women") are
dropped from its text like price phrases; ``facets_in`` finds the facet values a text names
(``facets.FacetVocabulary``).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recommender.catalog.naming import common_word_brands, worth_naming
from recommender.catalog.products import Catalog, Product
from recommender.catalog.types import singular_key
from recommender.i18n.detect import HAN, detect
from recommender.ranking import reasons
from recommender.ranking.cf_bridge import CFBridge, Scored, load_recommender, positions
from recommender.ranking.facets import FacetVocabulary
from recommender.ranking.filters import RELAX_ORDER, Filters
from recommender.ranking.kinds import Names
from recommender.ranking.prior import Prior
from recommender.ranking.query import Query, parse_query
from recommender.ranking.semantic import Semantic
from recommender.ranking.similar import in_two_tiers, kind_count, kind_mask
from recommender.ranking.spelling import Speller
from recommender.ranking.topk import diversify, top_k
from recommender.text.embeddings import ProductEmbeddings, cache_path, product_text
from recommender.text.encoder import Encoder, TextEncoder
from recommender.text.multilingual import MultilingualEncoder

if TYPE_CHECKING:
    from recommender.cf.recommender import CFRecommender
    from recommender.text.vector_index import VectorIndex

logger = logging.getLogger(__name__)

__all__ = ["ProductSearch", "ScoredProduct", "SearchConfig", "SearchOutcome"]

_WORD = re.compile(r"\w+")
_NO_ROWS = np.empty(0, dtype=np.int64)
# The reference cosine of a catalog without categories: the shipped catalog's (bench/results/relevance_floor.md),
# MiniLM's and the multilingual vectors' (its log line at start: "reference cosine 0.535 of ...").
DEFAULT_REFERENCE = 0.65
DEFAULT_REFERENCE_MULTILINGUAL = 0.535
HAN_CATALOG_SHARE = 0.5  # a catalog with Han characters in this share of its products is written in Chinese
Hits = tuple[np.ndarray, np.ndarray, list[tuple[str, ...]]]  # keyword matches: rows, bm25 scores, matched terms
Named = dict[tuple[str, str], list[str]]  # ("category" | "brand", name) -> the query's phrases that name it
_NO_HITS: Hits = (_NO_ROWS, np.empty(0), [])


@dataclass(frozen=True)
class SearchConfig:
    """Weights and thresholds of the hybrid score (see the module docstring for the formula)."""

    w_sem: float = 0.6  # semantic similarity: finds "cleanser" for "face wash"
    w_kw: float = 0.35  # keyword match: rewards products that literally say what was asked
    w_pop: float = 0.05  # popularity prior: a tie-breaker, and the ranking for empty queries
    w_personal: float = 0.3  # collaborative score: reorders what is relevant by what this shopper is likely to buy
    w_named: float = 0.2  # of a category or brand the query names ("gels", "HongNuo"): bench/quality.py
    diversity: float = 0.15  # near-duplicate penalty of the diversity step (0 = off): as much as w_personal
    similarity_floor: float = 0.85  # text cosine above which two products count as near-duplicates
    diversity_pool: int = 50  # best candidates the diversity step may reorder
    semantic_reason_min: float = 0.5  # cos needed before saying "close in meaning to"
    personal_reason_min: float = 0.2  # personal part (0..1) needed before giving the model's reasons
    popular_reason_min: int = 30  # shoppers (or reviews) before saying "popular: ..." (~top 10% here)
    keyword_limit: int = 500  # keyword matches used per query without filters (the best ones)
    keyword_limit_filtered: int = 1000  # with filters: matches inside the filter may rank lower overall
    max_query_chars: int = 300  # longer user text is cut at a word boundary
    query_cache_size: int = 4096  # distinct recent query texts whose vectors are kept (0 = none; 1.5 KB each)
    index_min_products: int = 200_000  # catalogs this big rank with the vector index ("Large catalogs")
    index_candidates: int = 1000  # products taken from the index per query (that pass the filters)
    index_nprobe: int = 32  # lists the index scans: recall@10 0.955 in 5 ms at 1M products (bench/scale.py)
    index_min_share: float = 0.5  # the index is used when the candidates are at least this share of the catalog
    # Relevance (best cosine / reference cosine) below which nothing is listed (0 = off). Measured by
    # bench/relevance_floor.py: on the shipped catalog (reference 0.643, so a cosine of 0.45) no category
    # name or request in real phrasing of 152 is refused (the lowest is at 0.72), 1 typo of 15, and 22% of
    # 91 requests for what other shops sell are still listed (lexical look-alikes: "paper towels" ->
    # salon towels); on the fixture shops 1 of 46 requests refused, none of 40 others listed.
    relevance_floor: float = 0.70
    # The same for a query the multilingual vectors read (reference: theirs, 0.535 on the shipped
    # catalog): their cosines across languages are closer together. bench/cross_lingual.py's queries on
    # the shipped catalog, the relevance of their words alone: 88% of 110 Chinese category names reach
    # 0.55 (69% reach 0.70), 1 of 40 Chinese requests for what other shops sell (the highest: 0.62).
    relevance_floor_multilingual: float = 0.55
    relevance_reference: float | None = None  # the reference cosine; None: measured on the catalog's categories
    reference_categories: int = 100  # largest categories whose names measure the reference
    # Similar products (recommender/ranking/similar.py). Chosen on 200 random products (seed 7, not the
    # bench's) as the most of the same kind in the top 5 that keeps the co-purchase hit rate@10 of the
    # blend before (0.618): share 0.7 / weight 1.0 gave 0.777 / 0.628; 0.8 gave 0.777 / 0.563; 0.6
    # gave 0.614 / 0.653. Measured on the bench's products by bench/quality.py (results/quality.md).
    similar_w_bought: float = 1.0  # what shoppers buy with the source (the model's part, 0..1)
    similar_kind_share: float = 0.7  # share of a list given to the same kind of product first (4 of 5, 7 of 10)
    multilingual: bool = True  # from_paths loads the multilingual product vectors ("Other languages")


@dataclass(frozen=True)
class ScoredProduct:
    """A search result: the product, its score and why it was chosen."""

    product: Product
    score: float
    reasons: tuple[str, ...]  # English; each a ``Text`` the shopper's language can say (``said``)


@dataclass(frozen=True)
class SearchOutcome:
    """Ranked results; ``relax`` names the filter to drop when nothing passed the filters (or the
    relevance floor); ``no_match``: the query named something and no product of the catalog is
    relevant to it (then ``results == []``); ``out_of_stock``: with the in-stock filter, how many of the
    products the same search shows without it are out of stock (left out of this page)."""

    results: list[ScoredProduct]
    relax: str | None = None
    no_match: bool = False
    out_of_stock: int = 0


class ProductSearch:
    """The hybrid ranker over one catalog, its embeddings and (optionally) a collaborative model."""

    def __init__(self, catalog: Catalog, encoder: Encoder, embeddings: ProductEmbeddings,
                 config: SearchConfig | None = None, recommender: CFRecommender | None = None,
                 index: VectorIndex | None = None,
                 multilingual: tuple[Encoder, ProductEmbeddings] | None = None) -> None:
        """``index``: the vector index of ``embeddings`` on a large catalog (module docstring), else None.
        ``multilingual``: a multilingual encoder and its vectors of the catalog's products, for queries
        in another language than the catalog's (module docstring, "Other languages"), or None."""
        self.catalog = catalog
        self.encoder = encoder
        self.embeddings = embeddings
        self.config = config or SearchConfig()
        self.cf = CFBridge(recommender, embeddings.ids)
        self.index = index
        self._prior: Prior | None = None
        self._pop_norm: np.ndarray | None = None
        # Read-only while serving, so computed once: the embedding row of each catalog product (-1: no
        # vector), every row, and each row's rank by product id (the deterministic tie-break).
        self._catalog_rows = embeddings.row_numbers(catalog.product_ids())
        self._all_rows = np.arange(len(embeddings))
        self._id_rank = np.empty(len(embeddings), dtype=np.int64)
        self._id_rank[np.argsort(np.array(embeddings.ids, dtype=str), kind="stable")] = self._all_rows
        # The vectors again one row per dimension below the index's size only (+18.6 MB on the shipped
        # catalog; it would be +1.5 GB at 1M products).
        small = len(embeddings) < self.config.index_min_products
        self._text = Semantic(encoder, embeddings.matrix, cache_size=self.config.query_cache_size, by_dim=small,
                              blocks=index is not None)
        self._foreign: Semantic | None = None
        if multilingual is not None:
            other_encoder, other = multilingual
            found = other.row_numbers(embeddings.ids)  # the other vectors in this ranker's row order
            matrix = np.where((found >= 0)[:, None], other.matrix[found.clip(0)], 0).astype(np.float32)
            self._foreign = Semantic(other_encoder, matrix, cache_size=self.config.query_cache_size, by_dim=small,
                                     blocks=False)
        self.currency = catalog.currency()  # prices in the reasons
        self._written_in_han = catalog.han_share() >= HAN_CATALOG_SHARE  # "Other languages"
        self._facets: FacetVocabulary | None = None
        self._spelling: Speller | None = None
        self._aliases: dict[tuple[str, str], list[str]] | None = None  # (brand|category, name) -> its aliases
        self._names: dict[str, Names] = {}  # "category" | "brand" -> the catalog's names of that kind
        self._named_rows: dict[tuple[str, str], np.ndarray] = {}  # (kind, name) -> (len(embeddings),) bool
        self._common: frozenset[str] = frozenset()  # brands named by a common word of the shop's titles

    @classmethod
    def from_paths(cls, catalog_path: str | Path | None = None, cache_dir: str | Path | None = None,
                   *, progress: bool = True, model_path: str | Path | None = None,
                   config: SearchConfig | None = None) -> ProductSearch:
        """Open the catalog, load (or build and cache) its embeddings with the packaged model (and their
        vector index on a large catalog) and with the multilingual one (``SearchConfig.multilingual``),
        and load the collaborative model trained by set-up when it exists for this catalog."""
        from recommender import config as settings

        config = config or SearchConfig()
        catalog = Catalog.open(catalog_path or settings.catalog_path())
        encoder = TextEncoder()
        cache_dir = cache_dir or settings.cache_dir()
        embeddings = ProductEmbeddings.load_or_build(catalog, encoder, cache_dir, progress=progress)
        multilingual = None
        if config.multilingual:
            other = MultilingualEncoder()
            multilingual = other, ProductEmbeddings.load_or_build(catalog, other, cache_dir, progress=progress)
        index = None
        if len(embeddings) >= config.index_min_products:
            from recommender.text.vector_index import VectorIndex

            index = VectorIndex.load_or_build(embeddings, cache_path(cache_dir, encoder.model_id).parent)
        recommender = load_recommender(catalog, Path(model_path or settings.cf_model_path()))
        return cls(catalog, encoder, embeddings, config, recommender=recommender, index=index,
                   multilingual=multilingual)

    @property
    def recommender(self) -> CFRecommender | None:
        """The collaborative model, None when rankings are not personal."""
        return self.cf.recommender

    def knows(self, shopper_id: str | None, session_items: Sequence[str] = ()) -> bool:
        """True when the collaborative model has a history to personalise with (known shopper or session)."""
        return self.cf.knows(shopper_id, session_items)

    def close(self) -> None:
        """Close the catalog."""
        self.catalog.close()

    # ---- search --------------------------------------------------------------------------------

    def search(self, query: str, filters: Filters = Filters(), n: int = 5, exclude: Collection[str] = (),
               *, shopper_id: str | None = None, session_items: Sequence[str] = ()) -> SearchOutcome:
        """The top ``n`` products for a free-text query within the filters, with reasons; nothing when
        no candidate reaches the relevance floor (module docstring).

        Args:
            shopper_id: a shopper whose known history personalises the ranking (unknown ids are fine).
            session_items: products this conversation showed interest in (liked, added to the cart).
        """
        filters = filters or Filters()
        return self._counting_out_of_stock(filters, lambda f: self._search(query, f, n, exclude, shopper_id,
                                                                           session_items))

    def _counting_out_of_stock(self, filters: Filters, run: Callable[[Filters], SearchOutcome]) -> SearchOutcome:
        """``run(filters)``; with the in-stock filter on a catalog that has products out of stock, with the
        count of those ``run`` without it shows (``SearchOutcome.out_of_stock``: a second run)."""
        outcome = run(filters)
        if not filters.in_stock or not outcome.results or not self.catalog.sells_out():
            return outcome
        every = run(filters.without("in_stock"))
        return replace(outcome, out_of_stock=sum(not r.product.in_stock for r in every.results))

    def _search(self, query: str, filters: Filters, n: int, exclude: Collection[str], shopper_id: str | None,
                session_items: Sequence[str]) -> SearchOutcome:
        q, hits = self._understood(query, filters)
        space = self._space(q, hits)
        named = self._named(query, q, filters)
        floored = self._floored(query, q, filters, space)
        by_name = named if floored else {}  # a candidate a query of names only names is relevant
        rows, outcome = self._candidates(filters, exclude)
        if outcome is not None and not floored:
            logger.debug("search %r %s: no product passes the filters (relax: %s)", q.text, filters, outcome.relax)
            return outcome
        cfg = self.config
        vector = space.vector(q.text) if q.text else None
        if floored and not len(rows):  # the filter to drop is one whose removal finds a relevant product
            return self._irrelevant(space, vector, filters, exclude, by_name)
        scored = self._cf_scores(shopper_id, session_items)
        han = bool(HAN.search(q.text))
        if floored and han and self._written_in_han and not len(hits[0]) and not by_name:
            logger.debug("search: no product of this Chinese catalog has a word of %r", q.text)
            return SearchOutcome([], None, no_match=True)
        rows = self._shortlist(rows, vector if space is self._text else None, hits[0], scored)
        sem = space.cosines(vector, rows)
        kw, matched = self._keyword(hits if space is self._text or han or self._written_in_han else _NO_HITS, rows)
        kinds, brands = (cfg.w_named * self._named_share(named, kind, rows) for kind in ("category", "brand"))
        if floored and sem.max() < self._floor(space) and not (han and _spelled_out(q.terms, matched.values())) \
                and not (by_name and (kinds + brands).max() > 0):
            return self._irrelevant(space, vector, filters, exclude, by_name)
        personal = self.cf.personal(rows, scored)
        pop = self._popularity_norm()[rows]
        scores = cfg.w_sem * sem + cfg.w_kw * kw + cfg.w_personal * personal + cfg.w_pop * pop + kinds + brands
        top = self._ranked(scores, rows, n)
        personal_reasons = self.cf.history_reasons([p.id for i, p in top if personal[i] >= cfg.personal_reason_min],
                                                   scored)
        results = []
        said_close = self._reason_min(space)
        for i, product in top:
            why = self._reasons(product, q, filters, (sem[i], said_close), kw[i], matched.get(i, ()),
                                (cfg.w_personal * personal[i], personal_reasons.get(product.id, ())), float(pop[i]),
                                (float(kinds[i]), float(brands[i]), named))
            results.append(ScoredProduct(product, round(float(scores[i]), 6), why))
        return SearchOutcome(results, None)

    def relevance(self, query: str, filters: Filters = Filters()) -> float | None:
        """The relevance floor's measure for a query: the best cosine between its text and a product
        passing the filters (0 when none passes), divided by the reference cosine of the encoder that
        reads it; None when the floor does not apply (no words beyond the filters' own)."""
        filters = filters or Filters()
        q, hits = self._understood(query, filters)
        space = self._space(q, hits)
        if not self._floored(query, q, filters, space):
            return None
        sem = space.cosines(space.vector(q.text), self._passing(filters, _NO_ROWS))
        return float(sem.max()) / self._reference(space) if len(sem) else 0.0

    def warm_up(self) -> None:
        """Load the encoders, measure their reference cosines and read the shop's names now (~2 s on the
        shipped catalog), not on a shopper's first search."""
        self._read_names()
        for space in (self._text, self._foreign):
            if space is not None:
                space.encoder.encode(["warm up"])
                self._reference(space)

    def reference_cosine(self) -> float:
        """The catalog's reference cosine (module docstring): ``SearchConfig.relevance_reference`` when
        set, else measured once on the names of its largest categories (``DEFAULT_REFERENCE`` without)."""
        return self._reference(self._text)

    def _reference(self, space: Semantic) -> float:
        """The reference cosine of one encoder's side (the configured one is the catalog language's; without
        categories, the shipped catalog's for that encoder)."""
        if space is self._text and self.config.relevance_reference is not None:
            return self.config.relevance_reference
        if space.reference is None:
            names = [text for name, _ in self.catalog.categories()[:self.config.reference_categories]
                     if (text := parse_query(name, self.config.max_query_chars).text)]
            vectors = space.encoder.encode(names) if names else []
            best = [float(sims.max()) for vector, name in zip(vectors, names)
                    if len(sims := space.cosines(vector, self._passing(Filters(category=name), _NO_ROWS)))]
            space.reference = float(np.median(best)) if best else \
                DEFAULT_REFERENCE if space is self._text else DEFAULT_REFERENCE_MULTILINGUAL
            logger.info("relevance floor: reference cosine %.3f of %s from %d categories", space.reference,
                        space.encoder.model_id, len(best))
        return space.reference

    def _floor(self, space: Semantic) -> float:
        """The relevance floor as a cosine of one encoder's side."""
        cfg = self.config
        floor = cfg.relevance_floor_multilingual if space is self._foreign else cfg.relevance_floor
        return floor * self._reference(space)

    def _reason_min(self, space: Semantic) -> float:
        """The cosine before saying "close in meaning to": ``semantic_reason_min`` for MiniLM's; for the
        multilingual vectors, the same share of their reference cosine as of MiniLM's on the shipped catalog."""
        cfg = self.config
        return cfg.semantic_reason_min if space is self._text else \
            cfg.semantic_reason_min / DEFAULT_REFERENCE * self._reference(space)

    def _space(self, q: Query, hits: Hits) -> Semantic:
        """The encoder's side that reads a query, when the catalog has multilingual vectors: theirs for
        every query of a catalog written in Chinese, for a text in Chinese, or in another language than
        English (``detect``) with a word the keyword index does not know ("Wimperntusche"; not "eau de
        parfum" nor "Calvin Klein"), else MiniLM's."""
        if self._foreign is None or not q.text:
            return self._text
        if self._written_in_han or HAN.search(q.text):
            return self._foreign
        known = {term for terms in hits[2] for term in terms}
        foreign = not set(q.terms) <= known and detect(q.text) not in (None, "en")  # the identifier last: it costs most
        return self._foreign if foreign else self._text

    def facets_in(self, text: str) -> dict[str, str]:
        """Facet name -> value for each of the catalog's facet values ``text`` names as whole words
        ("black jeans for women" -> {"colour": "black", "gender": "women"}); {} without facets."""
        return self._facet_vocabulary().named_in(text)

    def _facet_vocabulary(self) -> FacetVocabulary:
        if self._facets is None:  # read once: the catalog is read-only while serving
            self._facets = FacetVocabulary(self.catalog.facets())
        return self._facets

    def _understood(self, query: str, filters: Filters) -> tuple[Query, Hits]:
        """The query parsed, less the words that name its facet filters, with the words the keyword
        index does not know corrected when they are a typo of what the shop sells; and its keyword hits."""
        drop = [form for name, value in filters.facets for form in FacetVocabulary.forms(name, value)]
        q = parse_query(query, self.config.max_query_chars, drop)
        hits = self._keyword_hits(q, filtered=not filters.is_empty())
        known = {term for terms in hits[2] for term in terms}
        fixes = {term: fixed for term in q.terms if term not in known and (fixed := self._speller().correct(term))}
        if not fixes:
            return q, hits
        logger.debug("search: spelling %s", fixes)
        fixed_text = _WORD.sub(lambda m: fixes.get(m.group().lower(), m.group()), q.text)
        q = parse_query(fixed_text, self.config.max_query_chars)
        return q, self._keyword_hits(q, filtered=not filters.is_empty())

    def _aliases_of(self, filters: Filters) -> list[str]:
        """The shop's aliases of the filters' brand and category ("美宝莲", "洗发水"): words a query
        names the filters by, so they name nothing more."""
        if self._aliases is None:  # read once: the catalog is read-only while serving
            shop = self.catalog.shop()
            self._aliases = {}
            for kind, aliases in (("brand", shop.brand_aliases), ("category", shop.category_aliases)):
                for alias, name in aliases.items():
                    self._aliases.setdefault((kind, name.casefold()), []).append(alias)
        return [alias for kind, value in (("brand", filters.brand), ("category", filters.category)) if value
                for alias in self._aliases.get((kind, value.casefold()), ())]

    def _named(self, query: str, q: Query, filters: Filters) -> Named:
        """The shop's categories and brands the query names (as typed, or as its words were corrected), each
        with the phrases that name it, not the filters' own, when the query says nothing else ("gels", "eye
        creams", "anything from HongNuo"; not "body exfoliator", where "body" names a level that holds body
        lotions too); a brand named by a common word of the shop's titles (``common_word_brands``) only when the
        query is that name ("Clear", not "clear nail polish")."""
        if not self._names:
            self._read_names()
        found: Named = {}
        for kind, names in self._names.items():
            for text in (query, q.text):
                for name, phrases in names.named_in(text).items():
                    found.setdefault((kind, name), []).extend(phrases)
        given = {"category": filters.category, "brand": filters.brand}
        named = {(kind, name): phrases for (kind, name), phrases in found.items()
                 if not given[kind] or name.casefold() != given[kind].casefold()}
        common = [key for key in named if key[0] == "brand" and key[1] in self._common]
        if common and self._beyond(query, q, filters, {key: named[key] for key in common}):
            named = {key: phrases for key, phrases in named.items() if key not in common}
        return named if named and not self._beyond(query, q, filters, named) else {}

    def _read_names(self) -> None:
        """Read the shop's category and brand names, and its common-word brands (a pass over every product's
        title), once: the catalog is read-only while serving."""
        shop = self.catalog.shop()
        brands = [brand for rank, (brand, count) in enumerate(self.catalog.brands()) if worth_naming(rank, count)]
        self._names = {"category": Names(self.catalog.category_names(), shop.category_aliases, plural=True),
                       "brand": Names(brands, shop.brand_aliases)}
        self._common = common_word_brands(self.catalog, brands)

    def _named_share(self, named: Named, kind: str, rows: np.ndarray) -> np.ndarray:
        """(len(rows),) float32: the share of the named names of ``kind`` ("category", "brand") each candidate
        row is in; 0 for categories no product is in all of ("makeup brush": Makeup and the hair Brushes
        name no product together, the makeup brushes are in neither)."""
        share = np.zeros(len(rows), dtype=np.float32)
        inside = [self._rows_of(key) for key in named if key[0] == kind]
        if not inside or (kind == "category" and not np.logical_and.reduce(inside).any()):
            return share
        for rows_of in inside:
            share += rows_of[rows]
        return share / len(inside)

    def _rows_of(self, key: tuple[str, str]) -> np.ndarray:
        """(len(embeddings),) bool: the products of a (kind, name), kept (a shop may have thousands of names)."""
        if key not in self._named_rows:
            if len(self._named_rows) >= 256:
                self._named_rows.clear()
            inside = np.zeros(len(self.embeddings), dtype=bool)
            inside[self._passing(Filters(**{key[0]: key[1]}), _NO_ROWS)] = True
            self._named_rows[key] = inside
        return self._named_rows[key]

    def _speller(self) -> Speller:
        if self._spelling is None:  # read once: the catalog is read-only while serving
            names = self.catalog.categories() + [pair for values in self.catalog.facets().values() for pair in values]
            self._spelling = Speller(names)
        return self._spelling

    def _floored(self, query: str, q: Query, filters: Filters, space: Semantic) -> bool:
        """True when the relevance floor applies: it is on and the query has words beyond the filters' own
        (``_beyond``). A query in another language with a category filter has none: the filter says the shop
        carries that kind of product, and the multilingual vectors are too coarse to judge the rest
        ("膏状腮红": cream blush)."""
        if self.config.relevance_floor <= 0 or not q.text or (space is self._foreign and filters.category):
            return False
        return self._beyond(query, q, filters)

    def _beyond(self, query: str, q: Query, filters: Filters, named: Named | None = None) -> bool:
        """True when the query has words beyond the filters' own, singular or plural ("conditioner" is the
        category "Conditioners"), beyond the shop's aliases of them ("我想买洗发水" with the category Shampoos
        names nothing more), and beyond the phrases of ``named`` (categories and brands it names), as typed
        and as understood ("Yes To" is "Yes" once its last stop word is trimmed)."""
        own = {singular_key(word) for word in filters.words()}
        drop = self._aliases_of(filters) + [phrase for phrases in (named or {}).values() for phrase in phrases]
        beyond = [parse_query(text, self.config.max_query_chars, drop).terms for text in (q.text, query)]
        return all(any(singular_key(term) not in own for term in terms) for terms in beyond)

    def _irrelevant(self, space: Semantic, vector: np.ndarray, filters: Filters, exclude: Collection[str],
                    by_name: Named) -> SearchOutcome:
        """The outcome when no candidate reaches the floor: ``no_match`` when no product of the catalog
        does (nor, for a query made of names only, is in a category or of a brand ``by_name``), else the
        filter whose removal finds one (if a single one does)."""
        close = space.cosines(vector, self._all_rows) >= self._floor(space)
        for kind in ("category", "brand"):
            close |= self._named_share(by_name, kind, self._all_rows) > 0
        relevant = self._all_rows[close]
        if not len(relevant):
            logger.debug("search: nothing in the catalog reaches the relevance floor")
            return SearchOutcome([], None, no_match=True)
        return SearchOutcome([], self._relax(filters, self.embeddings.row_numbers(exclude), among=relevant))

    def similar(self, product_id: str, n: int = 5, filters: Filters = Filters(),
                exclude: Collection[str] = ()) -> SearchOutcome:
        """Products like ``product_id`` within the filters: first the same kind of product, then what is
        bought with it (``similar`` module docstring: the blend, the two tiers and the reasons).
        Raises ProductNotFound for an unknown product.
        """
        source = self.catalog.get_product(product_id)
        filters = filters or Filters()
        return self._counting_out_of_stock(filters, lambda f: self._similar(source, n, f, exclude))

    def _similar(self, source: Product, n: int, filters: Filters, exclude: Collection[str]) -> SearchOutcome:
        product_id = source.id
        rows, outcome = self._candidates(filters, [*exclude, product_id])
        if outcome is not None:
            return outcome
        cfg = self.config
        vector = self.embeddings.matrix[self.embeddings.index_of(product_id)] if product_id in self.embeddings else None
        after = self._cf_scores(None, [product_id])                   # what shoppers go on to buy after it
        rows = self._shortlist(rows, vector, _NO_ROWS, after)
        text = self._text.cosines(vector, rows)
        bought = self.cf.personal(rows, after)
        pop = self._popularity_norm()[rows]
        scores = cfg.w_sem * text + cfg.similar_w_bought * bought + cfg.w_pop * pop
        same = kind_mask(self.catalog, self._catalog_rows, source, rows, text, cfg.semantic_reason_min)
        picked = in_two_tiers(self._ranked, scores, rows, same, kind_count(n, cfg.similar_kind_share), n)
        return SearchOutcome([ScoredProduct(p, round(float(scores[i]), 6),
                                            self._similar_reasons(source, p, filters, text[i], bought[i], pop[i]))
                              for i, p in picked], None)

    def _similar_reasons(self, source: Product, p: Product, filters: Filters, text: float, bought: float,
                         pop: float) -> tuple[str, ...]:
        """The reasons of one similar product (``similar`` module docstring); ``text``, ``bought``, ``pop``:
        its parts of the blend before their weights."""
        cfg = self.config
        scored: list[tuple[float, str]] = []
        if text >= cfg.semantic_reason_min:
            scored.append((cfg.w_sem * text, reasons.described_like(source)))
        if together := self.cf.together_reason(source.id, p.id):
            scored.append((cfg.similar_w_bought * bought, together))
        if said := self.prior().reason(p.id, cfg.popular_reason_min, ranking=False):
            scored.append((cfg.w_pop * pop, said))
        return reasons.by_contribution(scored) + reasons.also_like(p, source) + \
            reasons.filter_reasons(p, filters, self.currency)

    def _ranked(self, scores: np.ndarray, rows: np.ndarray, n: int) -> list[tuple[int, Product]]:
        """The ``n`` best candidates after the diversity step, as (candidate index, product), best first."""
        cfg = self.config
        pool = top_k(scores, rows, self._id_rank, max(n, cfg.diversity_pool) if n > 0 else 0)
        top = diversify(pool, scores, self.embeddings.matrix[rows[pool]], n, cfg.diversity, cfg.similarity_floor)
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
            picked.append(self.cf.top_rows(scored[0], k))
        wanted = np.unique(np.concatenate(picked))
        kept = wanted[positions(rows, wanted) >= 0]
        return kept if len(kept) else rows

    def _keyword_hits(self, q: Query, filtered: bool) -> Hits:
        """The keyword search's matches: their rows (-1: no vector), bm25 scores and matched terms."""
        hits = self.catalog.keyword_search(" ".join(q.terms), limit=self.config.keyword_limit_filtered if filtered
                                           else self.config.keyword_limit) if q.terms else []
        return (self.embeddings.row_numbers([pid for pid, _, _ in hits]),
                np.array([s for _, s, _ in hits], dtype=np.float64), [terms for _, _, terms in hits])

    def _keyword(self, hits: Hits, rows: np.ndarray) -> tuple[np.ndarray, dict[int, tuple[str, ...]]]:
        """bm25 / best bm25 of each candidate (0 when not matched), and candidate index -> matched terms."""
        kw = np.zeros(len(rows), dtype=np.float32)
        hit_rows, score, terms = hits
        if not len(hit_rows):
            return kw, {}
        found = positions(rows, hit_rows)
        kept = np.flatnonzero(found >= 0)
        kw[found[kept]] = score[kept] / score.max()
        return kw, {int(found[j]): terms[j] for j in kept.tolist()}

    def _cf_scores(self, shopper_id: str | None, session_items: Sequence[str]) -> Scored | None:
        """The collaborative model's (scores, history); None without a personal part (module docstring)."""
        return self.cf.scores(shopper_id, session_items) if self.config.w_personal != 0 else None

    def _popularity_norm(self) -> np.ndarray:
        if self._pop_norm is None:
            self._pop_norm = self.prior().normalised(self.embeddings.ids)
        return self._pop_norm

    def prior(self) -> Prior:
        """The ranking's prior (``prior`` module), read once from the catalog."""
        if self._prior is None:
            self._prior = Prior.of(self.catalog)
        return self._prior

    def popularity(self) -> dict[str, int]:
        """product_id -> shoppers who interacted with it ({} when the catalog has no histories)."""
        prior = self.prior()
        return prior.raw if prior.kind == "shoppers" else {}  # Catalog.popularity()'s counts, read once

    def _relax(self, filters: Filters, excluded: np.ndarray, among: np.ndarray | None = None) -> str | None:
        """The first filter of ``RELAX_ORDER`` whose removal lets a product through (one of the rows
        ``among``, when given), None when no single removal does."""
        for name in RELAX_ORDER:
            if filters.is_set(name):
                rows = self._passing(filters.without(name), excluded)
                if len(rows) if among is None else np.isin(among, rows).any():
                    return name
        return None

    def _reasons(self, p: Product, q: Query, filters: Filters, sem: tuple[float, float], kw: float,
                 matched: Sequence[str], personal: tuple[float, Sequence[str]], pop: float,
                 named: tuple[float, float, Named]) -> tuple[str, ...]:
        """The reasons of one search result (``reasons`` module docstring); ``sem``: its cosine and the
        cosine needed to say so (``_reason_min``), ``pop``: its popularity part, 0..1; ``named``: its parts
        for the categories and the brands the query names, and those names."""
        cfg = self.config
        scored: list[tuple[float, str]] = []
        phrases = reasons.matched_phrases(q.positions, q.spelled, matched, product_text(p)) if kw > 0 else []
        if phrases:
            scored.append((cfg.w_kw * kw, reasons.matches(phrases)))
        if q.text and sem[0] >= sem[1]:
            scored.append((cfg.w_sem * sem[0], reasons.close_in_meaning(q.text)))
        scored += [(personal[0], text) for text in personal[1]]
        kinds, brands, names = named
        if kinds > 0 and (kind := reasons.named_kind(p, [name for key, name in names if key == "category"])):
            scored.append((kinds, kind))
        if brands > 0 and p.brand:
            scored.append((brands, reasons.named_brand(p.brand)))
        if said := self.prior().reason(p.id, cfg.popular_reason_min, ranking=not q.text):
            scored.append((cfg.w_pop * pop, said))
        return reasons.by_contribution(scored) + reasons.filter_reasons(p, filters, self.currency)


def _spelled_out(terms: Sequence[str], matched: Iterable[Sequence[str]]) -> bool:
    """True when one candidate's keyword matches hold every character of every query term (the stretches
    of a Han term: "小米" and "手机" spell out "小米手机")."""
    return any(all(_covered(term, found) for term in terms) for found in matched)


def _covered(term: str, found: Sequence[str]) -> bool:
    """True when the stretches ``found`` of ``term`` cover each of its characters."""
    covered = [False] * len(term)
    for part in found:
        start = term.find(part)
        while part and start >= 0:
            covered[start:start + len(part)] = [True] * len(part)
            start = term.find(part, start + 1)
    return all(covered)

