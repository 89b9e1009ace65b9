"""Checks on what callers hand the shop store: ids, list labels (sources) and quantities."""

from __future__ import annotations

import re
from typing import Any

from recommender.errors import InvalidStoreValue
from recommender.ids import MAX_ID_CHARS

MAX_QUANTITY = 999  # per cart line
_SOURCE = re.compile(r"[a-z_]{1,20}")


def check_id(value: Any, what: str) -> None:
    """Raise InvalidStoreValue unless ``value`` is a non-empty id of at most MAX_ID_CHARS characters."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise InvalidStoreValue(f"{what} must be a non-empty string of at most {MAX_ID_CHARS} characters, "
                                f"got {value!r:.80}")


def check_source(source: Any) -> None:
    """Raise InvalidStoreValue unless ``source`` is a short label such as search or recommend."""
    if not isinstance(source, str) or not _SOURCE.fullmatch(source):
        raise InvalidStoreValue(f"Source {source!r:.80} is not a short label of 1-20 letters a-z or '_', "
                                "e.g. search, recommend, similar")


def check_quantity(quantity: Any) -> None:
    """Raise InvalidStoreValue unless ``quantity`` is a whole number from 1 to MAX_QUANTITY."""
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidStoreValue(f"Quantity {quantity!r:.80} must be a whole number from 1 to {MAX_QUANTITY}")
