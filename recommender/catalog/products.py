"""The product catalog: one SQLite file read with sqlite-utils (SQL lives in this sub-package and in the store).

Tables: ``products`` (id, title, brand, category, category_path, price, sales_rank, description, rating,
review_count, image_url, stock), ``product_facets`` (product_id, name, value), ``products_fts`` (FTS5
over title, brand, category_path), ``shoppers`` (id, n_interactions), ``interactions`` (shopper_id,
product_id, position; order kept) and ``meta`` (key, value: currency, shop settings, ...).
``variants`` (id, product_id, position, options as JSON pairs, price, stock: ``variants`` module) holds
the variants of the products that have them. ``CatalogWriter`` (writer.py) writes it; ``KeywordIndex``
(keyword_index.py) searches ``products_fts``.
Catalogs written before description, facets and currency existed (schema 1) read as having none, in USD.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from recommender.catalog.formats import normalise_facet
from recommender.catalog.keyword_index import KeywordIndex
from recommender.catalog.money import DEFAULT_CURRENCY
from recommender.catalog.variants import Variant, option_label
from recommender.errors import CatalogNotFound, ProductNotFound

logger = logging.getLogger(__name__)

PATH_SEP = " > "  # joins category_path levels in the products table
MAX_QUERY_TERMS = 32  # keyword_search ignores terms beyond this many
_PRODUCT_COLUMNS = ("id", "title", "brand", "category", "category_path", "price", "description", "rating",
                    "review_count", "image_url", "stock")
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
    price: float | None  # in the catalog's currency (Catalog.currency()); None when unknown
    description: str | None = None
    facets: tuple[tuple[str, str], ...] = ()  # (name, value) pairs, normalised: ("colour", "black")
    rating: float | None = None
    review_count: int | None = None
    image_url: str | None = None
    stock: int | None = None  # None: not tracked; 0: out of stock (an "in stock" cell without a count is 1)
    variants: tuple[Variant, ...] = ()  # a product sold in several options: each one's id, options, price, stock
    variant_of: str | None = None  # this is one variant (id, options, price, stock its own) of that product
    options: tuple[tuple[str, str], ...] = ()  # ... and these are its options: ("size", "M")

    @property
    def in_stock(self) -> bool:
        """False only for a product the shop marked out of stock (stock 0); untracked stock counts as in stock."""
        return self.stock != 0

    @property
    def prices_differ(self) -> bool:
        """True when its variants differ in price: ``price`` is the lowest."""
        return len({v.price for v in self.variants}) > 1

    @property
    def product_id(self) -> str:
        """The product this is: its own id, or the id of the product it is a variant of."""
        return self.variant_of or self.id

    @property
    def display_title(self) -> str:
        """The title, or a "<brand> <category> (untitled)" fallback; a variant's options after it
        ("Tee (M / Black)")."""
        if self.title:
            title = self.title
        else:
            parts = [p for p in (self.brand, self.category) if p]
            title = f"{' '.join(parts) or 'Product ' + self.id} (untitled)"
        return f"{title} ({option_label(self.options)})" if self.options else title

    def variant(self, variant: Variant) -> Product:
        """One of this product's variants as a product of its own: its id, options, price and stock."""
        return replace(self, id=variant.id, price=variant.price, stock=variant.stock, variants=(),
                       variant_of=self.id, options=variant.options)


@dataclass(frozen=True)
class ShopProfile:
    """The shop as its owner set it at import (``--shop-name``, ``--sells``, ``--brand-aliases``,
    ``--category-aliases``) and its currency."""

    name: str | None
    sells: str | None  # what the shop sells, in a few words
    currency: str  # ISO 4217
    brand_aliases: dict[str, str] = field(default_factory=dict)  # another name of a brand -> the catalog's ("欧莱雅")
    category_aliases: dict[str, str] = field(default_factory=dict)  # ... of a category ("洗发水" -> "Shampoos")


def _product(row: Sequence[Any], facets: Iterable[tuple[str, str]] = ()) -> Product:
    path = tuple(row[4].split(PATH_SEP)) if row[4] else ()
    return Product(id=row[0], title=row[1], brand=row[2], category=row[3], category_path=path, price=row[5],
                   description=row[6], facets=tuple(facets), rating=row[7], review_count=row[8], image_url=row[9],
                   stock=row[10])


def query_terms(query: str) -> list[str]:
    """Split user text into distinct lowercased word terms, in order (at most MAX_QUERY_TERMS)."""
    return list(dict.fromkeys(t.lower() for t in _TERM.findall(query)))[:MAX_QUERY_TERMS]


def _ascii_lower(text: str) -> str:
    """Lowercase ASCII letters only, as SQLite's ``lower()`` and ``COLLATE NOCASE`` do."""
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class _Columns:
    """What search filters and ranks by, read once per change of the file (``Catalog._columns``).

    Products are at positions 0..n-1 in id order; categories and brands are coded by distinct value;
    facet (name, value) pairs are coded too, each with the positions of its products
    (``facet_pos[facet_start[c]:facet_start[c + 1]]`` for code c).
    """

    ids: list[str]  # product ids, ordered
    position: np.ndarray  # (max rowid + 1,) rowid -> position, -1 for no product
    price: np.ndarray  # (n,) float64, NaN when unknown
    brand: np.ndarray  # (n,) index into brands, -1 without a brand
    brands: dict[str, int]  # folded brand -> index
    place: np.ndarray  # (n,) index into places
    places: list[tuple[str | None, str | None]]  # distinct (folded leaf category, " > "-wrapped folded path)
    facet_codes: dict[tuple[str, str], int]  # (name, value) -> code
    facet_start: np.ndarray  # (len(facet_codes) + 1,) offsets into facet_pos
    facet_pos: np.ndarray  # product positions grouped by facet code
    sold_out: np.ndarray  # (n,) bool: stock 0

    @classmethod
    def read(cls, db: sqlite_utils.Database, with_facets: bool, with_stock: bool) -> _Columns:
        stock = "stock" if with_stock else "NULL"
        rows = db.execute(f"SELECT rowid, id, brand, category, category_path, price, {stock} FROM products"
                          " ORDER BY id").fetchall()
        position = np.full(max((r[0] for r in rows), default=0) + 1, -1, dtype=np.int64)
        position[[r[0] for r in rows]] = np.arange(len(rows))
        brands: dict[str, int] = {}
        places: dict[tuple[str | None, str | None], int] = {}
        brand = [-1 if r[2] is None else brands.setdefault(_ascii_lower(r[2]), len(brands)) for r in rows]
        place = [places.setdefault((None if r[3] is None else _ascii_lower(r[3]),
                                    None if r[4] is None else f"{PATH_SEP}{_ascii_lower(r[4])}{PATH_SEP}"), len(places))
                 for r in rows]
        facet_codes: dict[tuple[str, str], int] = {}
        pairs = db.execute("SELECT p.rowid, f.name, f.value FROM product_facets f JOIN products p ON p.id ="
                           " f.product_id").fetchall() if with_facets else []
        code = np.array([facet_codes.setdefault((r[1], r[2]), len(facet_codes)) for r in pairs], dtype=np.int64)
        order = np.argsort(code, kind="stable")
        facet_pos = position[np.array([r[0] for r in pairs], dtype=np.int64)][order]
        facet_start = np.searchsorted(code[order], np.arange(len(facet_codes) + 1))
        return cls(ids=[r[1] for r in rows], position=position,
                   price=np.array([np.nan if r[5] is None else r[5] for r in rows], dtype=np.float64),
                   brand=np.array(brand, dtype=np.int64), brands=brands,
                   place=np.array(place, dtype=np.int64), places=list(places),
                   facet_codes=facet_codes, facet_start=facet_start, facet_pos=facet_pos,
                   sold_out=np.array([r[6] == 0 for r in rows], dtype=bool))

    def having(self, name: str, value: str) -> np.ndarray:
        """(n,) bool: the products that have this facet pair (normalised here)."""
        mask = np.zeros(len(self.ids), dtype=bool)
        code = self.facet_codes.get((normalise_facet(name), normalise_facet(value)))
        if code is not None:
            mask[self.facet_pos[self.facet_start[code]:self.facet_start[code + 1]]] = True
        return mask


class Catalog:
    """Read access to a catalog SQLite file."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None) -> None:
        self.db = db
        self.path = path
        self._cols: _Columns | None = None
        self._cols_version = -1  # PRAGMA data_version when the columns were read
        self._keywords: KeywordIndex | None = None
        have = set(db["products"].columns_dict)  # a schema-1 catalog lacks the newer columns
        self._select = ", ".join(c if c in have else f"NULL AS {c}" for c in _PRODUCT_COLUMNS)
        self._has_facets = db["product_facets"].exists()
        self._has_han = "han_terms" in have  # schema 4
        self._has_stock = "stock" in have  # schema 2
        self._has_variants = db["variants"].exists() and bool(self._rows("SELECT 1 FROM variants LIMIT 1"))  # 5

    def _columns(self) -> _Columns:
        """The columns, read again when another connection changed the file (``shopbot catalog update``)."""
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        if self._cols is None or version != self._cols_version:
            self._cols, self._cols_version = _Columns.read(self.db, self._has_facets, self._has_stock), version
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
        products = self.get_products([product_id])
        if not products:
            raise ProductNotFound(f"No product with id {product_id!r} in catalog {self.path}")
        return products[0]

    def get_products(self, ids: Sequence[str]) -> list[Product]:
        """Products in the order of ``ids``, with their variants; a variant's id gives that variant
        (``Product.variant``); unknown ids are skipped."""
        unique = list(dict.fromkeys(ids))
        found = self._read_products(unique)
        if self._has_variants:
            found = self._with_variants(found, [i for i in unique if i not in found])
        return [found[i] for i in ids if i in found]

    def _read_products(self, unique: list[str]) -> dict[str, Product]:
        found: dict[str, Product] = {}
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            facets: dict[str, list[tuple[str, str]]] = {}
            if self._has_facets:
                sql = f"SELECT product_id, name, value FROM product_facets WHERE product_id IN ({marks}) ORDER BY rowid"
                for pid, name, value in self._rows(sql, chunk):
                    facets.setdefault(pid, []).append((name, value))
            for row in self._rows(f"SELECT {self._select} FROM products WHERE id IN ({marks})", chunk):
                found[row[0]] = _product(row, facets.get(row[0], ()))
        return found

    def _with_variants(self, found: dict[str, Product], other_ids: list[str]) -> dict[str, Product]:
        """``found`` with each product's variants, and the variants among ``other_ids`` as products."""
        of_variant: dict[str, str] = {}
        for start in range(0, len(other_ids), 500):
            chunk = other_ids[start : start + 500]
            of_variant |= dict(self._rows(f"SELECT id, product_id FROM variants WHERE id IN "
                                          f"({', '.join('?' * len(chunk))})", chunk))
        parents = found | self._read_products(sorted(set(of_variant.values()) - set(found)))
        variants: dict[str, list[Variant]] = {}
        wanted = list(parents)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for vid, pid, options, price, stock in self._rows(
                    "SELECT id, product_id, options, price, stock FROM variants WHERE product_id IN "
                    f"({', '.join('?' * len(chunk))}) ORDER BY product_id, position", chunk):
                variants.setdefault(pid, []).append(
                    Variant(vid, tuple(tuple(pair) for pair in json.loads(options)), price, stock))
        parents = {pid: replace(p, variants=tuple(variants.get(pid, ()))) for pid, p in parents.items()}
        found = {pid: parents[pid] for pid in found}
        for p in parents.values():
            found |= {v.id: p.variant(v) for v in p.variants if v.id in of_variant}
        return found

    def iter_products(self) -> Iterator[Product]:
        """Every product, ordered by id."""
        pairs = iter(self.db.execute("SELECT product_id, name, value FROM product_facets ORDER BY product_id, rowid")
                     if self._has_facets else ())
        pending = next(pairs, None)
        for row in self.db.execute(f"SELECT {self._select} FROM products ORDER BY id"):
            facets = []
            while pending is not None and pending[0] <= row[0]:  # both in id order: a merge
                if pending[0] == row[0]:
                    facets.append((pending[1], pending[2]))
                pending = next(pairs, None)
            yield _product(row, facets)

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
        (``OR``, ``*``, ``NEAR(``, quotes) is searched as plain words and never raises. Scores are
        exactly FTS5's bm25 of the OR of the terms (``KeywordIndex``).

        Returns:
            ``(product_id, score, matched_terms)`` best first (ties by id); score > 0, higher is
            better; matched_terms are the lowercased query terms found in that product's text.
        """
        terms = query_terms(query)
        if not terms or limit <= 0:
            return []
        ids = self._columns().ids
        return [(ids[p], score, matched) for p, score, matched in self._keyword_index().search(terms, limit)]

    def han_share(self) -> float:
        """The share of products whose title, brand or categories have Han characters (0 for none)."""
        if not self._has_han:
            return 0.0
        (han, n), = self._rows("SELECT count(han_terms), count(*) FROM products")
        return han / n if n else 0.0

    def _keyword_index(self) -> KeywordIndex:
        if self._keywords is None:
            self._keywords = KeywordIndex(self.db, len(self._columns().ids), self._positions)
        return self._keywords

    def _positions(self, rowid: np.ndarray) -> np.ndarray:
        """Positions of these products_fts rowids, -1 for no product."""
        position = self._columns().position
        return np.where(rowid < len(position), position[np.minimum(rowid, len(position) - 1)], -1)

    def filter_ids(
        self,
        *,
        category: str | None = None,
        brand: str | None = None,
        price_min: float | None = None,
        price_max: float | None = None,
        facets: Iterable[tuple[str, str]] = (),
        in_stock: bool = False,
    ) -> list[str]:
        """Ids of products passing every given filter, ordered by id (arguments of ``filter_mask``)."""
        ids = self._columns().ids
        mask = self.filter_mask(category=category, brand=brand, price_min=price_min, price_max=price_max,
                                facets=facets, in_stock=in_stock)
        return [ids[i] for i in np.flatnonzero(mask).tolist()]

    def filter_mask(
        self,
        *,
        category: str | None = None,
        brand: str | None = None,
        price_min: float | None = None,
        price_max: float | None = None,
        facets: Iterable[tuple[str, str]] = (),
        in_stock: bool = False,
    ) -> np.ndarray:
        """(n,) bool over ``product_ids()``: True for the products passing every given filter.

        Args:
            category: the leaf or any level of the category path (or a run of levels, "Hair Care >
                Shampoos"), ASCII case-insensitive, like SQLite's ``lower()``.
            brand: the brand, ASCII case-insensitive (SQLite's ``NOCASE``).
            price_min, price_max: inclusive bounds; products with unknown price never pass them.
            facets: (name, value) pairs, compared normalised (``normalise_facet``); a product passes
                when it has every pair. A pair the catalog does not have passes no product.
            in_stock: leave out the products marked out of stock (stock 0; untracked stock passes).
        """
        cols = self._columns()
        mask = np.ones(len(cols.ids), dtype=bool)
        if category is not None:
            want = _ascii_lower(category.strip())
            wrapped = f"{PATH_SEP}{want}{PATH_SEP}"
            codes = [i for i, (leaf, path) in enumerate(cols.places) if leaf == want or (path and wrapped in path)]
            mask &= np.isin(cols.place, codes)
        if brand is not None:
            mask &= cols.brand == cols.brands.get(_ascii_lower(brand.strip()), -2)
        if price_min is not None:  # an unknown price is NaN, which compares False
            mask &= cols.price >= float(price_min)
        if price_max is not None:
            mask &= cols.price <= float(price_max)
        for name, value in facets:
            mask &= cols.having(name, value)
        if in_stock:
            mask &= ~cols.sold_out
        return mask

    def sells_out(self) -> bool:
        """True when some product is marked out of stock: only then does an in-stock filter leave anything out."""
        return bool(self._columns().sold_out.any())

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

    def category_names(self) -> list[str]:
        """Every category name: the leaves and each level of their paths, as the shop spelled them (the first
        spelling met when the case differs), in path order."""
        names: dict[str, str] = {}
        for leaf, path in self._rows("SELECT DISTINCT category, category_path FROM products"
                                     " WHERE category IS NOT NULL OR category_path IS NOT NULL ORDER BY 2, 1"):
            for name in (*(path or "").split(PATH_SEP), leaf or ""):
                if name.strip():
                    names.setdefault(_ascii_lower(name.strip()), name.strip())
        return list(names.values())

    def facets(self) -> dict[str, list[tuple[str, int]]]:
        """Facet name -> (value, product count), most products first; names with most products first."""
        if not self._has_facets:
            return {}
        rows = self._rows("SELECT name, value, count(DISTINCT product_id) AS n FROM product_facets"
                          " GROUP BY name, value ORDER BY n DESC, value")
        by_name: dict[str, list[tuple[str, int]]] = {}
        for name, value, n in rows:
            by_name.setdefault(name, []).append((value, n))
        totals = dict(self._rows("SELECT name, count(DISTINCT product_id) FROM product_facets GROUP BY name"))
        return {name: by_name[name] for name in sorted(by_name, key=lambda k: (-totals[k], k))}

    def main_categories(self, n: int = 5) -> list[str]:
        """What the shop carries, for replies: the ``n`` largest values of the first category-path level
        that has more than one distinct value (the deepest level when none has); [] without categories.
        """
        paths = self._rows("SELECT category_path, count(*) FROM products WHERE category_path IS NOT NULL"
                           " GROUP BY category_path")
        levels = [(path.split(PATH_SEP), count) for path, count in paths]
        depth = max((len(p) for p, _ in levels), default=0)
        counts: Counter[str] = Counter()
        for level in range(depth):
            counts = Counter()
            for path, count in levels:
                if len(path) > level:
                    counts[path[level]] += count
            if len(counts) > 1:
                break
        return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]

    # -- shoppers -------------------------------------------------------------------------------

    def popularity(self) -> dict[str, int]:
        """product_id -> number of distinct shoppers who interacted with it (absent when none)."""
        return dict(
            self._rows("SELECT product_id, count(DISTINCT shopper_id) FROM interactions GROUP BY product_id")
        )

    def review_counts(self) -> dict[str, int]:
        """product_id -> its review count, for the products with at least one."""
        return dict(self._rows("SELECT id, review_count FROM products WHERE review_count > 0"))

    def dates(self) -> dict[str, float]:
        """product_id -> its date as a POSIX timestamp (listed; an order export's latest line), when known."""
        if "dated" not in self.db["products"].columns_dict:  # catalogs written before dates (schema 1, 2)
            return {}
        return dict(self._rows("SELECT id, dated FROM products WHERE dated IS NOT NULL"))

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

    def currency(self) -> str:
        """The ISO 4217 code of the catalog's prices ("USD" for catalogs built before currencies)."""
        return self.meta().get("currency") or DEFAULT_CURRENCY

    def shop(self) -> ShopProfile:
        """The shop settings stored at import, and the currency."""
        meta = self.meta()
        return ShopProfile(name=meta.get("shop_name") or None, sells=meta.get("shop_sells") or None,
                           currency=meta.get("currency") or DEFAULT_CURRENCY,
                           brand_aliases=json.loads(meta.get("brand_aliases") or "{}"),
                           category_aliases=json.loads(meta.get("category_aliases") or "{}"))

    def fingerprint(self) -> str:
        """sha256 over what each product is embedded and trained from (``compute_fingerprint``), stored at import."""
        stored = self.meta().get("fingerprint")
        return stored or compute_fingerprint(self.db)

    def stats(self) -> dict[str, Any]:
        """Counts of products, shoppers, interactions, brands, categories, priced; the currency, facets
        (name -> products having it), shop settings (the numbers of brand and category aliases), source
        and imported_at."""
        one = lambda sql: self._rows(sql)[0][0]  # noqa: E731
        meta, shop = self.meta(), self.shop()
        facets = dict(self._rows("SELECT name, count(DISTINCT product_id) AS n FROM product_facets"
                                 " GROUP BY name ORDER BY n DESC, name")) if self._has_facets else {}
        return {
            "products": self.count_products(),
            "variants": one("SELECT count(*) FROM variants") if self._has_variants else 0,
            "shoppers": one("SELECT count(*) FROM shoppers"),
            "interactions": one("SELECT count(*) FROM interactions"),
            "brands": one("SELECT count(DISTINCT brand) FROM products"),
            "categories": one("SELECT count(DISTINCT category) FROM products"),
            "priced": one("SELECT count(*) FROM products WHERE price IS NOT NULL"),
            "untitled": one("SELECT count(*) FROM products WHERE title IS NULL"),
            "currency": shop.currency,
            "facets": facets,
            "shop_name": meta.get("shop_name"),
            "shop_sells": meta.get("shop_sells"),
            "brand_aliases": len(shop.brand_aliases),
            "category_aliases": len(shop.category_aliases),
            "category_source": meta.get("category_source"),
            "source": meta.get("source"),
            "interactions_source": meta.get("interactions_source"),
            "imported_at": meta.get("imported_at"),
            "fingerprint": meta.get("fingerprint"),
        }


def compute_fingerprint(db: sqlite_utils.Database) -> str:
    """sha256 hex over the products' (id, title, brand, category_path, price), ordered by id; a product
    with a description or facets adds them (what its embedded text holds), so a catalog without them
    keeps the fingerprint it had before they existed. Rating, reviews, image and stock do not count.
    """
    facets: dict[str, list[list[str]]] = {}
    if db["product_facets"].exists():
        for pid, name, value in db.execute("SELECT product_id, name, value FROM product_facets ORDER BY rowid"):
            facets.setdefault(pid, []).append([name, value])
    described = "description" if "description" in db["products"].columns_dict else "NULL"
    digest = hashlib.sha256()
    for *row, description in db.execute(
            f"SELECT id, title, brand, category_path, price, {described} FROM products ORDER BY id"):
        extra = facets.get(row[0])
        if description is not None or extra:
            row += [description, extra or []]
        digest.update(json.dumps(row, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()
