"""Our speed-up of Rasa's action-response check (bot/rasa_patches.py) decides exactly as Rasa's own."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

import bot.channels  # noqa: F401 (what the Rasa server imports; it applies the patch)
from bot import rasa_patches

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


def test_rasa_uses_the_patched_check() -> None:
    assert RemoteAction._validate_action_result is rasa_patches._validate_action_result


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
