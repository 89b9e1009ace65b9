"""Prices, references to listed products and "cheaper" in Chinese messages, as the usual entities.

A Rasa NLU step after the entity model: DIET tags whitespace tokens, and Chinese writes no spaces,
so on a message with Han letters this step adds what ``recommender.i18n.chinese`` and the price
vocabulary (``recommender.ranking.prices.zh_prices``) read: ``price_min`` / ``price_max`` ("100元以下"
-> price_max "100"; the currency stays in the text, where the search action reads it),
``ordinal`` ("第二个" -> "2", "前两个" -> "first 2"), ``relative_price`` ("便宜一点" -> "lower"),
``drop_filter`` "stock" ("包括缺货的": out of stock too) and ``order_number`` ("12号订单" -> "12").
An entity the model already tagged is kept as it is.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from recommender.i18n.chinese import order_numbers, ordinals, out_of_stock_too, relative_price
from recommender.i18n.detect import HAN
from recommender.ranking.prices import zh_prices


def _amount(value: float) -> str:
    return f"{value:g}"  # 100.0 -> "100", 12.5 -> "12.5"


def chinese_entities(text: str) -> list[dict[str, Any]]:
    """The entities (name, value, span) read from a Chinese text."""
    found = [{"entity": p.entity, "value": _amount(p.amount), "start": p.start, "end": p.end} for p in zh_prices(text)]
    found += [{"entity": "ordinal", "value": m.value, "start": m.start, "end": m.end} for m in ordinals(text)]
    found += [{"entity": "order_number", "value": m.value, "start": m.start, "end": m.end} for m in order_numbers(text)]
    if cheaper := relative_price(text):
        found.append({"entity": "relative_price", "value": cheaper.value, "start": cheaper.start, "end": cheaper.end})
    if lifted := out_of_stock_too(text):
        found.append({"entity": "drop_filter", "value": lifted.value, "start": lifted.start, "end": lifted.end})
    return found


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class ChineseEntityExtractor(GraphComponent):
    """Adds price_min, price_max, ordinal, relative_price, drop_filter and order_number entities read from Chinese
    text."""

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> ChineseEntityExtractor:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not HAN.search(text):
                continue
            tagged = {e.get("entity") for e in message.get(ENTITIES, [])}
            added = [{**e, "extractor": self.__class__.__name__} for e in chinese_entities(text)
                     if e["entity"] not in tagged]
            if added:
                message.set(ENTITIES, [*message.get(ENTITIES, []), *added], add_to_output=True)
        return messages
