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

from actions.vocabulary import Vocabulary
from bot import nlu_lookups
from recommender import config
from recommender.catalog.products import Catalog
from recommender.catalog.importer import import_catalog
from recommender.ranking.prices import nlu_regexes

ROOT = config.REPO_ROOT
NLU_DIR = ROOT / "data" / "nlu"
OTHER_STORES = "stores.yml"  # product requests of other kinds of store than the shipped catalog's
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
# Rasa reads only these folders: data/products holds the shipped catalog, not training data.
RASA_DATA = ["data/nlu", "data/rules", "data/stories"]
RASA_ENV = {"RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
MIN_EXAMPLES = {"search_products": 150, "greet": 30, "goodbye": 30, "help": 30, "out_of_scope": 30,
                # the easily confused ones get more (issue: the conversation intents)
                "refine_search": 60, "show_more": 40, "recommend": 40}
# The intents the actions, rules and stories rely on: names are part of the contract.
INTENTS = {"greet", "goodbye", "affirm", "deny", "help", "bot_challenge", "out_of_scope",
           "search_products", "refine_search", "show_more", "recommend", "similar_products",
           "product_details", "compare_products", "explain", "add_to_cart", "remove_from_cart",
           "view_cart", "checkout", "like_product", "dislike_product", "start_over", "forget_me",
           "human_handoff", "set_language", "ask_policy", "order_status", "order_history", "cancel_order",
           "return_item", "reorder", "my_data", "forget_item", "watch_product", "list_watches", "cancel_watch"}
EXTERNAL_INTENTS = {"watch_fired"}  # sent by the shop through Rasa's API (bot/watch_delivery.py), never typed
# What the actions get after EntitySynonymMapper.
SYNONYM_VALUES = {"relative_price": {"lower", "higher"}, "drop_filter": {"price", "brand", "category", "stock"}}
# A drop_filter without a synonym lifts an attribute: its words name the facet (data/nlu/refine.yml).
FACET_WORDS = {"colour", "color", "colours", "colors", "size", "gender", "material", "anyone"}
PRODUCT_INTENTS = {"search_products", "refine_search", "recommend", "similar_products"}
# Words that name a product of one kind of store (whole words or phrases), to check that product
# requests span many kinds of store and that out_of_scope names none ("do you like dogs?" is talk,
# "dog food" a product: hence no bare "dog", "book", "bread" or "cricket" here).
STORE_NOUNS = {
    "fashion": "jeans, jacket, jackets, sneakers, shoes, dress, shirt, shirts, t-shirt, hoodie, coat, boots, kurta, "
               "kurti, saree, skirt, socks, sandals, leggings, suit, blazer, sweaters, trainers, heels",
    "electronics": "laptop, laptops, phone, phones, tv, headphones, earbuds, charger, printer, monitor, keyboard, "
                   "tablet, camera, speaker, smartwatch, fridge, refrigerator, microwave, washing machine",
    "home": "sofa, sofas, couch, mattress, chair, chairs, desk, lamp, curtains, rug, pillows, toaster, blender, "
            "kettle, furniture, coffee table, office chair",
    "grocery": "rice, milk, coffee, tea, cheese, butter, chocolate, flour, sugar, juice, eggs, groceries, honey, snacks",
    "toys": "lego, doll, puzzle, toy, toys, board game, board games, card games",
    "sports": "tent, bicycle, helmet, racket, dumbbells, treadmill, skateboard, yoga mat, running shoes, fishing rod",
    "books": "books, novel, novels, cookbook, textbook, comics, comic books",
    "pets": "leash, litter, aquarium, dog food, cat food, pet food, dog toys, cat toys, dog treats, litter box, dog collar",
    "beauty": "shampoo, mascara, lipstick, foundation, conditioner, sunscreen, eyeliner, nail polish",
    "diy": "drill, paint, saw, screws, pliers, glue, ladder, hammer, lawn mower, duct tape, drill bits",
}
STORE_PATTERNS = {store: re.compile(r"\b(?:" + "|".join(map(re.escape, nouns.split(", "))) + r")\b")
                  for store, nouns in STORE_NOUNS.items()}
# Attributes are not entities (data/nlu/search.yml): none of these inside a category or brand span.
ATTRIBUTE_WORDS = set("""black white red blue green grey gray navy pink brown beige yellow purple men mens men's
women womens women's boys girls unisex xs xl xxl size small medium large leather cotton wool silk denim linen
wireless waterproof""".split())
# Every ordinal span, as documented in data/nlu/references.yml: one position ("second", "2nd", "2",
# "#2", "number 2", "last", "top", "second to last"), a range ("first two", "top 3", "both"), or
# "A or B" ("1 or 2"). actions/references.py parses each of these.
_POSITION = r"(?:first|second|third|fourth|fifth|last|top|1st|2nd|3rd|[4-9]th|#?\d|number \d)"
ORDINAL_SPAN = re.compile(rf"^(?:{_POSITION}|second to last|both|(?:first|top|last) (?:two|three|\d)"
                          rf"|{_POSITION} or {_POSITION})$")


def read_nlu(skip: tuple[str, ...] = ()):
    """All of data/nlu as one TrainingData, but the files named in `skip`."""
    data = RasaYAMLReader().read(NLU_DIR / "search.yml")
    for path in sorted(NLU_DIR.glob("*.yml")):
        if path.name != "search.yml" and path.name not in skip:
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


def test_the_data_has_exactly_the_contract_intents_and_entities(nlu):
    assert set(nlu.intents) == INTENTS
    assert nlu.entities == {"category", "brand", "price_min", "price_max", "ordinal", "relative_price",
                            "drop_filter", "order_number"}


def test_intents_and_entities_match_the_domain(nlu):
    assert set(nlu.intents) | EXTERNAL_INTENTS == set(DOMAIN["intents"])
    assert nlu.entities <= {e if isinstance(e, str) else next(iter(e)) for e in DOMAIN["entities"]}
    assert {"category", "brand", "price_min", "price_max"} <= nlu.entities


def test_every_intent_has_enough_examples(nlu):
    counts = Counter(m.get("intent") for m in nlu.intent_examples)
    assert {i: n for i, n in counts.items() if n < MIN_EXAMPLES.get(i, 30)} == {}


def test_no_example_is_repeated_or_in_two_intents(nlu):
    texts = Counter(m.get("text").lower().strip(" ?!.") for m in nlu.intent_examples)
    assert [t for t, n in texts.items() if n > 1] == []


def _held_out_form(text: str) -> str:
    """A message as compared with the held-out ones: case, spaces and punctuation (any script) aside."""
    return re.sub(r"[\W_]+", "", text.lower())


def test_no_held_out_message_is_a_training_example(nlu):
    """tests/nlu_heldout*/ measure what the model was not shown (bench/nlu_intents.py; the messages of
    entities.tsv: bench/chinese_entities.py)."""
    lines = [line for path in ROOT.glob("tests/nlu_heldout*/*.txt")
             for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    lines += [line.split("\t")[0] for line in (ROOT / "tests/nlu_heldout_zh/entities.tsv").read_text(
        encoding="utf-8").splitlines()[1:]]
    held_out = {_held_out_form(line) for line in lines} - {""}
    assert len(held_out) > 800
    assert sorted(m.get("text") for m in nlu.intent_examples if _held_out_form(m.get("text")) in held_out) == []


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


def test_no_intent_is_one_template_with_swapped_words(nlu):
    """Entities replaced by their names, nearly all examples of every intent still differ."""
    by_intent: dict[str, list[str]] = {}
    for m in nlu.intent_examples:
        text = m.get("text")
        for e in sorted(m.get("entities", []), key=lambda e: -e["start"]):
            text = text[: e["start"]] + f"<{e['entity']}>" + text[e["end"]:]
        by_intent.setdefault(m.get("intent"), []).append(text.lower().strip(" ?!."))
    crowded = {i: len(set(s)) / len(s) for i, s in by_intent.items() if len(set(s)) < 0.85 * len(s)}
    assert crowded == {}


def test_ordinals_are_annotated_the_documented_way(nlu):
    spans = [e["value"].lower() for m in nlu.intent_examples for e in m.get("entities", [])
             if e["entity"] == "ordinal"]
    assert len(spans) >= 150
    assert [s for s in spans if not ORDINAL_SPAN.match(s)] == []
    # every kind of reference is taught, and in the intents that act on shown products
    assert {"second", "2nd", "number 3", "#4", "last", "first two", "1 or 2", "top"} <= set(spans)
    intents = {m.get("intent") for m in nlu.intent_examples
               if any(e["entity"] == "ordinal" for e in m.get("entities", []))}
    assert {"product_details", "similar_products", "compare_products", "explain", "add_to_cart",
            "remove_from_cart", "like_product", "dislike_product"} <= intents


@pytest.mark.parametrize("entity", sorted(SYNONYM_VALUES))
def test_relative_price_and_drop_filter_map_to_exactly_their_values(nlu, entity):
    """relative_price: lower or higher. drop_filter: price, brand, category or stock by a synonym, or, with no
    synonym, an attribute lift whose words name the facet ("any colour", "size doesn't matter")."""
    synonyms = {k.lower(): v for k, v in nlu.entity_synonyms.items()}
    values = [synonyms.get(e["value"].lower(), e["value"]) for m in nlu.intent_examples
              for e in m.get("entities", []) if e["entity"] == entity]
    assert len(values) >= 20
    mapped = {v for v in values if v in SYNONYM_VALUES[entity]}
    assert mapped == SYNONYM_VALUES[entity]
    lifts = [v for v in values if v not in SYNONYM_VALUES[entity]]
    if entity == "relative_price":
        assert lifts == []
    else:
        assert [v for v in lifts if not FACET_WORDS & set(re.findall(r"[\w']+", v.lower()))] == []
        assert len(lifts) >= 10


def test_out_of_scope_names_no_product(nlu):
    """Asking for any kind of product is a product request, whatever the shop sells: out_of_scope is
    talk that is not shopping (weather, jokes, homework, services), so it names no product."""
    texts = [m.get("text").lower() for m in nlu.intent_examples if m.get("intent") == "out_of_scope"]
    assert len(texts) >= 100
    named = {t: store for t in texts for store, pattern in STORE_PATTERNS.items() if pattern.search(t)}
    assert named == {}


def test_product_requests_span_many_kinds_of_store_and_currencies(nlu):
    from recommender import currency_in

    requests = [m for m in nlu.intent_examples if m.get("intent") in PRODUCT_INTENTS]
    texts = [m.get("text").lower() for m in requests]
    per_store = {store: sum(bool(pattern.search(t)) for t in texts) for store, pattern in STORE_PATTERNS.items()}
    assert {store: n for store, n in per_store.items() if n < 15} == {}
    priced = [m.get("text") for m in requests
              if any(e["entity"] in ("price_min", "price_max") for e in m.get("entities", []))]
    assert {"USD", "EUR", "GBP", "INR", "AED"} <= {currency_in(t) for t in priced}


def test_categories_and_brands_hold_no_attribute_and_prices_no_currency_word(nlu):
    """Colours, sizes, audiences and materials are found by the ranker among the catalog's facet
    values: a span "[black jeans](category)" would teach DIET to swallow them. A price span is the
    number with its attached sign; "euros", "rupees" stay outside."""
    from recommender import NUMBER_WORDS

    wrong = []
    for m in nlu.intent_examples:
        for e in m.get("entities", []):
            words = set(re.findall(r"[\w']+", e["value"].lower()))
            if e["entity"] in ("category", "brand") and words & ATTRIBUTE_WORDS:
                wrong.append((e["entity"], e["value"], m.get("text")))
            if e["entity"] in ("price_min", "price_max") and not (
                    re.fullmatch(r"[$€£₹]?\d[\d,.]*", e["value"]) or words <= set(NUMBER_WORDS)):
                wrong.append((e["entity"], e["value"], m.get("text")))
    assert wrong == []


def test_annotated_prices_parse(nlu):
    from actions.prices import parse_price

    values = [e["value"] for m in nlu.intent_examples for e in m.get("entities", [])
              if e["entity"] in ("price_min", "price_max")]
    assert len(values) >= 60
    assert [v for v in values if parse_price(v) is None] == []


def test_annotated_brands_and_categories_are_in_the_catalog(real_catalog):
    """What the action can use: synonyms first (as EntitySynonymMapper does), then the vocabulary.
    Other shops' examples (stores.yml) name brands and types the shipped catalog has not: the test
    above checks how they are annotated."""
    nlu = read_nlu(skip=(OTHER_STORES,))
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


def test_lookups_leave_out_ambiguous_words_and_scattered_categories(small_lookups):
    everything = small_lookups["brand"] + small_lookups["category"]
    assert "glow" not in everything  # Glow Cosmetics or Glow Beauty?
    assert {"glow cosmetics", "glow beauty"} <= set(small_lookups["brand"])
    assert {"tiny brand", "two products"} <= set(small_lookups["brand"])  # < 3 products, but a small shop's
    assert "creams" not in everything and "cream" not in everything  # body, eyes and hair relaxers


def test_lookups_file_is_valid_rasa_nlu(small_lookups, tmp_path):
    path = tmp_path / "lookups.yml"
    path.write_text(small_lookups["text"])
    data = RasaYAMLReader().read(path)
    assert {t["name"] for t in data.lookup_tables} == {"brand", "category"}
    assert data.entity_synonyms["loreal"] == "L'Oreal Paris"


# ---- prices.yml ----------------------------------------------------------------------------------


def test_price_regexes_are_those_of_the_price_vocabulary():
    """data/nlu/prices.yml is written from recommender/ranking/prices.py (tests/test_price_vocabulary.py
    checks that the NLU, the actions and the ranker agree on a table of price phrases)."""
    actual = (NLU_DIR / "prices.yml").read_text(encoding="utf-8")
    assert actual == nlu_lookups.prices(), "data/nlu/prices.yml is stale: run `python -m bot.nlu_lookups`, then retrain"
    read = RasaYAMLReader().read(NLU_DIR / "prices.yml").regex_features  # as `rasa train` reads them
    assert sorted((r["name"], r["pattern"]) for r in read) == sorted(
        (name, pattern) for name, patterns in nlu_regexes().items() for pattern in patterns)


# ---- rasa data validate --------------------------------------------------------------------------


@pytest.mark.slow  # imports TensorFlow: 30-60 s on 2 busy cores
def test_rasa_data_validate_passes():
    """Only warnings allowed: responses that only the custom action sends are 'not used in any story', and
    intents the shop sends (EXTERNAL_INTENTS) have no NLU examples."""
    rasa = Path(sys.executable).with_name("rasa")
    result = subprocess.run(
        [str(rasa), "data", "validate", "--domain", "domain.yml", "--config", "config.yml",
         "--data", *RASA_DATA],
        cwd=ROOT, env={**os.environ, **RASA_ENV}, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    warnings = re.findall(r"UserWarning: (.*)", output)
    in_rules = {step["action"] for folder in ("data/rules", "data/stories") for path in (ROOT / folder).glob("*.yml")
                for block in yaml.safe_load(path.read_text()).get("rules" if "rules" in folder else "stories", [])
                for step in block["steps"] if "action" in step}
    sent_by_actions = set(DOMAIN["responses"]) - in_rules  # custom actions send these
    allowed = {f"The utterance '{name}' is not used in any story or rule." for name in sent_by_actions} | {
        f"The intent '{name}' is listed in the domain file, but is not found in the NLU training data."
        for name in EXTERNAL_INTENTS}
    assert [w for w in warnings if w not in allowed and "pkg_resources" not in w] == []
