"""The language of each message, as a `language` entity the slot of that name keeps.

A Rasa NLU component, last in config.yml's pipeline: on a message asking for a language ("speak
English", "说中文": the `set_language` intent) the language it names, else the language the message is
written in (``recommender.i18n.detect``). A message that does not tell (short, mixed, unsure) gets no
entity, so the conversation keeps its language; the replies follow the slot (``bot.nlg``).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from recommender.i18n.detect import detect, named_language

LANGUAGE = "language"  # the entity, and the slot it fills
SET_LANGUAGE = "set_language"  # the intent of "speak English", "说中文"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDetector(GraphComponent):
    """Adds the entity `language` (a code: "en", "zh", ...) when the message tells its language."""

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LanguageDetector:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            asked = (message.get(INTENT) or {}).get("name") == SET_LANGUAGE
            code = named_language(text) if asked else detect(text)
            if code and not any(e.get("entity") == LANGUAGE for e in message.get(ENTITIES, [])):
                entity = {"entity": LANGUAGE, "value": code, "start": 0, "end": len(text),
                          "extractor": self.__class__.__name__}
                message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages
