"""The served collaborative model: trained from a catalog's own histories, kept while nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recommender.catalog.products import Catalog
from recommender.cf.serving import MIN_SHOPPERS, ServingSettings, data_key, is_current, too_few_histories, train_for_catalog
from recommender.cf.model import CFConfig
from recommender.cf.recommender import CFRecommender
from recommender.cf.train import TrainConfig
from recommender.text.embeddings import ProductEmbeddings
from recommender.catalog.importer import import_catalog
from tests.test_embeddings import HashEncoder

EVEN = [f"e{i}" for i in range(5)]
ODD = [f"o{i}" for i in range(5)]
FAST = ServingSettings(CFConfig(n_embd=16, max_len=8, dropout=0.1, n_negatives=0),
                       TrainConfig(epochs=12, batch_size=16, lr=1e-2, patience=12, threads=1))


def build(folder: Path, n_shoppers: int = 120) -> Path:
    """A checkerboard shop: each shopper buys the five products of one parity, in a random order."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    products = "".join(f'{{"id": "{p}", "title": "{"Even" if p in EVEN else "Odd"} product {p}", '
                       f'"category": "Beauty > {"Even" if p in EVEN else "Odd"}", "price": 5}}\n'
                       for p in EVEN + ODD)
    (folder / "products.jsonl").write_text(products)
    lines = [f"s{u} {' '.join(rng.permutation(EVEN if u % 2 == 0 else ODD))}" for u in range(n_shoppers)]
    (folder / "history.txt").write_text("\n".join(lines) + "\n")
    import_catalog(folder / "products.jsonl", folder / "catalog.db", interactions=folder / "history.txt",
                   progress=False)
    return folder / "catalog.db"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cf-catalog")
    catalog = Catalog.open(build(folder))
    embeddings = ProductEmbeddings.load_or_build(catalog, HashEncoder(), folder / "cache", progress=False)
    path = folder / "cf" / "model.pt"
    result = train_for_catalog(catalog, embeddings, path, settings=FAST, threads=1)
    yield catalog, embeddings, path, result
    catalog.close()


def test_the_served_model_beats_popularity_on_held_out_items(trained):
    _, _, _, result = trained
    assert result.valid["hr@5"] > 0.95 and result.valid["n_shoppers"] == 120
    assert result.valid["ndcg@10"] > result.popularity_valid["ndcg@10"] + 0.2


def test_the_saved_model_knows_full_histories_and_its_catalog(trained):
    catalog, _, path, _ = trained
    rec = CFRecommender.load(path, fingerprint=catalog.fingerprint())
    history = catalog.shopper_history("s0")
    assert [rec.item_ids[i] for i in rec.histories[rec.shopper_ids.index("s0")]] == history
    top = rec.recommend("s0", n=3, candidates=EVEN + ODD)           # all even products are bought
    assert {r.product_id for r in top} <= set(ODD)
    new = rec.recommend(None, n=4, session_items=["e0"], candidates=EVEN + ODD)
    assert {r.product_id for r in new} == set(EVEN) - {"e0"}
    stamp = json.loads(path.with_name(path.name + ".json").read_text())
    assert stamp["valid"]["ndcg@10"] == pytest.approx(trained[3].valid["ndcg@10"])


def test_is_current_until_the_histories_or_settings_change(trained, tmp_path):
    catalog, embeddings, path, _ = trained
    assert is_current(path, data_key(catalog, embeddings, FAST))
    assert not is_current(path, data_key(catalog, embeddings))     # other settings
    assert not is_current(tmp_path / "missing.pt", data_key(catalog, embeddings, FAST))
    other = Catalog.open(build(tmp_path / "more", n_shoppers=122))   # two more shoppers, same products
    try:
        assert other.fingerprint() == catalog.fingerprint()
        assert not is_current(path, data_key(other, embeddings, FAST))
    finally:
        other.close()


def test_set_up_skips_the_model_in_one_line_when_histories_are_too_few(tmp_path, monkeypatch):
    from bot.build import ensure_cf_model

    few = build(tmp_path / "few", n_shoppers=MIN_SHOPPERS - 1)
    monkeypatch.setenv("SHOPBOT_CATALOG", str(few))
    monkeypatch.setenv("SHOPBOT_CACHE", str(tmp_path / "cache"))
    with Catalog.open(few) as catalog:
        assert f"{MIN_SHOPPERS - 1} shoppers with 3 or more items" in too_few_histories(catalog)
    line = ensure_cf_model()
    assert line.startswith("skipped: too few shopper histories") and "\n" not in line
    assert line.endswith("; products are ranked by relevance, then how many shoppers bought them")
    assert not (tmp_path / "cache" / "cf").exists()                 # nothing trained, nothing saved
    with Catalog.open(build(tmp_path / "enough", n_shoppers=MIN_SHOPPERS)) as catalog:
        assert too_few_histories(catalog) is None
