"""Okapi BM25 over a few short texts held in memory (a policy file's sections), scaled to 0..1 per query.

Terms: English words minus stop words, crudely suffix-stripped ("returns", "returned" -> "return"), and the
character bigrams of each Chinese run ("退货期限" -> 退货, 货期, 期限). The catalog's keyword search is FTS5's
(recommender/catalog/keyword_index.py); these texts are a dozen sections, read again whenever their file
changes, so they are counted here rather than put in an FTS5 table.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

__all__ = ["Bm25", "terms"]

_STOP = frozenset("""
a an the and or of to in on at for from by with is are was were be been am do does did done doing i me my mine
we us our you your yours it its this that these those there here what whats what's which who whom whose when
where why how can could will would shall should may might must if so not no yes than then as about into out up
down over under again any all some each both just too very also get got have has had having please anything
something thing things one
""".split())
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "edly", "ed", "es", "s", "ly", "er")
_WORD = re.compile(r"[a-z0-9€$£¥]+")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")


def _stem(word: str) -> str:
    """The word without the first of ``_SUFFIXES`` that leaves three letters ("ies"/"ied" -> "y")."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word


def terms(text: str) -> list[str]:
    """The terms of ``text``: stemmed English words that are not stop words, then Chinese character bigrams."""
    text = text.lower()
    out = [_stem(w) for w in _WORD.findall(text) if w not in _STOP]
    for run in _CJK_RUN.findall(text):
        out += [run[i:i + 2] for i in range(len(run) - 1)]
    return out


class Bm25:
    """BM25 (k1 1.2, b 0.75, FTS5's constants) of a query's distinct terms in each of ``documents``."""

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self._counts = [Counter(terms(d)) for d in documents]
        lengths = np.array([sum(c.values()) for c in self._counts], dtype=np.float64)
        self._norm = k1 * (1 - b + b * lengths / max(lengths.mean(), 1.0))  # (D,) the length part of each
        n, having = len(documents), Counter(t for c in self._counts for t in c)
        self._idf = {t: math.log(1 + (n - k + 0.5) / (k + 0.5)) for t, k in having.items()}
        self._unknown_idf = math.log(1 + (n + 0.5) / 0.5)  # a term no document has: the highest idf

    def scores(self, query: str) -> np.ndarray:
        """(D,) each document's BM25 of the query, divided by the query's highest possible score ((k1 + 1) idf
        summed over its terms, those no document has included): 0 when no term matches, 1 at most."""
        out = np.zeros(len(self._counts))
        query_terms = set(terms(query))
        for term in query_terms & self._idf.keys():
            f = np.array([c.get(term, 0) for c in self._counts], dtype=np.float64)
            out += self._idf[term] * f * (self.k1 + 1) / (f + self._norm)
        highest = sum(self._idf.get(t, self._unknown_idf) for t in query_terms) * (self.k1 + 1)
        return out / highest if highest else out
