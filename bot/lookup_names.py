"""The names of an NLU lookup table, kept by a trained Rasa component and matched in a message.

Rasa's own lookup regex (``RegexFeaturizer``) tries the names in file order, so "l'oreal" wins over
"l'oreal paris"; here the longest name wins. Used by ``minilm_featurizer`` (stand-in words) and
``lookup_entities`` (whole names for DIET's partial entities).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable

from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.utils.pattern_utils import read_lookup_table_file
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

NAMES_FILE = "lookup_names.json"


def keep_names(training_data: TrainingData, tables: Iterable[str], model_storage: ModelStorage,
               resource: Resource) -> dict[str, list[str]]:
    """Store the names of the lookup `tables` of the training data in the component's resource."""
    wanted = set(tables)
    names: dict[str, set[str]] = {}
    for table in training_data.lookup_tables:
        if table["name"] in wanted:
            elements = table["elements"]
            if isinstance(elements, str):  # a file's path
                elements = read_lookup_table_file(elements)
            names.setdefault(table["name"], set()).update(elements)
    if wanted - set(names):
        logger.warning("No lookup table named %s in the training data", sorted(wanted - set(names)))
    kept = {table: sorted(values) for table, values in names.items()}
    with model_storage.write_to(resource) as folder:
        (folder / NAMES_FILE).write_text(json.dumps(kept), encoding="utf-8")
    return kept


def kept_names(model_storage: ModelStorage, resource: Resource) -> dict[str, list[str]]:
    """The names `keep_names` stored, or none if the component was not trained."""
    try:
        with model_storage.read_from(resource) as folder:
            return json.loads((folder / NAMES_FILE).read_text(encoding="utf-8"))
    except (ValueError, FileNotFoundError):
        logger.debug("No lookup names stored in resource %s", resource.name)
        return {}


def names_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """Any of the names as whole words, in any case, the longest first ("l'oreal paris" before "l'oreal")."""
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
