"""The approximate vector index of large catalogs: recall against the exact scan, its cache, and the
ranker on it (the same results as the exact ranker when the index covers the catalog; filters hold).

The ranker tests reuse the small catalog and fake encoder of test_search.py, with the index turned
on by hand (the shipped catalog is far below ``index_min_products``).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recommender.text.embeddings import ProductEmbeddings
from recommender import Filters, ProductSearch, SearchConfig
from recommender.text.vector_index import VectorIndex, default_nlist
from tests import test_search as shop
from tests.test_search import FILTER_CASES, ids, sql_passes

# test_search's fixtures: its small catalog, and its ranker with a small collaborative model
db_path, engine, sql, personal = shop.db_path, shop.engine, shop.sql, shop.personal

DIM = 32
NPROBE = 16


def clustered_unit_vectors(n: int, seed: int) -> np.ndarray:
    """``n`` unit vectors around 40 random directions (like products of a few kinds), float32."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, DIM))
    x = centres[rng.integers(0, len(centres), n)] + rng.normal(scale=0.35, size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact_top(matrix: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(matrix @ query), kind="stable")[:k]


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return clustered_unit_vectors(4000, seed=0)


@pytest.fixture(scope="module")
def index(vectors) -> VectorIndex:
    return VectorIndex.build(vectors)


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return clustered_unit_vectors(200, seed=1)


def test_recall_at_10_against_the_exact_scan(vectors, index, queries):
    assert index.nlist == default_nlist(len(vectors)) == 126 and len(index) == len(vectors)
    recall = []
    for q in queries:
        rows, sims = index.search(q, 10, NPROBE)
        assert rows.dtype == np.int64 and sims.dtype == np.float32 and len(rows) == 10
        assert np.all(np.diff(sims) <= 1e-6)                                   # best first
        np.testing.assert_allclose(sims, vectors[rows] @ q, atol=1e-5)         # the true inner products
        recall.append(len(set(rows.tolist()) & set(exact_top(vectors, q, 10).tolist())) / 10)
    assert np.mean(recall) >= 0.95
    everything = [set(index.search(q, 10, index.nlist)[0].tolist()) == set(exact_top(vectors, q, 10).tolist())
                  for q in queries[:20]]
    assert all(everything)                                                     # every list scanned: exact


def test_search_drops_the_padding_of_lists_too_small_for_k(vectors, index, queries):
    rows, sims = index.search(queries[0], len(vectors), nprobe=1)               # one list: far fewer than k
    assert 0 < len(rows) < len(vectors) and rows.min() >= 0 and len(set(rows.tolist())) == len(rows)
    assert len(sims) == len(rows) and np.isfinite(sims).all()
    assert len(index.search(queries[0], 0, NPROBE)[0]) == 0


def test_save_and_load_give_the_same_results(index, queries, tmp_path):
    index.save(tmp_path / "ivf.faiss")
    loaded = VectorIndex.load(tmp_path / "ivf.faiss")
    assert len(loaded) == len(index) and loaded.nlist == index.nlist
    for q in queries[:20]:
        for a, b in zip(index.search(q, 10, NPROBE), loaded.search(q, 10, NPROBE)):
            np.testing.assert_array_equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == ["ivf.faiss"]               # no temporary file left


def embeddings_of(matrix: np.ndarray, fingerprint: str = "catalog-1") -> ProductEmbeddings:
    return ProductEmbeddings([f"p{i}" for i in range(len(matrix))], matrix, model_id="fake/model@1",
                             catalog_fingerprint=fingerprint)


def test_the_cached_index_is_reused_and_a_stale_one_is_rebuilt(vectors, queries, tmp_path, monkeypatch, caplog):
    first = embeddings_of(vectors)
    built = VectorIndex.load_or_build(first, tmp_path)
    [cached] = tmp_path.glob("ivf-*.faiss")

    def no_build(*args, **kwargs):
        raise AssertionError("the cached index should have been loaded")

    with monkeypatch.context() as patch:
        patch.setattr(VectorIndex, "build", no_build)
        again = VectorIndex.load_or_build(embeddings_of(vectors.copy()), tmp_path)
    np.testing.assert_array_equal(again.search(queries[0], 10, NPROBE)[0], built.search(queries[0], 10, NPROBE)[0])

    # other vectors of the same shape, catalog and model: the old index is not used, and is removed
    other = clustered_unit_vectors(len(vectors), seed=2)
    rebuilt = VectorIndex.load_or_build(embeddings_of(other), tmp_path)
    [fresh] = tmp_path.glob("ivf-*.faiss")
    assert fresh != cached
    q = other[7]
    assert rebuilt.search(q, 1, rebuilt.nlist)[0][0] == 7                      # it holds the new vectors
    # another catalog fingerprint: another key too
    VectorIndex.load_or_build(embeddings_of(other, fingerprint="catalog-2"), tmp_path)
    assert list(tmp_path.glob("ivf-*.faiss")) != [fresh]

    # a truncated file is rebuilt, with a warning
    [path] = tmp_path.glob("ivf-*.faiss")
    path.write_bytes(path.read_bytes()[:100])
    with caplog.at_level(logging.WARNING, logger="recommender.text.vector_index"):
        repaired = VectorIndex.load_or_build(embeddings_of(other, fingerprint="catalog-2"), tmp_path)
    assert "unreadable vector index" in caplog.text and len(repaired) == len(other)
    assert path.stat().st_size > 100


def test_faiss_is_imported_only_when_an_index_is_used():
    code = "import sys, recommender.ranking.ranker, recommender.text.vector_index; print('faiss' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert run.stdout.strip() == "False"


# ---- the ranker on the index ----------------------------------------------------------------------


def indexed(engine: ProductSearch, recommender=None, **config) -> ProductSearch:
    """The test ranker (``engine``) with a vector index over its embeddings (and its relevance floor: off)."""
    cfg = SearchConfig(popular_reason_min=3, diversity=0, index_min_products=1,
                       relevance_floor=engine.config.relevance_floor, **config)
    return ProductSearch(engine.catalog, engine.encoder, engine.embeddings, cfg, recommender=recommender,
                         index=VectorIndex.build(engine.embeddings.matrix))


QUERIES = ["shampoo", "red", "dry skin moisturizer", "mascara", "nail polish", "face wash", ""]


@pytest.mark.parametrize("query", QUERIES)
def test_an_index_covering_the_catalog_ranks_like_the_exact_ranker(engine, query):
    n = len(engine.embeddings)
    ranker = indexed(engine, index_candidates=n, index_nprobe=n)
    for filters in [Filters(), *FILTER_CASES]:
        exact, approx = engine.search(query, filters, n=n), ranker.search(query, filters, n=n)
        assert ids(approx) == ids(exact)
        assert [r.reasons for r in approx.results] == [r.reasons for r in exact.results]
        assert [r.score for r in approx.results] == pytest.approx([r.score for r in exact.results], abs=1e-6)
    for pid in ["s01", "s06", "s09"]:
        assert ids(ranker.similar(pid, n=n)) == ids(engine.similar(pid, n=n))


@pytest.mark.parametrize("filters", [Filters(), *FILTER_CASES], ids=lambda f: ",".join(f.describe()) or "none")
def test_a_short_index_list_scores_only_its_products_within_the_filters(engine, sql, filters):
    ranker = indexed(engine, index_candidates=2, index_nprobe=1, index_min_share=0.0)
    out = ranker.search("dry skin", filters, n=20)
    assert out.results and all(sql_passes(sql, pid, filters) for pid in ids(out))
    wide = ranker.search("dry skin", n=20)
    exact = engine.search("dry skin", n=20)
    assert len(wide.results) < len(exact.results)                            # a shortlist, not the catalog
    assert ids(wide)[:2] == ids(exact)[:2]                                    # ...that has the best ones
    assert ranker.search("dry skin", exclude=["s04"], n=20).results[0].product.id != "s04"


def test_narrow_filters_and_empty_queries_score_every_candidate(engine, sql):
    ranker = indexed(engine, index_candidates=1, index_nprobe=1)              # min share 0.5: not for filters
    for filters in FILTER_CASES:
        for query in ["shampoo", ""]:
            assert ids(ranker.search(query, filters, n=20)) == ids(engine.search(query, filters, n=20))
    assert ids(ranker.search("", n=20)) == ids(engine.search("", n=20))    # no text: nothing to look up


def test_the_collaborative_models_likeliest_products_are_scored(engine, personal):
    last, exact = personal                    # after s05, shoppers bought the shampoo `last`
    n = len(engine.embeddings)
    cover = indexed(engine, exact.recommender, index_candidates=n, index_nprobe=n)
    for query in ["mascara", "shampoo"]:
        session = {"n": n, "session_items": ["s05"]}
        assert ids(cover.search(query, **session)) == ids(exact.search(query, **session))
    short = indexed(engine, exact.recommender, index_candidates=3, index_nprobe=1, index_min_share=0.0)
    assert last not in ids(short.search("mascara", n=n))                       # far from mascara by text
    out = short.search("mascara", n=n, session_items=["s05"])
    assert last in ids(out)                                                   # ...but likely after s05
    assert any(reason.startswith("often bought after") for reason in out.results[ids(out).index(last)].reasons)


def test_from_paths_builds_the_index_only_for_large_catalogs(db_path, tmp_path, monkeypatch):
    import recommender.ranking.ranker as search_module

    monkeypatch.setattr(search_module, "TextEncoder", shop.ConceptEncoder)
    small = ProductSearch.from_paths(db_path, tmp_path, progress=False, model_path=tmp_path / "none.pt")
    large = ProductSearch.from_paths(db_path, tmp_path, progress=False, model_path=tmp_path / "none.pt",
                                     config=SearchConfig(index_min_products=len(small.embeddings)))
    try:
        assert small.index is None and large.index is not None and len(large.index) == len(small.embeddings)
        assert len(list(Path(tmp_path).glob("embeddings/*/ivf-*.faiss"))) == 1  # next to the vectors
    finally:
        small.close()
        large.close()
