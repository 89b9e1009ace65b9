"""The Rasa server process: what of ours it loads, and our patches to Rasa (bot/rasa_patches.py),
applied as it starts our channels; the speed-up of its action-response check decides exactly as Rasa's own,
and the model loaded the fast way predicts exactly as Rasa's own load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot import rasa_patches

# What a `rasa run` of our model and the *.yml files imports of ours, then does as it starts: its
# log level, then create_http_input_channels and register, as rasa.core.run.serve_application does.
RASA_SERVER = """
import importlib, json, logging, sys, tempfile
from pathlib import Path

import yaml
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import register
from rasa.core.run import create_http_input_channels
from sanic import Sanic

from bot import rasa_patches
from bot.credentials import write_active
from recommender.config import REPO_ROOT

read = lambda name: yaml.safe_load((REPO_ROOT / name).read_text())
ours = [c["name"] for c in read("config.yml")["pipeline"] if "." in c["name"]]
ours += [read("endpoints.yml")["tracker_store"]["type"], "bot.lock_store.AtomicRedisLockStore", *read("credentials.yml")]
for name in ours:
    module, _, cls = name.rpartition(".")
    getattr(importlib.import_module(module), cls)
facts = {"ours": ours, "loaded": [m for m in ("actions", "sqlite_utils", "recommender.ranking.ranker") if m in sys.modules],
         "patched_at_import": RemoteAction._validate_action_result is rasa_patches._validate_action_result}
logging.getLogger("rasa").setLevel(logging.INFO)
channels = create_http_input_channels(None, str(write_active(Path(tempfile.mkdtemp()))))
register(channels, Sanic("rasa_server"), route="/webhooks/")
facts["patched_at_start"] = RemoteAction._validate_action_result is rasa_patches._validate_action_result
facts["bot_log_level"] = logging.getLevelName(logging.getLogger("bot").level)
print(json.dumps(facts))
"""


@pytest.fixture(scope="module")
def rasa_server() -> dict:
    """What the Rasa server's start, in a fresh process, loaded and patched."""
    out = subprocess.run([sys.executable, "-c", RASA_SERVER], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.splitlines()[-1])


def test_the_rasa_server_loads_neither_the_actions_nor_the_ranker_nor_sqlite_utils(rasa_server: dict) -> None:
    assert {"bot.channels.Rest", "bot.tracker_store.ForgettingSQLTrackerStore",
            "bot.minilm_featurizer.MiniLMFeaturizer"} <= set(rasa_server["ours"])
    assert rasa_server["loaded"] == []


def test_the_patches_are_applied_when_the_server_starts_our_channels_not_on_import(rasa_server: dict) -> None:
    assert not rasa_server["patched_at_import"]
    assert rasa_server["patched_at_start"] and rasa_server["bot_log_level"] == "INFO"


@pytest.fixture(scope="module", autouse=True)
def _applied() -> None:
    rasa_patches.apply()


def test_applying_twice_changes_nothing() -> None:
    rasa_patches.apply()
    assert RemoteAction._validate_action_result is rasa_patches._validate_action_result


VALID = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "brand", "value": "OPI"}],
     "responses": [{"response": "utter_search_results", "products": "1. ...", "custom": {"listing": "search"}}]},
    {},
]
INVALID = [
    {"events": [{"name": "brand"}]},                   # an event without its type
    {"events": "slot"},                                # not a list
    {"events": [{"event": "slot", "timestamp": "now"}]},
]


def rasa_own_error(result: dict) -> str | None:
    """What `jsonschema.validate`, as Rasa 3.6 calls it, says of `result` (None: valid)."""
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    except jsonschema.ValidationError as error:
        return error.message
    return None


@pytest.mark.parametrize("result", VALID)
def test_a_valid_response_passes(result: dict) -> None:
    assert rasa_own_error(result) is None
    assert RemoteAction._validate_action_result(None, result) is True


@pytest.mark.parametrize("result", INVALID)
def test_an_invalid_response_fails_with_rasas_own_error(result: dict) -> None:
    expected = rasa_own_error(result)
    assert expected is not None
    with pytest.raises(jsonschema.ValidationError) as error:
        RemoteAction._validate_action_result(None, result)
    assert error.value.message.startswith(expected + ". Failed to validate Action server response")


# Loads the trained model with Rasa's own `RasaModel.load` (argv[2] == "rasa") or ours and prints what its
# DIET and TED models predict: every entity with its confidence, and TED's probability of every action.
PREDICTIONS = """
import asyncio, json, sys
from rasa.core.agent import Agent
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from bot import rasa_patches

if sys.argv[2] == "ours":
    rasa_patches.apply()
agent = Agent.load(sys.argv[1])
texts = ["show me mascara under $20", "only L'Oreal Paris shampoo", "the second one",
         "something cheaper from Maybelline"]
parsed = [asyncio.run(agent.parse_message(t)) for t in texts]
nodes = agent.processor.graph_runner._instantiated_nodes.values()
ted = next(n._component for n in nodes if isinstance(n._component, TEDPolicy))
events = [ActionExecuted("action_listen"), UserUttered("hi", {"name": "greet", "confidence": 1.0}),
          ActionExecuted("action_greet"), ActionExecuted("action_listen"),
          UserUttered(parsed[0]["text"], parsed[0]["intent"], parsed[0]["entities"])]
tracker = DialogueStateTracker.from_events("s", events, slots=agent.domain.slots)
probabilities = ted.predict_action_probabilities(tracker, agent.domain).probabilities
print(json.dumps({"trained_ted": ted.model is not None, "next": agent.domain.action_names_or_texts[
                      max(range(len(probabilities)), key=probabilities.__getitem__)],
                  "entities": [[(e["entity"], e["value"], e.get("confidence_entity")) for e in p["entities"]]
                               for p in parsed],
                  "ted": probabilities}))
"""


def predictions(model: Path, load: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PREDICTIONS, str(model), load], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.slow
def test_the_model_loaded_the_fast_way_predicts_exactly_as_with_rasas_own_load(trained_model: Path) -> None:
    ours, rasas = predictions(trained_model, "ours"), predictions(trained_model, "rasa")
    assert ours["trained_ted"] and rasas["trained_ted"]
    assert [[e[:2] for e in p] for p in ours["entities"]] == [[e[:2] for e in p] for p in rasas["entities"]]
    assert ["brand", "L'Oreal Paris"] in [e[:2] for e in ours["entities"][1]]
    confidences = [e[2] or 0 for p in ours["entities"] for e in p], [e[2] or 0 for p in rasas["entities"] for e in p]
    assert confidences[0] == pytest.approx(confidences[1], abs=1e-4)
    assert ours["ted"] == pytest.approx(rasas["ted"], abs=1e-5)
    assert ours["next"] == rasas["next"]
