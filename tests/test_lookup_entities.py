"""Lookup-table names matched in messages (bot/lookup_names.py) complete DIET's entities (bot/lookup_entities.py)."""

from __future__ import annotations

from pathlib import Path

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.lookup_entities import LookupEntityCompleter
from bot.lookup_names import names_pattern

BRANDS = ["mary kay", "herbal essences", "everyone", "l'oreal", "l'oreal paris"]


def completer(tmp_path: Path) -> LookupEntityCompleter:
    """Trained on a brand and a category lookup table, then loaded the way Rasa loads it."""
    config = {"tables": ["brand"]}
    storage, resource = LocalModelStorage(tmp_path), Resource("lookup_entities")
    context = ExecutionContext(GraphSchema({}), "lookup_entities")
    lookups = [{"name": "brand", "elements": BRANDS}, {"name": "category", "elements": ["shampoo"]}]
    LookupEntityCompleter.create(config, storage, resource, context).train(TrainingData(lookup_tables=lookups))
    return LookupEntityCompleter.load(config, storage, resource, context)


def entity(text: str, word: str, kind: str = "brand", confidence: float = 0.9) -> dict:
    start = text.index(word)
    return {"entity": kind, "start": start, "end": start + len(word), "value": word,
            "confidence_entity": confidence, "extractor": "DIETClassifier"}


def after(tmp_path: Path, text: str, entities: list[dict]) -> list[tuple[str, str, str]]:
    message = Message(data={TEXT: text, ENTITIES: entities})
    completer(tmp_path).process([message])
    return [(e["entity"], e["value"], text[e["start"]:e["end"]]) for e in message.get(ENTITIES)]


def test_names_match_as_whole_words_in_any_case_the_longest_first():
    pattern = names_pattern(["l'oreal", "l'oreal paris", "e.l.f.", "dove"])
    assert pattern.sub("Brand", "only L'OREAL Paris please") == "only Brand please"
    assert pattern.sub("Brand", "l'oreal or e.l.f. mascara?") == "Brand or Brand mascara?"
    assert pattern.sub("Brand", "doves and lovedove") == "doves and lovedove"


def test_pieces_of_one_name_become_one_entity_spanning_it(tmp_path: Path):
    text = "only Mary Kay under $20"
    out = after(tmp_path, text, [entity(text, "Mary", confidence=0.8), entity(text, "Kay", confidence=0.6),
                                 entity(text, "$20", "price_max")])
    assert out == [("brand", "Mary Kay", "Mary Kay"), ("price_max", "$20", "$20")]
    message = Message(data={TEXT: text, ENTITIES: [entity(text, "Mary"), entity(text, "Kay", confidence=0.6)]})
    completer(tmp_path).process([message])
    [whole] = message.get(ENTITIES)
    assert whole["confidence_entity"] == 0.6 and whole["processors"] == ["LookupEntityCompleter"]


def test_the_longest_name_wins_and_what_lies_inside_it_goes(tmp_path: Path):
    text = "Herbal Essences shampoo or L'Oreal Paris?"
    out = after(tmp_path, text, [entity(text, "Herbal"), entity(text, "Essences", "category"),
                                 entity(text, "shampoo", "category"), entity(text, "L'Oreal")])
    assert out == [("brand", "Herbal Essences", "Herbal Essences"), ("category", "shampoo", "shampoo"),
                   ("brand", "L'Oreal Paris", "L'Oreal Paris")]


def test_a_part_of_a_name_diet_took_for_something_else_is_the_name_too(tmp_path: Path):
    text = "only Mary Kay"                                        # "Kay" tagged as a category
    assert after(tmp_path, text, [entity(text, "Kay", "category")]) == [("brand", "Mary Kay", "Mary Kay")]
    text = "shampoo by herbal essences under 10"
    out = after(tmp_path, text, [entity(text, "shampoo", "category"), entity(text, "essences", "category"),
                                 entity(text, "10", "price_max")])
    assert out == [("category", "shampoo", "shampoo"), ("brand", "herbal essences", "herbal essences"),
                   ("price_max", "10", "10")]


def test_names_diet_did_not_tag_and_entities_outside_names_stay_as_they_are(tmp_path: Path):
    text = "hi everyone, any maybeline?"
    assert after(tmp_path, text, [entity(text, "maybeline")]) == [("brand", "maybeline", "maybeline")]
    text = "only Mary Kay's"  # an entity crossing a name's edge is DIET's call
    assert after(tmp_path, text, [entity(text, "Mary"), entity(text, "Kay's")]) == [
        ("brand", "Mary", "Mary"), ("brand", "Kay's", "Kay's")]
    text = "mary kay"  # already whole: untouched, not even marked as processed
    message = Message(data={TEXT: text, ENTITIES: [entity(text, "mary kay")]})
    completer(tmp_path).process([message])
    assert message.get(ENTITIES) == [entity(text, "mary kay")]


def test_an_untrained_completer_changes_nothing(tmp_path: Path):
    text = "only Mary Kay"
    config = {"tables": ["brand"]}
    context = ExecutionContext(GraphSchema({}), "lookup_entities")
    bare = LookupEntityCompleter.load(config, LocalModelStorage(tmp_path), Resource("none"), context)
    message = Message(data={TEXT: text, ENTITIES: [entity(text, "Mary")]})
    bare.process([message])
    assert message.get(ENTITIES) == [entity(text, "Mary")]

