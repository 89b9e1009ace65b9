"""The product catalog: one SQLite file read and written with sqlite-utils (SQL lives here and in store.py).

Tables: ``products`` (id, title, brand, category, category_path, price, sales_rank), ``products_fts``
(FTS5 over title, brand, category_path), ``shoppers`` (id, n_interactions), ``interactions``
(shopper_id, product_id, position; order kept) and ``meta`` (key, value).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from recommender.errors import CatalogNotFound, ProductNotFound

logger = logging.getLogger(__name__)

PATH_SEP = " > "  # joins category_path levels in the products table
SCHEMA_VERSION = "1"
MAX_QUERY_TERMS = 32  # keyword_search ignores terms beyond this many
KEPT_POSTINGS_BYTES = 256_000_000  # keyword_search keeps recent terms' (product, bm25 part) pairs, 12 bytes each
_BM25_K1, _BM25_B = 1.2, 0.75  # the constants of FTS5's bm25() (fts5_aux.c)
_PRODUCT_COLUMNS = "id, title, brand, category, category_path, price"
_TERM = re.compile(r"\w+", re.UNICODE)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class Product:
    """One product. A missing title is None (never ""); ``display_title`` always gives text."""

    id: str
    title: str | None
    brand: str | None  # HTML entities already unescaped ("L'Oreal Paris")
    category: str | None  # leaf category, e.g. "Shampoos"
    category_path: tuple[str, ...]  # ("Beauty", "Hair Care", "Shampoos")
    price: float | None  # USD; None when unknown

    @property
    def display_title(self) -> str:
        """The title, or a "<brand> <category> (untitled)" fallback."""
        if self.title:
            return self.title
        parts = [p for p in (self.brand, self.category) if p]
        return f"{' '.join(parts) or 'Product ' + self.id} (untitled)"


def _product(row: Sequence[Any]) -> Product:
    path = tuple(row[4].split(PATH_SEP)) if row[4] else ()
    return Product(id=row[0], title=row[1], brand=row[2], category=row[3], category_path=path, price=row[5])


def query_terms(query: str) -> list[str]:
    """Split user text into distinct lowercased word terms, in order (at most MAX_QUERY_TERMS)."""
    return list(dict.fromkeys(t.lower() for t in _TERM.findall(query)))[:MAX_QUERY_TERMS]


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _fold(text: str) -> str:
    """Lowercase ASCII letters only, as SQLite's ``lower()`` and ``COLLATE NOCASE`` do."""
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class _Columns:
    """What search filters and ranks by, read once: a catalog is read-only while it is open.

    Products are at positions 0..n-1 in id order; categories and brands are coded by distinct value.
    """

    ids: list[str]  # product ids, ordered
    position: np.ndarray  # (max rowid + 1,) rowid -> position, -1 for no product
    price: np.ndarray  # (n,) float64, NaN when unknown
    brand: np.ndarray  # (n,) index into brands, -1 without a brand
    brands: dict[str, int]  # folded brand -> index
    place: np.ndarray  # (n,) index into places
    places: list[tuple[str | None, str | None]]  # distinct (folded leaf category, " > "-wrapped folded path)

    @classmethod
    def read(cls, db: sqlite_utils.Database) -> _Columns:
        rows = db.execute("SELECT rowid, id, brand, category, category_path, price FROM products ORDER BY id").fetchall()
        position = np.full(max((r[0] for r in rows), default=0) + 1, -1, dtype=np.int64)
        position[[r[0] for r in rows]] = np.arange(len(rows))
        brands: dict[str, int] = {}
        places: dict[tuple[str | None, str | None], int] = {}
        brand = [-1 if r[2] is None else brands.setdefault(_fold(r[2]), len(brands)) for r in rows]
        place = [places.setdefault((None if r[3] is None else _fold(r[3]),
                                    None if r[4] is None else f"{PATH_SEP}{_fold(r[4])}{PATH_SEP}"), len(places))
                 for r in rows]
        return cls(ids=[r[1] for r in rows], position=position,
                   price=np.array([np.nan if r[5] is None else r[5] for r in rows], dtype=np.float64),
                   brand=np.array(brand, dtype=np.int64), brands=brands,
                   place=np.array(place, dtype=np.int64), places=list(places))


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


class Catalog:
    """Read access to a catalog SQLite file."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None) -> None:
        self.db = db
        self.path = path
        self._cols: _Columns | None = None
        self._postings: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()  # term -> positions, parts
        self._postings_kept = 0  # bytes in _postings
        self._bm25_stats: _Bm25 | None = None
        self._postings_lock = threading.Lock()

    def _columns(self) -> _Columns:
        if self._cols is None:
            self._cols = _Columns.read(self.db)
        return self._cols

    @classmethod
    def open(cls, path: str | Path) -> Catalog:
        """Open a catalog file read-only; raises CatalogNotFound with the command that builds it."""
        path = Path(path)
        hint = f'Build it with "shopbot catalog build --db {path}".'
        if not path.is_file():
            raise CatalogNotFound(f"No catalog at {path}. {hint}")
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
            db = sqlite_utils.Database(conn)
            ok = db["products"].exists() and db["meta"].exists()
        except sqlite3.OperationalError as e:  # locked, unreadable: the file may be fine
            why = "another program is writing it; try again when it is done" if "locked" in str(e) else \
                "check that this user may read it"
            raise CatalogNotFound(f"{path} cannot be read ({e}): {why}.") from e
        except sqlite3.DatabaseError as e:
            raise CatalogNotFound(f"{path} is not a SQLite catalog ({e}). {hint}") from e
        if not ok:
            conn.close()
            raise CatalogNotFound(f"{path} is not a shopbot catalog (no products table). {hint}")
        return cls(db, path)

    def close(self) -> None:
        """Close the database connection."""
        self.db.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, params).fetchall()

    # -- products -----------------------------------------------------------------------------

    def get_product(self, product_id: str) -> Product:
        """The product with this id; raises ProductNotFound."""
        rows = self._rows(f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE id = ?", [product_id])
        if not rows:
            raise ProductNotFound(f"No product with id {product_id!r} in catalog {self.path}")
        return _product(rows[0])

    def get_products(self, ids: Sequence[str]) -> list[Product]:
        """Products in the order of ``ids``; unknown ids are skipped."""
        found: dict[str, Product] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self._rows(f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE id IN ({marks})", chunk):
                found[row[0]] = _product(row)
        return [found[i] for i in ids if i in found]

    def iter_products(self) -> Iterator[Product]:
        """Every product, ordered by id."""
        for row in self.db.execute(f"SELECT {_PRODUCT_COLUMNS} FROM products ORDER BY id"):
            yield _product(row)

    def count_products(self) -> int:
        """Number of products."""
        return self._rows("SELECT count(*) FROM products")[0][0]

    def product_ids(self) -> list[str]:
        """Every product id, ordered (the positions of ``filter_mask``)."""
        return list(self._columns().ids)

    # -- search and filters ---------------------------------------------------------------------

    def keyword_search(self, query: str, limit: int = 200) -> list[tuple[str, float, tuple[str, ...]]]:
        """Full-text search over title, brand and category path (any term may match).

        The query is user text: it is split into word terms and each is quoted, so FTS5 syntax
        (``OR``, ``*``, ``NEAR(``, quotes) is searched as plain words and never raises.

        A product's score is the sum of its terms' bm25 parts in query order, which is exactly
        FTS5's bm25 of the OR of the terms. A term that is one token to FTS5 has its parts computed
        from the index's instances of the token as FTS5's bm25() computes them (the same bits, at
        a fraction of its ~2.5 us a row); other terms ("hair_care": a phrase) use bm25() itself.
        A term's parts depend only on the term and the (read-only) catalog, so the parts of recent
        terms are kept (``KEPT_POSTINGS_BYTES``): common words are computed once.

        Returns:
            ``(product_id, score, matched_terms)`` best first (ties by id); score > 0, higher is
            better; matched_terms are the lowercased query terms found in that product's text.
        """
        terms = query_terms(query)
        if not terms or limit <= 0:
            return []
        cols = self._columns()
        score = np.zeros(len(cols.ids))
        found = np.zeros(len(cols.ids), dtype=np.int64)  # bit i: term i matched
        for i, (pos, part) in enumerate(self._term_postings(terms)):  # in query order, as FTS5 adds up bm25
            score[pos] += part
            found[pos] |= 1 << i
        top = _best(np.flatnonzero(found), score, limit)
        names: dict[int, tuple[str, ...]] = {}
        out = []
        for p in top.tolist():
            bits = int(found[p])
            if bits not in names:
                names[bits] = tuple(t for i, t in enumerate(terms) if bits >> i & 1)
            out.append((cols.ids[p], max(float(score[p]), 1e-9), names[bits]))
        return out

    def _term_postings(self, terms: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
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

    def _token_postings(self, token: str, bm25: _Bm25) -> tuple[np.ndarray, np.ndarray]:
        """One token's postings from the FTS5 index's instances, bm25 computed as fts5Bm25Function does."""
        (docs,), = self._rows("SELECT group_concat(doc) FROM temp.products_fts_instances WHERE term = ?", [token])
        rowid, tf = np.unique(np.fromstring(docs or "", dtype=np.int64, sep=","), return_counts=True)
        idf = math.log((bm25.rows - len(rowid) + 0.5) / (len(rowid) + 0.5))
        pos = self._positions(rowid)
        keep = pos >= 0
        pos, tf = pos[keep], tf[keep].astype(np.float64)
        return pos.astype(np.int32), (idf if idf > 0 else 1e-6) * ((tf * (_BM25_K1 + 1.0)) / (tf + bm25.norm[pos]))

    def _phrase_postings(self, terms: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Postings of terms that are not one token, from FTS5's own bm25 (one statement)."""
        if not terms:
            return {}
        sql = " UNION ALL ".join(f"SELECT {i}, rowid, -bm25(products_fts) FROM products_fts "
                                 "WHERE products_fts MATCH ?" for i in range(len(terms)))
        hits = np.array(self._rows(sql, [_fts_phrase(t) for t in terms]), dtype=np.float64).reshape(-1, 3)
        term, pos = hits[:, 0].astype(np.int64), self._positions(hits[:, 1].astype(np.int64))  # (hits,) each
        sel = [(term == i) & (pos >= 0) for i in range(len(terms))]
        return {t: (pos[s].astype(np.int32), hits[s, 2]) for t, s in zip(terms, sel)}

    def _positions(self, rowid: np.ndarray) -> np.ndarray:
        """Positions of these products_fts rowids, -1 for no product."""
        position = self._columns().position
        return np.where(rowid < len(position), position[np.minimum(rowid, len(position) - 1)], -1)

    def _bm25(self) -> _Bm25:
        """The index's figures for bm25, read on first use (the catalog is read-only while open)."""
        if self._bm25_stats is None:
            self._bm25_stats = _Bm25.read(self.db, len(self._columns().ids), self._positions)
        return self._bm25_stats

    def _keep_postings(self, term: str, postings: tuple[np.ndarray, np.ndarray]) -> None:
        """Keep a term's postings, dropping the least recently used terms beyond KEPT_POSTINGS_BYTES."""
        size = postings[0].nbytes + postings[1].nbytes
        if term in self._postings or size > KEPT_POSTINGS_BYTES:
            return
        self._postings[term] = postings
        self._postings_kept += size
        while self._postings_kept > KEPT_POSTINGS_BYTES:
            _, (pos, part) = self._postings.popitem(last=False)
            self._postings_kept -= pos.nbytes + part.nbytes

    def filter_ids(
        self,
        *,
        category: str | None = None,
        brand: str | None = None,
        price_min: float | None = None,
        price_max: float | None = None,
    ) -> list[str]:
        """Ids of products passing every given filter, ordered by id (arguments of ``filter_mask``)."""
        ids = self._columns().ids
        mask = self.filter_mask(category=category, brand=brand, price_min=price_min, price_max=price_max)
        return [ids[i] for i in np.flatnonzero(mask).tolist()]

    def filter_mask(
        self,
        *,
        category: str | None = None,
        brand: str | None = None,
        price_min: float | None = None,
        price_max: float | None = None,
    ) -> np.ndarray:
        """(n,) bool over ``product_ids()``: True for the products passing every given filter.

        Args:
            category: the leaf or any level of the category path (or a run of levels, "Hair Care >
                Shampoos"), ASCII case-insensitive, like SQLite's ``lower()``.
            brand: the brand, ASCII case-insensitive (SQLite's ``NOCASE``).
            price_min, price_max: inclusive bounds; products with unknown price never pass them.
        """
        cols = self._columns()
        mask = np.ones(len(cols.ids), dtype=bool)
        if category is not None:
            want = _fold(category.strip())
            wrapped = f"{PATH_SEP}{want}{PATH_SEP}"
            codes = [i for i, (leaf, path) in enumerate(cols.places) if leaf == want or (path and wrapped in path)]
            mask &= np.isin(cols.place, codes)
        if brand is not None:
            mask &= cols.brand == cols.brands.get(_fold(brand.strip()), -2)
        if price_min is not None:  # an unknown price is NaN, which compares False
            mask &= cols.price >= float(price_min)
        if price_max is not None:
            mask &= cols.price <= float(price_max)
        return mask

    def brands(self) -> list[tuple[str, int]]:
        """(brand, product count), most products first."""
        return self._rows(
            "SELECT brand, count(*) AS n FROM products WHERE brand IS NOT NULL GROUP BY brand ORDER BY n DESC, brand"
        )

    def categories(self) -> list[tuple[str, int]]:
        """(leaf category, product count), most products first."""
        return self._rows(
            "SELECT category, count(*) AS n FROM products WHERE category IS NOT NULL"
            " GROUP BY category ORDER BY n DESC, category"
        )

    # -- shoppers -------------------------------------------------------------------------------

    def popularity(self) -> dict[str, int]:
        """product_id -> number of distinct shoppers who interacted with it (absent when none)."""
        return dict(
            self._rows("SELECT product_id, count(DISTINCT shopper_id) FROM interactions GROUP BY product_id")
        )

    def shopper_history(self, shopper_id: str) -> list[str]:
        """The shopper's product ids in order; [] for an unknown shopper."""
        sql = "SELECT product_id FROM interactions WHERE shopper_id = ? ORDER BY position"
        return [r[0] for r in self._rows(sql, [shopper_id])]

    def iter_histories(self) -> Iterator[tuple[str, list[str]]]:
        """(shopper_id, product ids in order) for every shopper, ordered by shopper id."""
        cursor = self.db.execute("SELECT shopper_id, product_id FROM interactions ORDER BY shopper_id, position")
        for shopper, group in itertools.groupby(cursor, key=lambda r: r[0]):
            yield shopper, [r[1] for r in group]

    # -- metadata -------------------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        """Every key/value stored at import time."""
        return dict(self._rows("SELECT key, value FROM meta"))

    def fingerprint(self) -> str:
        """sha256 over every product's (id, title, brand, category_path, price), stored at import."""
        stored = self.meta().get("fingerprint")
        return stored or compute_fingerprint(self.db)

    def stats(self) -> dict[str, Any]:
        """Counts of products, shoppers, interactions, brands, categories, priced, plus source and imported_at."""
        one = lambda sql: self._rows(sql)[0][0]  # noqa: E731
        meta = self.meta()
        return {
            "products": self.count_products(),
            "shoppers": one("SELECT count(*) FROM shoppers"),
            "interactions": one("SELECT count(*) FROM interactions"),
            "brands": one("SELECT count(DISTINCT brand) FROM products"),
            "categories": one("SELECT count(DISTINCT category) FROM products"),
            "priced": one("SELECT count(*) FROM products WHERE price IS NOT NULL"),
            "untitled": one("SELECT count(*) FROM products WHERE title IS NULL"),
            "source": meta.get("source"),
            "interactions_source": meta.get("interactions_source"),
            "imported_at": meta.get("imported_at"),
            "fingerprint": meta.get("fingerprint"),
        }


def compute_fingerprint(db: sqlite_utils.Database) -> str:
    """sha256 hex over the products' (id, title, brand, category_path, price), ordered by id."""
    digest = hashlib.sha256()
    for row in db.execute("SELECT id, title, brand, category_path, price FROM products ORDER BY id"):
        digest.update(json.dumps(list(row), ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


class CatalogWriter:
    """Writes a fresh catalog file (the importer builds it in a temp file, then swaps it in)."""

    def __init__(self, path: str | Path) -> None:
        self.db = sqlite_utils.Database(path)
        # A temp file that is thrown away on failure needs no journal.
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db["products"].create(
            {"id": str, "title": str, "brand": str, "category": str, "category_path": str,
             "price": float, "sales_rank": float},
            pk="id",
        )
        self.db["shoppers"].create({"id": str, "n_interactions": int}, pk="id")
        self.db["interactions"].create(
            {"shopper_id": str, "product_id": str, "position": int}, pk=("shopper_id", "position")
        )
        self.db["meta"].create({"key": str, "value": str}, pk="key")

    def add_products(self, rows: Iterable[dict[str, Any]]) -> None:
        """Insert product dicts (id, title, brand, category_path as a tuple, price, sales_rank)."""
        sql = ("INSERT INTO products (id, title, brand, category, category_path, price, sales_rank)"
               " VALUES (?, ?, ?, ?, ?, ?, ?)")
        params = (
            (r["id"], r.get("title"), r.get("brand"), (r.get("category_path") or (None,))[-1],
             PATH_SEP.join(r.get("category_path") or ()) or None, r.get("price"), r.get("sales_rank"))
            for r in rows
        )
        self.db.conn.executemany(sql, params)

    def add_history(self, shopper_id: str, product_ids: Sequence[str]) -> None:
        """Insert one shopper and their products in order (positions 0, 1, ...)."""
        self.db.conn.execute("INSERT INTO shoppers (id, n_interactions) VALUES (?, ?)", [shopper_id, len(product_ids)])
        self.db.conn.executemany(
            "INSERT INTO interactions (shopper_id, product_id, position) VALUES (?, ?, ?)",
            ((shopper_id, pid, i) for i, pid in enumerate(product_ids)),
        )

    def finish(self, meta: dict[str, str]) -> str:
        """Index, fingerprint and store ``meta``; returns the fingerprint."""
        self.db["interactions"].create_index(["product_id"])
        self.db["products"].create_index(["brand"])
        self.db["products"].create_index(["category"])
        self.db["products"].enable_fts(["title", "brand", "category_path"], tokenize="porter", create_triggers=False)
        fingerprint = compute_fingerprint(self.db)
        rows = {**meta, "fingerprint": fingerprint, "schema_version": SCHEMA_VERSION}
        self.db["meta"].insert_all(({"key": k, "value": str(v)} for k, v in rows.items()), replace=True)
        self.db.conn.commit()
        return fingerprint

    def close(self) -> None:
        """Close the connection (idempotent)."""
        try:
            self.db.conn.close()
        except sqlite3.Error:  # pragma: no cover - closing twice is harmless
            pass


def forget_shopper(path: str | Path, shopper_id: str) -> int:
    """Delete one shopper's history from the catalog file (in one transaction); returns the
    interactions deleted. Products are untouched, so the catalog fingerprint stays the same."""
    conn = sqlite3.connect(Path(path), timeout=10)
    try:
        with conn:
            deleted = conn.execute("DELETE FROM interactions WHERE shopper_id = ?", [shopper_id]).rowcount
            conn.execute("DELETE FROM shoppers WHERE id = ?", [shopper_id])
        return deleted
    finally:
        conn.close()
