"""bot/nlu_lookups.py writes lookups.yml with a YAML serializer: a hostile brand or category stays one
lookup entry and cannot add an intent (issue 17, item 8); brand short forms come from the catalog's own
words, not one kind of shop's (issue 16)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import yaml
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from bot import nlu_lookups
from recommender.catalog.importer import import_catalog
from recommender.catalog.products import Catalog

HOSTILE = "X\n- intent: greet\n  examples: |\n    - hello"


def _catalog(folder: Path, brand: str, category: str) -> Path:
    rows = [{"id": f"p{i}", "title": f"Soap {i}", "brand": brand, "category": ["Home", category], "price": 5}
            for i in range(3)]
    (folder / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    import_catalog(folder / "p.jsonl", folder / "c.db", progress=False)
    return folder / "c.db"


def _read(text: str, tmp_path: Path):
    path = tmp_path / "lookups.yml"
    path.write_text(text, encoding="utf-8")
    return RasaYAMLReader().read(path)


def _lookups(data) -> dict[str, list[str]]:
    return {table["name"]: table["elements"] for table in data.lookup_tables}


def test_imported_hostile_brand_is_one_lookup_entry(tmp_path: Path) -> None:
    with Catalog.open(_catalog(tmp_path, HOSTILE, "Soaps\n- intent: bye")) as catalog:
        text = nlu_lookups.generate(catalog)
    data = _read(text, tmp_path)
    assert data.intents == set() and data.training_examples == []
    assert "x - intent: greet examples: | - hello" in _lookups(data)["brand"]
    assert "soaps - intent: bye" in _lookups(data)["category"]


def test_raw_newlines_in_an_old_catalog_cannot_add_an_intent(tmp_path: Path) -> None:
    """A catalog built before the importer cleaned text: the generator is the last line of defence."""
    db = _catalog(tmp_path, "Acme", "Soaps")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE products SET brand = ?, category = ?", [HOSTILE, "Gels\n- intent: bye"])
    with Catalog.open(db) as catalog:
        text = nlu_lookups.generate(catalog)
    parsed = yaml.safe_load(text)
    assert set(parsed) == {"version", "nlu"}
    assert all(set(item) <= {"lookup", "synonym", "examples"} for item in parsed["nlu"])
    data = _read(text, tmp_path)
    assert data.intents == set() and data.training_examples == []
    assert "x - intent: greet examples: | - hello" in _lookups(data)["brand"]


def test_header_comment_is_kept(tmp_path: Path) -> None:
    with Catalog.open(_catalog(tmp_path, "Acme", "Soaps")) as catalog:
        text = nlu_lookups.generate(catalog)
    assert text.startswith(nlu_lookups.HEADER + "# 1 brands and 1 leaf categories (>= 3 products each).\n")
    assert text.splitlines()[3:5] == ['version: "3.1"', "nlu:"]


def test_brand_short_forms_drop_the_company_words_of_this_shop(tmp_path: Path) -> None:
    """A fashion shop: "Apparel" ends four brand names and "Footwear" is a department, so "Nordway Apparel"
    is also "nordway" and "Trailo Footwear Ltd" "trailo"; a brand's own name stays its own."""
    brands = ["Nordway Apparel", "Kestrel Apparel", "Lumo Apparel", "Brisk Apparel", "Trailo Footwear Ltd",
              "Nordway"]
    rows = [{"id": f"{b}{i}", "title": f"Item {i}", "brand": b, "price": 9,
             "category": ["Fashion", "Footwear" if "Trailo" in b else "Clothing", "Tops"]}
            for b in brands for i in range(3)]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    import_catalog(tmp_path / "p.jsonl", tmp_path / "c.db", progress=False)
    with Catalog.open(tmp_path / "c.db") as catalog:
        data = _read(nlu_lookups.generate(catalog), tmp_path)
    synonyms = data.entity_synonyms
    assert synonyms["kestrel"] == "Kestrel Apparel" and synonyms["lumo"] == "Lumo Apparel"
    assert synonyms["trailo"] == "Trailo Footwear Ltd"
    assert "nordway" not in synonyms  # the brand Nordway's own name: no synonym needed, not Nordway Apparel's
    assert "nordway" in _lookups(data)["brand"] and "nordway apparel" in _lookups(data)["brand"]
