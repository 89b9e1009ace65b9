"""A Rasa NLU component that completes DIET's entities from a lookup table's names.

DIET tags words, and on a brand it has not seen it often tags only some of them: "only Mary Kay"
gives the brands "Mary" and "Kay", "Herbal Essences shampoo" the brand "Herbal". For each name of
the lookup table found in the message (the longest that matches), if DIET tagged part of it and no
entity crosses its edges, the entities inside it become one entity of the table spanning the name: a
part of a brand DIET took for something else is the brand too ("only Mary Kay" gave the category "Kay",
"100% Pure mascara" the price "100").

A name DIET did not tag stays untagged: many brands are also everyday words or phrases ("Simple",
"Everyone", "Kinky Curly", "As I Am"), and whether "something simple for kinky curly hair" names a
brand is DIET's call, from the context. An entity not inside a name is left alone too ("maybeline",
misspelled, still reaches the synonym mapper).

In ``config.yml`` after ``DIETClassifier`` and before ``EntitySynonymMapper``, as
``bot.lookup_entities.LookupEntityCompleter`` with ``tables: [brand]``.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.lookup_names import keep_names, kept_names, names_pattern


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class LookupEntityCompleter(GraphComponent, EntityExtractorMixin):
    """Entities of the configured lookup tables become the whole names they lie in."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"tables": []}  # lookup table names, each also the name of its entity

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 names: dict[str, list[str]] | None = None) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._patterns = {table: names_pattern(values) for table, values in (names or {}).items()
                          if table in config["tables"] and values}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LookupEntityCompleter:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LookupEntityCompleter:
        return cls(config, model_storage, resource, kept_names(model_storage, resource))

    def train(self, training_data: TrainingData) -> Resource:
        """Keep the names of the configured lookup tables."""
        keep_names(training_data, self._config["tables"], self._model_storage, self._resource)
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            entities = message.get(ENTITIES) or []
            for table, pattern in self._patterns.items():
                for match in pattern.finditer(message.get(TEXT) or ""):
                    entities = self._grown(entities, table, match.start(), match.end(), match.group())
            message.set(ENTITIES, entities, add_to_output=True)
        return messages

    def _grown(self, entities: list[dict], table: str, start: int, end: int, name: str) -> list[dict]:
        """`entities` with those inside [start, end) made one entity of `table` spanning it, if DIET
        tagged part of it (as `table`, or as another entity: "Kay" of "Mary Kay" as a category, "100" of
        "100% Pure" as a price) and no entity crosses its edges nor is the whole name already."""
        inside = [e for e in entities if e["start"] < end and e["end"] > start]
        crossing = any(e["start"] < start or e["end"] > end for e in inside)
        if not inside or crossing or [(e["start"], e["end"]) for e in inside] == [(start, end)]:
            return entities
        pieces = [e for e in inside if e["entity"] == table] or inside
        whole = {**pieces[0], "entity": table, "start": start, "end": end, "value": name,
                 "confidence_entity": min(e.get("confidence_entity", 1.0) for e in pieces),
                 "processors": list(pieces[0].get("processors", []))}
        self.add_processor_name(whole)
        return sorted([e for e in entities if all(e is not i for i in inside)] + [whole], key=lambda e: e["start"])
