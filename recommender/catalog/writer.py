"""Writing catalog files: a fresh one for the importer, and forgotten shoppers' histories deleted in place."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from recommender.catalog.keyword_index import han_terms
from recommender.catalog.products import PATH_SEP, compute_fingerprint

FORGET_TIMEOUT_S = 2.0  # a forget waits this long for a locked catalog, then leaves that part pending
# 2: description, rating, review_count, image_url, stock, product_facets, meta currency; 3: dated; 4: han_terms;
# 5: variants
SCHEMA_VERSION = "5"
_FIELDS = ("id", "title", "brand", "category", "category_path", "price", "sales_rank", "description", "rating",
           "review_count", "image_url", "stock", "dated")
_INDEXED = ("title", "brand", "category_path", "han_terms")  # the keyword index's columns (products_fts)


class CatalogWriter:
    """Writes a fresh catalog file (the importer builds it in a temp file, then swaps it in)."""

    def __init__(self, path: str | Path) -> None:
        self.db = sqlite_utils.Database(path)
        # A temp file that is thrown away on failure needs no journal.
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db["products"].create(
            {"id": str, "title": str, "brand": str, "category": str, "category_path": str,
             "price": float, "sales_rank": float, "description": str, "rating": float, "review_count": int,
             "image_url": str, "stock": int, "dated": float, "han_terms": str},
            pk="id",
        )
        self.db["product_facets"].create({"product_id": str, "name": str, "value": str})
        self.db["variants"].create({"id": str, "product_id": str, "position": int, "options": str, "price": float,
                                    "stock": int}, pk="id")
        self.db["shoppers"].create({"id": str, "n_interactions": int}, pk="id")
        self.db["interactions"].create(
            {"shopper_id": str, "product_id": str, "position": int}, pk=("shopper_id", "position")
        )
        self.db["meta"].create({"key": str, "value": str}, pk="key")

    def add_products(self, rows: Iterable[dict[str, Any]]) -> None:
        """Insert product dicts (id, title, brand, category_path as a tuple, price, ..., facets as
        (name, value) pairs; a missing key is NULL)."""
        products, facets = [], []
        for r in rows:
            path = r.get("category_path") or ()
            products.append((r["id"], r.get("title"), r.get("brand"), path[-1] if path else None,
                             PATH_SEP.join(path) or None, *(r.get(f) for f in _FIELDS[5:])))
            facets += ((r["id"], name, value) for name, value in r.get("facets", ()))
        marks = ", ".join("?" * len(_FIELDS))
        self.db.conn.executemany(f"INSERT INTO products ({', '.join(_FIELDS)}) VALUES ({marks})", products)
        self.db.conn.executemany("INSERT INTO product_facets (product_id, name, value) VALUES (?, ?, ?)", facets)

    def add_variants(self, rows: Iterable[dict[str, Any]]) -> None:
        """Insert variant rows (id, product_id, position, options as JSON, price, stock)."""
        self.db["variants"].insert_all(rows)

    def set_categories(self, paths: Mapping[str, Sequence[str]]) -> None:
        """Give products a category path (product id -> levels, broad to narrow); others are left as they are."""
        self.db.conn.executemany(
            "UPDATE products SET category = ?, category_path = ? WHERE id = ?",
            ((path[-1], PATH_SEP.join(path), pid) for pid, path in paths.items() if path),
        )

    def brands(self) -> list[str]:
        """The brands of the products added so far."""
        return [row[0] for row in self.db.conn.execute("SELECT DISTINCT brand FROM products WHERE brand IS NOT NULL")]

    def categories(self) -> set[str]:
        """The category names of the products added so far, at every level of their paths."""
        rows = self.db.conn.execute("SELECT DISTINCT category, category_path FROM products")
        return {name for category, path in rows for name in (category, *(path or "").split(PATH_SEP)) if name}

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
        self.db["product_facets"].create_index(["product_id"])
        self.db["product_facets"].create_index(["name", "value"])
        self.db["variants"].create_index(["product_id"])
        self._index_han()
        self.db["products"].enable_fts(list(_INDEXED), tokenize="porter", create_triggers=False)
        fingerprint = compute_fingerprint(self.db)
        rows = {**meta, "fingerprint": fingerprint, "schema_version": SCHEMA_VERSION}
        self.db["meta"].insert_all(({"key": k, "value": str(v)} for k, v in rows.items()), replace=True)
        self.db.conn.commit()
        return fingerprint

    def _index_han(self) -> None:
        """Fill ``han_terms`` of the products whose title, brand or categories have Han characters
        (``keyword_index`` docstring)."""
        rows = self.db.conn.execute("SELECT id, title, brand, category_path FROM products")
        updates = [(" ".join(terms), pid) for pid, *text in rows if (terms := han_terms(" ".join(filter(None, text))))]
        self.db.conn.executemany("UPDATE products SET han_terms = ? WHERE id = ?", updates)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        try:
            self.db.conn.close()
        except sqlite3.Error:  # pragma: no cover - closing twice is harmless
            pass


def forget_shoppers(path: str | Path, is_forgotten: Callable[[str], bool], *,
                    timeout: float = FORGET_TIMEOUT_S) -> dict[str, int]:
    """Delete the histories of every shopper ``is_forgotten`` picks from the catalog file, zeroing their
    bytes (``secure_delete``), in one transaction; returns shopper id -> interactions deleted. Products are
    untouched, so the catalog fingerprint stays the same. A catalog with no such shopper is only read.

    Raises sqlite3.OperationalError when the file is read-only, or locked past ``timeout`` seconds.
    """
    conn = sqlite3.connect(Path(path), timeout=timeout)
    try:
        conn.execute("PRAGMA secure_delete = ON")
        with conn:
            shoppers = [s for (s,) in conn.execute("SELECT id FROM shoppers").fetchall() if is_forgotten(s)]
            deleted = {s: conn.execute("DELETE FROM interactions WHERE shopper_id = ?", [s]).rowcount
                       for s in shoppers}
            conn.executemany("DELETE FROM shoppers WHERE id = ?", [(s,) for s in shoppers])
        return deleted
    finally:
        conn.close()
