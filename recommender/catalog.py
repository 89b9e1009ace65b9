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
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
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
KEPT_POSTINGS = 4_000_000  # keyword_search keeps recent terms' (product, bm25 part) pairs up to this many (~64 MB)
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


class Catalog:
    """Read access to a catalog SQLite file."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None) -> None:
        self.db = db
        self.path = path
        self._cols: _Columns | None = None
        self._postings: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()  # term -> positions, parts
        self._postings_kept = 0  # pairs in _postings
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

        One statement finds each term's matches with its bm25 part; a product's score is the sum
        of its terms' parts in query order, which is exactly FTS5's bm25 of the OR of the terms.
        A term's parts depend only on the term and the (read-only) catalog, so the parts of recent
        terms are kept (``KEPT_POSTINGS`` pairs at most): common words ("hair", "skin", thousands of
        matches, ~2.5 us each in FTS5's bm25) are computed once.

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
        matched = np.flatnonzero(found)  # positions, in id order
        top = matched[np.argsort(-score[matched], kind="stable")[:limit]]
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
            sql = " UNION ALL ".join(f"SELECT {i}, rowid, -bm25(products_fts) FROM products_fts "
                                     "WHERE products_fts MATCH ?" for i in range(len(missing)))
            hits = np.array(self._rows(sql, [_fts_phrase(t) for t in missing]), dtype=np.float64).reshape(-1, 3)
            term, rowid = hits[:, 0].astype(np.int64), hits[:, 1].astype(np.int64)  # (hits,) each
            position = self._columns().position
            pos = np.where(rowid < len(position), position[np.minimum(rowid, len(position) - 1)], -1)
            for i, t in enumerate(missing):
                sel = (term == i) & (pos >= 0)
                kept[t] = (pos[sel], hits[sel, 2])
            with self._postings_lock:
                for t in missing:
                    self._keep_postings(t, kept[t])
        return [kept[t] for t in terms]

    def _keep_postings(self, term: str, postings: tuple[np.ndarray, np.ndarray]) -> None:
        """Keep a term's postings, dropping the least recently used terms beyond KEPT_POSTINGS pairs."""
        if term in self._postings or len(postings[0]) > KEPT_POSTINGS:
            return
        self._postings[term] = postings
        self._postings_kept += len(postings[0])
        while self._postings_kept > KEPT_POSTINGS:
            _, (dropped, _) = self._postings.popitem(last=False)
            self._postings_kept -= len(dropped)

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
