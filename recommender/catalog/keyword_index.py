"""The catalog's keyword index: FTS5 over title, brand and category path, scored with numpy bm25 postings.

``KeywordIndex`` is handed the catalog's database and a ``positions`` callable (products_fts rowids ->
catalog positions, -1 for no product); it knows nothing else of the catalog.

Chinese writes no spaces, so FTS5's tokenizer takes a whole run of Han characters for one word
("小米手机壳黑色"), and no shopper's word matches it. The index also has each run's characters and
overlapping character pairs (``han_terms``: "手 机 壳 手机 机壳"; the writer fills the column), and a query
word in Han script is looked up as its pairs (a word of one character as itself), any of which may
match, so a product scores by how many of them it has (bm25, as for words): "手机壳" finds phone cases
first, then phones. This is the CJK bigram index of search engines (Lucene's CJKBigramFilter with
unigrams): it needs no dictionary of any shop's words. FTS5's trigram tokenizer was measured against it
(bench/chinese_catalog.py): it cannot match a word of fewer than three characters, and most Chinese
product words have two ("手机", "耳机", "口红").
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sqlite_utils

from recommender.i18n.detect import HAN

KEPT_POSTINGS_BYTES = 256_000_000  # keyword_search keeps recent terms' (product, bm25 part) pairs, 12 bytes each
_BM25_K1, _BM25_B = 1.2, 0.75  # the constants of FTS5's bm25() (fts5_aux.c)

Postings = tuple[np.ndarray, np.ndarray]  # (positions int32, bm25 parts float64) of one term
MAX_PIECES = 62  # looked-up pieces of a query (words, Han pairs); one bit each in a 64-bit mask
# A run of Han characters, with a lone Latin letter written onto its start ("T恤", "U盘": one word)
_HAN_RUN = re.compile(rf"(?:(?<![A-Za-z0-9])[A-Za-z])?{HAN.pattern}+")


def han_terms(text: str) -> list[str]:
    """What the index holds of the Han characters in ``text``: each run's Han characters, then its
    overlapping pairs: "蓝牙耳机 T恤" -> 蓝, 牙, 耳, 机, 蓝牙, 牙耳, 耳机, 恤, T恤."""
    out = []
    for run in _HAN_RUN.findall(text):
        out += [*(c for c in run if not c.isascii()), *(run[i:i + 2] for i in range(len(run) - 1))]
    return out


def _han_pieces(text: str) -> list[tuple[str, int, int]]:
    """What a query word's Han characters are looked up as, with where each is in ``text`` (start, end):
    each run's overlapping pairs, a run of one character itself."""
    out = []
    for run in _HAN_RUN.finditer(text):
        a, b = run.span()
        out += [(text[a:b], a, b)] if b - a == 1 else [(text[i:i + 2], i, i + 2) for i in range(a, b - 1)]
    return out


def _pieces(term: str) -> list[tuple[str, int, int]]:
    """What the index looks up for a query term: its Han pieces, or itself when it has none."""
    return _han_pieces(term) or [(term, 0, len(term))]


def _matched(terms: Sequence[str], pieces: Sequence[tuple[int, str, int, int]], bits: int) -> tuple[str, ...]:
    """The parts of ``terms`` a product matched (bit i: piece i): a term, or for a Han term each longest
    stretch of it whose overlapping pairs all matched ("蓝牙耳机" when its three pairs did)."""
    out: list[str] = []
    spans: dict[int, list[list[int]]] = {}
    for i, (k, _, start, end) in enumerate(pieces):
        if bits >> i & 1:
            runs = spans.setdefault(k, [])
            if runs and start < runs[-1][1]:
                runs[-1][1] = end
            else:
                runs.append([start, end])
    for k, runs in spans.items():
        out += [terms[k][start:end] for start, end in runs]
    return tuple(dict.fromkeys(out))


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _best(matched: np.ndarray, score: np.ndarray, limit: int) -> np.ndarray:
    """The ``limit`` best of the ``matched`` positions (ascending) by score, ties by position."""
    s = score[matched]
    if len(s) > limit:  # only the scores from the limit-th best up can be in the top
        matched = matched[s >= np.partition(s, len(s) - limit)[len(s) - limit]]
        s = score[matched]
    return matched[np.argsort(-s, kind="stable")[:limit]]


def _varints(blob: bytes) -> np.ndarray:
    """Decode a run of SQLite varints (big-endian, 7 bits a byte; values below 2**56) into int64."""
    b = np.frombuffer(blob, dtype=np.uint8).astype(np.int64)
    last = np.flatnonzero(b < 0x80)  # the last byte of each varint
    shift = 7 * (np.repeat(last, np.diff(last, prepend=-1)) - np.arange(len(b)))
    return np.add.reduceat((b & 0x7F) << shift, last - np.diff(last, prepend=-1) + 1) if len(b) else b


def _tokens(schema: str, terms: Sequence[str]) -> list[list[str]]:
    """Each term's tokens as the FTS5 table tokenizes it (a private in-memory copy of its schema)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(schema)
        conn.execute("CREATE VIRTUAL TABLE temp.instances USING fts5vocab(main, products_fts, instance)")
        conn.executemany("INSERT INTO products_fts (rowid, title) VALUES (?, ?)", enumerate(terms))
        tokens: list[list[str]] = [[] for _ in terms]
        for doc, token in conn.execute("SELECT doc, term FROM temp.instances ORDER BY doc, \"offset\""):
            tokens[doc].append(token)
        return tokens
    finally:
        conn.close()


@dataclass(frozen=True)
class _Bm25:
    """What FTS5's bm25() takes from the whole index, read once: the row count and, per product
    position, ``k1 * (1 - b + b * D / avgdl)`` (D: the product's tokens in all columns)."""

    schema: str  # the products_fts CREATE statement (its tokenizer)
    rows: int
    norm: np.ndarray  # (n,) float64, NaN for no FTS row

    @classmethod
    def read(cls, db: sqlite_utils.Database, n: int, positions: Callable[[np.ndarray], np.ndarray]) -> _Bm25:
        """Also creates ``temp.products_fts_instances`` (fts5vocab, instance) on this connection."""
        db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.products_fts_instances"
                   " USING fts5vocab(main, products_fts, instance)")
        (schema,), = db.execute("SELECT sql FROM sqlite_master WHERE name = 'products_fts'").fetchall()
        (averages,), = db.execute("SELECT block FROM products_fts_data WHERE id = 1").fetchall()
        totals = _varints(averages)  # rows, then each column's tokens
        rows = db.execute("SELECT id, sz FROM products_fts_docsize").fetchall()
        size = _varints(b"".join(r[1] for r in rows)).reshape(len(rows), len(totals) - 1).sum(axis=1)
        pos = positions(np.array([r[0] for r in rows], dtype=np.int64))
        norm = np.full(n, np.nan)
        avgdl = float(totals[1:].sum()) / float(totals[0])
        norm[pos[pos >= 0]] = _BM25_K1 * (1 - _BM25_B + _BM25_B * size[pos >= 0].astype(np.float64) / avgdl)
        return cls(schema=schema, rows=int(totals[0]), norm=norm)


class KeywordIndex:
    """bm25 keyword search over a read-only catalog's ``products_fts`` table.

    A product's score is the sum of its terms' bm25 parts in query order, which is exactly FTS5's
    bm25 of the OR of the terms. A term that is one token to FTS5 has its parts computed from the
    index's instances of the token as FTS5's bm25() computes them (the same bits, at a fraction of
    its ~2.5 us a row); other terms ("hair_care": a phrase) use bm25() itself. A term's parts depend
    only on the term and the (read-only) catalog, so the parts of recent terms are kept
    (``KEPT_POSTINGS_BYTES``): common words are computed once.
    """

    def __init__(self, db: sqlite_utils.Database, n: int, positions: Callable[[np.ndarray], np.ndarray]) -> None:
        """``n`` products at positions 0..n-1; ``positions`` maps products_fts rowids to them (-1: none)."""
        self.db = db
        self.n = n
        self.positions = positions
        self._postings: OrderedDict[str, Postings] = OrderedDict()  # term -> positions, parts
        self._postings_kept = 0  # bytes in _postings
        self._bm25_stats: _Bm25 | None = None
        self._postings_lock = threading.Lock()

    def search(self, terms: Sequence[str], limit: int) -> list[tuple[int, float, tuple[str, ...]]]:
        """``(position, score, matched_terms)`` of the ``limit`` best products matching any term (a Han
        term: any of its pairs), best first (ties by position); score > 0, matched_terms are the
        ``terms`` found in that product (of a Han term, the stretches found: ``_matched``)."""
        pieces = [(k, piece, start, end) for k, term in enumerate(terms)
                  for piece, start, end in _pieces(term)][:MAX_PIECES]
        score = np.zeros(self.n)
        found = np.zeros(self.n, dtype=np.int64)  # bit i: piece i matched
        for i, (pos, part) in enumerate(self.postings([piece for _, piece, _, _ in pieces])):  # in query order,
            score[pos] += part                                                               # as FTS5 adds bm25
            found[pos] |= 1 << i
        top = _best(np.flatnonzero(found), score, limit)
        names: dict[int, tuple[str, ...]] = {}
        out = []
        for p in top.tolist():
            bits = int(found[p])
            if bits not in names:
                names[bits] = _matched(terms, pieces, bits)
            out.append((p, max(float(score[p]), 1e-9), names[bits]))
        return out

    def postings(self, terms: Sequence[str]) -> list[Postings]:
        """For each term: the positions of the products it matches and its bm25 part in each."""
        with self._postings_lock:
            kept = {t: self._postings[t] for t in terms if t in self._postings}
            for t in kept:
                self._postings.move_to_end(t)
        missing = [t for t in terms if t not in kept]
        if missing:
            bm25 = self._bm25()
            tokens = _tokens(bm25.schema, missing)
            for t, token in zip(missing, tokens):
                if len(token) == 1:
                    kept[t] = self._token_postings(token[0], bm25)
            kept.update(self._phrase_postings([t for t, token in zip(missing, tokens) if len(token) != 1]))
            with self._postings_lock:
                for t in missing:
                    self._keep_postings(t, kept[t])
        return [kept[t] for t in terms]

    def _token_postings(self, token: str, bm25: _Bm25) -> Postings:
        """One token's postings from the FTS5 index's instances, bm25 computed as fts5Bm25Function does."""
        (docs,), = self.db.execute("SELECT group_concat(doc) FROM temp.products_fts_instances WHERE term = ?",
                                   [token]).fetchall()
        rowid, tf = np.unique(np.fromstring(docs or "", dtype=np.int64, sep=","), return_counts=True)
        idf = math.log((bm25.rows - len(rowid) + 0.5) / (len(rowid) + 0.5))
        pos = self.positions(rowid)
        keep = pos >= 0
        pos, tf = pos[keep], tf[keep].astype(np.float64)
        return pos.astype(np.int32), (idf if idf > 0 else 1e-6) * ((tf * (_BM25_K1 + 1.0)) / (tf + bm25.norm[pos]))

    def _phrase_postings(self, terms: Sequence[str]) -> dict[str, Postings]:
        """Postings of terms that are not one token, from FTS5's own bm25 (one statement)."""
        if not terms:
            return {}
        sql = " UNION ALL ".join(f"SELECT {i}, rowid, -bm25(products_fts) FROM products_fts "
                                 "WHERE products_fts MATCH ?" for i in range(len(terms)))
        rows = self.db.execute(sql, [_fts_phrase(t) for t in terms]).fetchall()
        hits = np.array(rows, dtype=np.float64).reshape(-1, 3)
        term, pos = hits[:, 0].astype(np.int64), self.positions(hits[:, 1].astype(np.int64))  # (hits,) each
        sel = [(term == i) & (pos >= 0) for i in range(len(terms))]
        return {t: (pos[s].astype(np.int32), hits[s, 2]) for t, s in zip(terms, sel)}

    def _bm25(self) -> _Bm25:
        """The index's figures for bm25, read on first use (the catalog is read-only while open)."""
        if self._bm25_stats is None:
            self._bm25_stats = _Bm25.read(self.db, self.n, self.positions)
        return self._bm25_stats

    def _keep_postings(self, term: str, postings: Postings) -> None:
        """Keep a term's postings, dropping the least recently used terms beyond KEPT_POSTINGS_BYTES."""
        size = postings[0].nbytes + postings[1].nbytes
        if term in self._postings or size > KEPT_POSTINGS_BYTES:
            return
        self._postings[term] = postings
        self._postings_kept += size
        while self._postings_kept > KEPT_POSTINGS_BYTES:
            _, (pos, part) = self._postings.popitem(last=False)
            self._postings_kept -= pos.nbytes + part.nbytes
