"""Adjustments to Rasa 3.6, applied by `apply()` when the Rasa server starts our channels (`bot.channels`).

Our loggers log at Rasa's level: Rasa sets the level of its own `rasa` logger only, so without this
the guard's INFO lines (a refused message, an apology) never reached the server's log.

`RemoteAction._validate_action_result` checks every action server response with
`jsonschema.validate`, which checks the schema itself against its metaschema and builds a new
validator on every call: ~20 % of the Rasa server's time under load (py-spy, bench/rest_latency.py).
The same check with one validator built once gives the same result and the same error.

`RasaModel.load` (DIET's and TED's models) builds the model's weights by `fit` on one example before it
reads the trained ones: Keras then traces a whole training graph, ~30 s of the ~40 s Rasa took to load
our model on 2 free cores. One eager forward pass with the same example builds the same weights in
~1 s; the trained values are read into them (every one checked, or the load fails) and the optimizer's,
which prediction never reads, are left in the file. Fine-tuning keeps Rasa's own load.
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
from rasa.utils.tensorflow.data_generator import RasaBatchDataGenerator
from rasa.utils.tensorflow.model_data import RasaModelData
from rasa.utils.tensorflow.models import RasaModel

_RASA_LOAD = RasaModel.load.__func__


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


def _load(cls: type[RasaModel], model_file_name: str, model_data_example: RasaModelData,
          predict_data_example: RasaModelData | None = None, finetune_mode: bool = False,
          *args: Any, **kwargs: Any) -> RasaModel:
    """`RasaModel.load` for prediction: the weights built by one eager forward pass, not a traced `fit`."""
    if finetune_mode:
        return _RASA_LOAD(cls, model_file_name, model_data_example, predict_data_example, finetune_mode,
                          *args, **kwargs)
    model = cls(*args, **kwargs)
    batch, _ = RasaBatchDataGenerator(model_data_example, batch_size=1)[0]
    model._training = True  # the loss's layers too, as `train_step` builds them
    model.batch_loss(batch)
    model._training = None
    model.load_weights(model_file_name).assert_existing_objects_matched().expect_partial()
    if predict_data_example:
        model.run_inference(predict_data_example)  # traces the prediction graph now, not at the first message
    return model


def apply() -> None:
    """Put the adjustments in place in this process (calling it again changes nothing)."""
    RemoteAction._validate_action_result = _validate_action_result
    RasaModel.load = classmethod(_load)
    logging.getLogger("bot").setLevel(logging.getLogger("rasa").getEffectiveLevel())
