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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from recommender.errors import CatalogNotFound, ProductNotFound

logger = logging.getLogger(__name__)

PATH_SEP = " > "  # joins category_path levels in the products table
SCHEMA_VERSION = "1"
MAX_QUERY_TERMS = 32  # keyword_search ignores terms beyond this many
_PRODUCT_COLUMNS = "id, title, brand, category, category_path, price"
_TERM = re.compile(r"\w+", re.UNICODE)


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


class Catalog:
    """Read access to a catalog SQLite file."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None) -> None:
        self.db = db
        self.path = path

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
        """Every product id, ordered."""
        return [r[0] for r in self._rows("SELECT id FROM products ORDER BY id")]

    # -- search and filters ---------------------------------------------------------------------

    def keyword_search(self, query: str, limit: int = 200) -> list[tuple[str, float, tuple[str, ...]]]:
        """Full-text search over title, brand and category path (any term may match).

        The query is user text: it is split into word terms and each is quoted, so FTS5 syntax
        (``OR``, ``*``, ``NEAR(``, quotes) is searched as plain words and never raises.

        Returns:
            ``(product_id, score, matched_terms)`` best first; score > 0, higher is better;
            matched_terms are the lowercased query terms found in that product's text.
        """
        terms = query_terms(query)
        if not terms or limit <= 0:
            return []
        match = " OR ".join(_fts_phrase(t) for t in terms)
        rows = self._rows(
            "SELECT p.id, p.rowid, -bm25(products_fts) AS score FROM products_fts"
            " JOIN products p ON p.rowid = products_fts.rowid"
            " WHERE products_fts MATCH ? ORDER BY score DESC, p.id LIMIT ?",
            [match, limit],
        )
        if not rows:
            return []
        rowids = [r[1] for r in rows]
        marks = ", ".join("?" * len(rowids))
        matched: dict[int, list[str]] = {}
        for term in terms:
            hits = self._rows(
                f"SELECT rowid FROM products_fts WHERE products_fts MATCH ? AND rowid IN ({marks})",
                [_fts_phrase(term), *rowids],
            )
            for (rowid,) in hits:
                matched.setdefault(rowid, []).append(term)
        return [(pid, max(float(score), 1e-9), tuple(matched.get(rowid, ()))) for pid, rowid, score in rows]

    def filter_ids(
        self,
        *,
        category: str | None = None,
        brand: str | None = None,
        price_min: float | None = None,
        price_max: float | None = None,
    ) -> list[str]:
        """Ids of products passing every given filter, ordered by id.

        Args:
            category: the leaf or any level of the category path, case-insensitive.
            brand: the brand, case-insensitive.
            price_min, price_max: inclusive bounds; products with unknown price never pass them.
        """
        where, params = [], []
        if category is not None:
            where.append(
                "(lower(category) = lower(?) OR instr(' > ' || lower(category_path) || ' > ',"
                " ' > ' || lower(?) || ' > ') > 0)"
            )
            params += [category.strip(), category.strip()]
        if brand is not None:
            where.append("brand = ? COLLATE NOCASE")
            params.append(brand.strip())
        if price_min is not None:
            where.append("price IS NOT NULL AND price >= ?")
            params.append(float(price_min))
        if price_max is not None:
            where.append("price IS NOT NULL AND price <= ?")
            params.append(float(price_max))
        sql = "SELECT id FROM products" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        return [r[0] for r in self._rows(sql, params)]

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
