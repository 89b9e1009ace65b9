"""Product embeddings, cached on disk and rebuilt incrementally.

One file per model: ``<cache_dir>/embeddings/<model dir>/vectors.npz`` holding

- ``ids``: product ids, in catalog order;
- ``text_sha1``: sha1 of ``product_text(p)`` for each product (what was encoded);
- ``matrix``: float32 (n, dim), L2-normalised rows;
- ``key``: the catalog fingerprint, the encoder's ``model_id`` and ``TEXT_FORMAT``.

``load_or_build`` loads the file without touching the model when its key matches the catalog and
the encoder. Otherwise it reuses every vector whose text hash is unchanged, encodes only the rest,
and replaces the file atomically (write to a temporary file, then ``os.replace``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recommender.files import replaced_whole

if TYPE_CHECKING:
    from recommender.catalog.products import Catalog, Product
    from recommender.text.encoder import Encoder

logger = logging.getLogger(__name__)

TEXT_FORMAT = "title|brand|path/v1"  # bump when product_text changes, so the fast path is not taken
CACHE_FILE = "vectors.npz"
DESCRIPTION_WORDS = 50  # product_text keeps about this many words of a description

__all__ = ["ProductEmbeddings", "product_text", "text_sha1", "cache_path"]


def product_text(p: Product) -> str:
    """The text embedded for a product: its title, brand and category path, then its facets and the
    start of its description when it has them (a product without them reads as it always has).

    E.g. ``"Hydro Boost Gel. Brand: Neutrogena. Category: Beauty > Skin Care > Moisturizers"``, or
    ``"Slim Fit Jeans. Brand: Levi's. Colour: black. Gender: women. Stretch denim with five pockets."``.
    """
    parts = [p.display_title.strip()]
    if p.brand:
        parts.append(f"Brand: {p.brand.strip()}")
    path = [c.strip() for c in p.category_path if c and c.strip()]
    if not path and p.category:
        path = [p.category.strip()]
    if path:
        parts.append("Category: " + " > ".join(path))
    parts += [f"{name[:1].upper()}{name[1:]}: {value}" for name, value in p.facets]
    if p.description:
        parts.append(_description_start(p.description))
    return ". ".join(part for part in parts if part)


def _description_start(text: str, words: int = DESCRIPTION_WORDS) -> str:
    """The first ``words`` words of a description, ended at the last sentence end within them when
    that keeps at least half of them, else at a word boundary ("...")."""
    tokens = text.split()
    if len(tokens) <= words:
        return " ".join(tokens)
    cut = " ".join(tokens[:words])
    end = max((cut + " ").rfind(mark) for mark in (". ", "! ", "? "))
    if end >= 0 and len(cut[:end + 1].split()) >= words // 2:
        return cut[:end + 1]
    return cut.rstrip(",;:-") + "..."


def text_sha1(text: str) -> str:
    """Hex sha1 of a text (how the cache recognises unchanged products)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def cache_path(cache_dir: str | Path, model_id: str) -> Path:
    """Where the vectors of ``model_id`` live under ``cache_dir``."""
    safe = re.sub(r"[^A-Za-z0-9._=-]+", "_", model_id).strip("_") or "model"
    return Path(cache_dir) / "embeddings" / safe / CACHE_FILE


@dataclass(frozen=True)
class _Key:
    catalog_fingerprint: str
    model_id: str
    text_format: str = TEXT_FORMAT

    def dumps(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


class ProductEmbeddings:
    """One unit vector per product: ``ids[i]`` is embedded as ``matrix[i]``."""

    def __init__(self, ids: Sequence[str], matrix: np.ndarray, text_hashes: Sequence[str] = (),
                 *, model_id: str = "", catalog_fingerprint: str = "") -> None:
        if matrix.ndim != 2 or matrix.shape[0] != len(ids):
            raise ValueError(f"matrix shape {matrix.shape} does not match {len(ids)} ids")
        self.ids: list[str] = list(ids)
        self.matrix: np.ndarray = np.ascontiguousarray(matrix, dtype=np.float32)
        self.text_hashes: list[str] = list(text_hashes)
        self.model_id = model_id
        self.catalog_fingerprint = catalog_fingerprint
        self._index = {pid: i for i, pid in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, product_id: object) -> bool:
        return product_id in self._index

    def index_of(self, product_id: str) -> int:
        """Row of a product in ``matrix``; raises KeyError for an id that has no vector."""
        return self._index[product_id]

    def row_numbers(self, product_ids: Iterable[str]) -> np.ndarray:
        """The row of each id in ``matrix`` (input order kept), -1 for an id that has no vector."""
        get = self._index.get
        return np.fromiter((get(pid, -1) for pid in product_ids), dtype=np.int64)

    # ---- building and caching ------------------------------------------------------------------

    @classmethod
    def build(cls, products: Iterable[Product], encoder: Encoder, *, progress: bool = False,
              previous: ProductEmbeddings | None = None, catalog_fingerprint: str = "") -> ProductEmbeddings:
        """Embed products, reusing ``previous`` vectors whose text hash is unchanged."""
        ids, texts, hashes = [], [], []
        for p in products:
            text = product_text(p)
            ids.append(p.id)
            texts.append(text)
            hashes.append(text_sha1(text))
        matrix = np.zeros((len(ids), encoder.dim), dtype=np.float32)
        reusable: dict[str, int] = {}
        if previous is not None and previous.model_id == encoder.model_id:
            reusable = {h: i for i, h in enumerate(previous.text_hashes)}
        todo = []
        for i, h in enumerate(hashes):
            if h in reusable:
                matrix[i] = previous.matrix[reusable[h]]  # type: ignore[union-attr]
            else:
                todo.append(i)
        if todo:
            started = time.perf_counter()
            matrix[todo] = encoder.encode([texts[i] for i in todo], progress=progress)
            logger.info("Encoded %d products in %.1f s", len(todo), time.perf_counter() - started)
        logger.info("Product embeddings: %d reused, %d encoded", len(ids) - len(todo), len(todo))
        return cls(ids, matrix, hashes, model_id=encoder.model_id, catalog_fingerprint=catalog_fingerprint)

    @classmethod
    def load_or_build(cls, catalog: Catalog, encoder: Encoder, cache_dir: str | Path,
                      progress: bool = True) -> ProductEmbeddings:
        """Load the cached vectors of this catalog and model, or (re)build and cache them.

        The model is not touched when the cache key matches; otherwise only products whose text
        changed (or that are new) are encoded.
        """
        path = cache_path(cache_dir, encoder.model_id)
        key = _Key(catalog.fingerprint(), encoder.model_id)
        cached = cls._read(path)
        if cached is not None:
            cached_key, emb = cached
            if cached_key == key.dumps() and len(emb) == catalog.count_products():
                logger.info("Loaded %d product embeddings from %s", len(emb), path)
                return emb
            logger.info("Embedding cache %s is for another catalog or model; updating it", path)
        emb = cls.build(catalog.iter_products(), encoder, progress=progress,
                        previous=cached[1] if cached else None, catalog_fingerprint=key.catalog_fingerprint)
        emb._write(path, key)
        return emb

    @classmethod
    def _read(cls, path: Path) -> tuple[str, ProductEmbeddings] | None:
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                key = str(data["key"])
                info = json.loads(key)
                emb = cls([str(x) for x in data["ids"]], data["matrix"],
                          [str(x) for x in data["text_sha1"]], model_id=info["model_id"],
                          catalog_fingerprint=info["catalog_fingerprint"])
        except Exception as exc:  # a truncated or foreign file must not stop the assistant
            logger.warning("Ignoring unreadable embedding cache %s (%s); it will be rebuilt", path, exc)
            return None
        if len(emb.text_hashes) != len(emb):
            logger.warning("Ignoring inconsistent embedding cache %s; it will be rebuilt", path)
            return None
        return key, emb

    def _write(self, path: Path, key: _Key) -> None:
        with replaced_whole(path) as tmp, open(tmp, "xb") as fh:
            np.savez(fh, ids=np.array(self.ids, dtype=str), matrix=self.matrix,
                     text_sha1=np.array(self.text_hashes, dtype=str), key=np.array(key.dumps()))
        logger.info("Wrote %d product embeddings to %s", len(self), path)
