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
from recommender.catalog.naming import worth_naming
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
    assert text.startswith(nlu_lookups.HEADER + "# 1 brands (3 or more products, or among the 100 biggest) and "
                                                 "1 leaf categories (>= 3 products each).\n")
    assert text.splitlines()[3:5] == ['version: "3.1"', "nlu:"]


def test_a_big_catalogs_rare_brands_are_left_out_a_small_shops_are_not() -> None:
    """3 products or more, or one of the 100 biggest brands (recommender/catalog/naming.py)."""
    big = [(f"Brand {i:03d}", 3) for i in range(100)] + [("Rare One", 2), ("Rare Two", 1), ("Case brand", 2),
                                                        ("CASE BRAND", 1)]
    named = nlu_lookups._canonical_brands(big)
    assert len(named) == 101 and "CASE BRAND" not in named and "Case brand" in named  # 2 + 1 merged: 3
    assert "Rare One" not in named and "Rare Two" not in named
    assert nlu_lookups._canonical_brands([("Rare One", 2), ("Rare Two", 1)]) == ["Rare One", "Rare Two"]
    assert [worth_naming(rank, n) for rank, n in ((0, 1), (99, 1), (100, 1), (100, 2), (5000, 3))] == [
        True, True, False, False, True]


def test_parts_of_a_joined_category_name_it_when_its_products_own_the_word(tmp_path: Path) -> None:
    """ "kettle" names "Kettles & Toasters" (its products' titles say kettle); "hair" never names "Hair &
    Scalp Treatments" (most titles with "hair" are of other categories); a whole name wins over a part."""
    categories = {"Kettles & Toasters": ["Steel Kettle 1.7 l", "Glass Kettle", "Two-Slice Toaster", "Retro Toaster"],
                  "Hair & Scalp Treatments": ["Scalp Serum", "Hair Mask", "Repair Oil"],
                  "Shampoos": ["Hair Shampoo", "Dry Hair Shampoo", "Curly Hair Shampoo", "Hair Wash"],
                  "Shampoo & Conditioner Sets": ["Shampoo and Conditioner Duo", "Gift Set", "Travel Set"]}
    rows = [{"id": f"p{i}-{j}", "title": title, "brand": "Acme", "category": category, "price": 10}
            for i, (category, titles) in enumerate(categories.items()) for j, title in enumerate(titles)]
    path = tmp_path / "shop.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_catalog(path, tmp_path / "catalog.db", progress=False)
    with Catalog.open(tmp_path / "catalog.db") as catalog:
        synonyms = {form: canonical for item in yaml.safe_load(nlu_lookups.generate(catalog))["nlu"]
                    if "synonym" in item for form in item["examples"].replace("- ", "").split("\n") if form
                    for canonical in [item["synonym"]]}
    assert {f: synonyms.get(f) for f in ("kettle", "kettles", "toasters", "hair", "scalp treatments", "shampoo")} == {
        "kettle": "Kettles & Toasters", "kettles": "Kettles & Toasters", "toasters": "Kettles & Toasters",
        "hair": None, "scalp treatments": "Hair & Scalp Treatments", "shampoo": "Shampoos"}


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
