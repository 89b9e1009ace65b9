"""The Rasa training data: valid, varied, in line with the domain and the catalog (issue 5)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from actions.search import RESPONSES
from actions.vocabulary import Vocabulary
from bot import nlu_lookups
from recommender import config
from recommender.catalog import Catalog
from recommender.importer import import_catalog

ROOT = config.REPO_ROOT
NLU_DIR = ROOT / "data" / "nlu"
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
# Rasa reads only these folders: data/products holds the shipped catalog, not training data.
RASA_DATA = ["data/nlu", "data/rules", "data/stories"]
RASA_ENV = {"RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
MIN_EXAMPLES = {"search_products": 150, "greet": 30, "goodbye": 30, "help": 30, "out_of_scope": 30}


def read_nlu():
    """All of data/nlu as one TrainingData."""
    data = RasaYAMLReader().read(NLU_DIR / "search.yml")
    for path in sorted(NLU_DIR.glob("*.yml")):
        if path.name != "search.yml":
            data = data.merge(RasaYAMLReader().read(path))
    return data


@pytest.fixture(scope="module")
def nlu():
    return read_nlu()


@pytest.fixture(scope="module")
def real_catalog():
    path = config.catalog_path()
    if not path.is_file():
        pytest.skip(f"no catalog at {path}: build it with `shopbot catalog build` to check the data against it")
    with Catalog.open(path) as catalog:
        yield catalog


# ---- the data itself -----------------------------------------------------------------------------


def test_intents_and_entities_match_the_domain(nlu):
    assert set(nlu.intents) == set(DOMAIN["intents"])
    assert nlu.entities <= set(DOMAIN["entities"])
    assert {"category", "brand", "price_min", "price_max"} <= nlu.entities


def test_every_intent_has_enough_examples(nlu):
    counts = Counter(m.get("intent") for m in nlu.intent_examples)
    assert {i: n for i, n in counts.items() if n < MIN_EXAMPLES.get(i, 30)} == {}


def test_no_example_is_repeated_or_in_two_intents(nlu):
    texts = Counter(m.get("text").lower().strip(" ?!.") for m in nlu.intent_examples)
    assert [t for t, n in texts.items() if n > 1] == []


def test_search_examples_are_not_one_template_with_swapped_words(nlu):
    """Replace each entity by its name ("[brand] [category] under [price_max]"): nearly all differ."""
    skeletons = []
    for m in nlu.intent_examples:
        if m.get("intent") == "search_products":
            text = m.get("text")
            for e in sorted(m.get("entities", []), key=lambda e: -e["start"]):
                text = text[: e["start"]] + f"<{e['entity']}>" + text[e["end"]:]
            skeletons.append(text.lower())
    bare = {"<brand> <category>", "<category>", "<brand>"}  # keyword queries: short by nature
    repeated = {s: n for s, n in Counter(skeletons).items() if n > 3 and s not in bare}
    assert repeated == {}
    assert len(set(skeletons)) >= 0.85 * len(skeletons)


def test_search_examples_include_bare_keywords_questions_and_long_sentences(nlu):
    texts = [m.get("text") for m in nlu.intent_examples if m.get("intent") == "search_products"]
    assert sum(len(t.split()) <= 2 for t in texts) >= 20
    assert sum(t.rstrip().endswith("?") for t in texts) >= 15
    assert sum(len(t.split()) >= 15 for t in texts) >= 8
    assert sum(not m.get("entities") for m in nlu.intent_examples if m.get("intent") == "search_products") >= 15


def test_annotated_prices_parse(nlu):
    from actions.prices import parse_price

    values = [e["value"] for m in nlu.intent_examples for e in m.get("entities", [])
              if e["entity"] in ("price_min", "price_max")]
    assert len(values) >= 60
    assert [v for v in values if parse_price(v) is None] == []


def test_annotated_brands_and_categories_are_in_the_catalog(nlu, real_catalog):
    """What the action can use: synonyms first (as EntitySynonymMapper does), then the vocabulary."""
    synonyms = {k.lower(): v for k, v in nlu.entity_synonyms.items()}
    vocabulary = Vocabulary.from_catalog(real_catalog)
    unknown = []
    for m in nlu.intent_examples:
        for e in m.get("entities", []):
            value = synonyms.get(e["value"].lower(), e["value"])
            if e["entity"] == "brand" and vocabulary.brand(value) is None:
                unknown.append(("brand", e["value"]))
            if e["entity"] == "category" and vocabulary.category(value) is None:
                unknown.append(("category", e["value"]))
    assert unknown == []


# ---- lookups.yml ---------------------------------------------------------------------------------


def test_lookups_are_up_to_date_with_the_catalog(real_catalog):
    expected = nlu_lookups.generate(real_catalog)
    actual = (NLU_DIR / "lookups.yml").read_text(encoding="utf-8")
    assert actual == expected, "data/nlu/lookups.yml is stale: run `shopbot nlu-lookups`, then retrain"


def build_catalog(folder: Path, rows: list[tuple]) -> Catalog:
    products = [{"id": f"p{i}", "title": title, "brand": brand, "category": "Beauty > " + category,
                 "price": 5.0} for i, (title, brand, category) in enumerate(rows)]
    (folder / "products.jsonl").write_text("".join(json.dumps(p) + "\n" for p in products))
    import_catalog(folder / "products.jsonl", folder / "catalog.db", progress=False)
    return Catalog.open(folder / "catalog.db")


SMALL_SHOP = [
    *[(f"Elvive Shampoo {i}", "L&#39;Oreal Paris", "Hair Care > Shampoos") for i in range(3)],
    *[(f"Nail Lacquer {i}", "OPI", "Makeup > Nails > Nail Polish") for i in range(3)],
    *[(f"Glow Serum {i}", "Glow Cosmetics", "Skin Care > Face > Oils & Serums") for i in range(3)],
    *[(f"Glow Mask {i}", "Glow Beauty", "Skin Care > Face > Treatments & Masks > Masks") for i in range(3)],
    ("Body Cream", "Tiny Brand", "Skin Care > Body > Creams"),
    ("Relaxer Cream", "Tiny Brand", "Hair Care > Hair Relaxers > Creams"),
    ("Eye Cream", "Two Products", "Skin Care > Eyes > Creams"),
    ("Leave-in Cream", "Two Products", "Hair Care > Hair Relaxers > Creams"),
]


@pytest.fixture(scope="module")
def small_lookups(tmp_path_factory) -> dict:
    with build_catalog(tmp_path_factory.mktemp("lookups"), SMALL_SHOP) as catalog:
        text = nlu_lookups.generate(catalog)
        assert nlu_lookups.generate(catalog) == text  # deterministic
    data = yaml.safe_load(text)
    out = {"text": text, "synonyms": {}}
    for item in data["nlu"]:
        entries = [line[2:] for line in item["examples"].splitlines()]
        if "lookup" in item:
            out[item["lookup"]] = entries
        else:
            out["synonyms"][item["synonym"]] = entries
    return out


def test_lookups_file_is_marked_generated_and_sorted(small_lookups):
    assert small_lookups["text"].startswith("# generated by `shopbot nlu-lookups`")
    assert "do not edit" in small_lookups["text"].splitlines()[0]
    assert small_lookups["brand"] == sorted(small_lookups["brand"])
    assert small_lookups["category"] == sorted(small_lookups["category"])


def test_lookups_spell_brands_and_categories_the_way_people_type_them(small_lookups):
    assert small_lookups["synonyms"]["L'Oreal Paris"] == ["l'oreal", "loreal", "loreal paris"]
    assert small_lookups["synonyms"]["Shampoos"] == ["shampoo"]
    assert {"l'oreal paris", "loreal", "opi"} <= set(small_lookups["brand"])
    assert {"shampoos", "shampoo", "nail polish", "masks", "mask"} <= set(small_lookups["category"])


def test_lookups_leave_out_ambiguous_words_small_brands_and_scattered_categories(small_lookups):
    everything = small_lookups["brand"] + small_lookups["category"]
    assert "glow" not in everything  # Glow Cosmetics or Glow Beauty?
    assert {"glow cosmetics", "glow beauty"} <= set(small_lookups["brand"])
    assert "tiny brand" not in everything and "two products" not in everything  # < 3 products
    assert "creams" not in everything and "cream" not in everything  # body, eyes and hair relaxers


def test_lookups_file_is_valid_rasa_nlu(small_lookups, tmp_path):
    path = tmp_path / "lookups.yml"
    path.write_text(small_lookups["text"])
    data = RasaYAMLReader().read(path)
    assert {t["name"] for t in data.lookup_tables} == {"brand", "category"}
    assert data.entity_synonyms["loreal"] == "L'Oreal Paris"


# ---- rasa data validate --------------------------------------------------------------------------


@pytest.mark.slow  # imports TensorFlow: 30-60 s on 2 busy cores
def test_rasa_data_validate_passes():
    """Only warnings allowed: responses that only the custom action sends are 'not used in any story'."""
    rasa = Path(sys.executable).with_name("rasa")
    result = subprocess.run(
        [str(rasa), "data", "validate", "--domain", "domain.yml", "--config", "config.yml",
         "--data", *RASA_DATA],
        cwd=ROOT, env={**os.environ, **RASA_ENV}, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    warnings = re.findall(r"UserWarning: (.*)", output)
    allowed = {f"The utterance '{name}' is not used in any story or rule." for name in RESPONSES}
    assert [w for w in warnings if w not in allowed and "pkg_resources" not in w] == []
