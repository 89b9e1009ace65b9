"""Adjustments to Rasa 3.6, applied by `apply()` when the Rasa server starts our channels (`bot.channels`).

Our loggers log at Rasa's level: Rasa sets the level of its own `rasa` logger only, so without this
the guard's INFO lines (a refused message, an apology) never reached the server's log.

`RemoteAction._validate_action_result` checks every action server response with
`jsonschema.validate`, which checks the schema itself against its metaschema and builds a new
validator on every call: ~20 % of the Rasa server's time under load (py-spy, bench/rest_latency.py).
The same check with one validator built once gives the same result and the same error.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from jsonschema import ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@functools.cache
def _response_validator() -> Any:
    """The validator of an action server's response, checked and built once."""
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """`jsonschema.validate(result, schema)` as Rasa calls it, with the validator built once."""
    error: ValidationError | None = best_match(_response_validator().iter_errors(result))
    if error is not None:
        error.message += (". Failed to validate Action server response from API, make sure your response "
                          f"from the Action endpoint is valid. For more information about the format visit "
                          f"{DOCS_BASE_URL}/custom-actions")
        raise error
    return True


def apply() -> None:
    """Put the adjustments in place in this process (calling it again changes nothing)."""
    RemoteAction._validate_action_result = _validate_action_result
    logging.getLogger("bot").setLevel(logging.getLogger("rasa").getEffectiveLevel())
