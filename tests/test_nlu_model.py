"""The trained NLU model on what shoppers type. About brands, for the catalog's 100 biggest brands:
the intent does not hang on which brand is named (the stand-ins of bot/minilm_featurizer.py), and a
brand DIET tags only partly becomes the whole name the shopper typed (bot/lookup_entities.py). About
what the shop sells: asking for any kind of product is a product request, whatever the catalog holds
(bench/nlu_intents.py measures it on held-out messages of ten kinds of store)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from rasa.core.agent import Agent

from actions.vocabulary import Vocabulary
from bot import rasa_patches
from recommender import config
from recommender.catalog.products import Catalog

pytestmark = pytest.mark.slow

MULTI_WORD = {"L'Oreal Paris", "China Glaze", "John Frieda", "Burt's Bees", "Mary Kay", "Herbal Essences"}
MESSAGES = {"refine_search": "only {}", "search_products": "{} mascara under $20"}  # intent -> template
PRODUCT_INTENTS = {"search_products", "refine_search", "recommend", "similar_products"}


@pytest.fixture(scope="module")
def brands(catalog_db: sqlite3.Connection) -> list[str]:
    """The 100 brands with most products in the shipped catalog."""
    found = [r[0] for r in catalog_db.execute(
        "SELECT brand FROM products WHERE brand != '' GROUP BY brand ORDER BY count(*) DESC LIMIT 100")]
    assert MULTI_WORD <= set(found)
    return found


@pytest.fixture(scope="module")
def agent(trained_model: Path) -> Agent:
    rasa_patches.apply()  # as the Rasa server loads it
    return Agent.load(str(trained_model))


def intent_of(agent: Agent, text: str) -> str:
    """The intent the model gives a message, after the fallback (nlu_fallback below its thresholds)."""
    return asyncio.run(agent.parse_message(text))["intent"]["name"]


@pytest.fixture(scope="module")
def parsed(agent: Agent, brands: list[str]) -> dict[str, dict[str, dict]]:
    """intent -> brand -> the model's parse of that intent's message naming that brand."""

    async def parse(template: str) -> dict[str, dict]:
        return {brand: await agent.parse_message(template.format(brand)) for brand in brands}

    return {intent: asyncio.run(parse(template)) for intent, template in MESSAGES.items()}


@pytest.mark.parametrize("intent", MESSAGES)
def test_the_intent_is_the_same_whichever_brand_is_named(parsed: dict[str, dict[str, dict]], intent: str):
    """Above the fallback thresholds of config.yml (0.4, margin 0.1)."""
    missed = []
    for brand, parse in parsed[intent].items():
        first, second = parse["intent_ranking"][:2]
        if first["name"] != intent or first["confidence"] < 0.4 or first["confidence"] - second["confidence"] < 0.1:
            missed.append(brand)
    assert len(missed) <= 5, missed
    assert not MULTI_WORD & set(missed), missed


@pytest.mark.parametrize("intent", MESSAGES)
def test_the_brand_entity_names_the_catalogs_brand(parsed: dict[str, dict[str, dict]], intent: str):
    """The brands the action would filter by: one, the one named."""
    with Catalog.open(config.catalog_path()) as catalog:
        vocabulary = Vocabulary.from_catalog(catalog)
    wrong = {}
    for brand, parse in parsed[intent].items():
        found = [vocabulary.brand(e["value"]) for e in parse["entities"] if e["entity"] == "brand"]
        if found != [brand]:
            wrong[brand] = found
    # Measured: 36 of 100 for "only <brand>", 28 for the search (46 and 41 without the completer of
    # partial brands). Most are brands DIET does not tag at all ("Eucerin", "Fekkai") or left out of
    # the lookup ("Clear", "Generic"); the multi-word brands it tags partly must all be whole.
    assert len(wrong) <= 40, wrong
    assert not MULTI_WORD & set(wrong), wrong


@pytest.mark.parametrize("text", ["show me running shoes", "a 55 inch tv under 400 euros", "black jeans for women"])
def test_asking_for_any_kind_of_product_is_a_product_request(agent: Agent, text: str):
    """Whatever the shipped catalog sells: whether the shop carries it is the catalog's answer, at search time."""
    assert intent_of(agent, text) in PRODUCT_INTENTS


def test_the_weather_is_not_a_product_request(agent: Agent):
    assert intent_of(agent, "what's the weather") not in PRODUCT_INTENTS
