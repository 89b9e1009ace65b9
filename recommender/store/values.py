"""Checks on what callers hand the shop store (ids, list labels (sources), quantities, order statuses and notes),
and money as the store keeps it (whole cents)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from recommender.errors import InvalidStoreValue
from recommender.ids import MAX_ID_CHARS

MAX_QUANTITY = 999  # per cart line
ORDER_STATUSES = ("placed", "shipped", "delivered", "cancelled", "returned")  # the order_status CHECK's words
MAX_ORDER_ID = 2**63 - 1  # SQLite's largest integer
MAX_NOTE_CHARS = 500  # a status change's note (a tracking number, a reason)
_SOURCE = re.compile(r"[a-z_]{1,20}")
CENT = Decimal("0.01")


def cents(amount: Decimal) -> int:
    """An amount in whole cents, as the store keeps it: Decimal('8.99') -> 899."""
    return int(amount.quantize(CENT) * 100)


def from_cents(value: int) -> Decimal:
    """A stored amount back as money: 899 -> Decimal('8.99')."""
    return Decimal(value).scaleb(-2)


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


def can_be_order_id(order_id: Any) -> bool:
    """Whether ``order_id`` may name an order (1 to SQLite's largest integer); InvalidStoreValue unless
    it is a whole number."""
    if not isinstance(order_id, int) or isinstance(order_id, bool):
        raise InvalidStoreValue(f"Order id must be a whole number, got {order_id!r:.80}")
    return 0 < order_id <= MAX_ORDER_ID


def check_status(status: Any) -> None:
    """Raise InvalidStoreValue unless ``status`` is one of ORDER_STATUSES."""
    if status not in ORDER_STATUSES:
        raise InvalidStoreValue(f"Order status {status!r:.80} is not one of {', '.join(ORDER_STATUSES)}")


def clean_note(note: Any) -> str | None:
    """A status change's note, stripped (None when empty); InvalidStoreValue beyond MAX_NOTE_CHARS."""
    if note is None:
        return None
    if not isinstance(note, str):
        raise InvalidStoreValue(f"A note must be text, got {note!r:.80}")
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidStoreValue(f"A note must be at most {MAX_NOTE_CHARS} characters, got {len(note):,}")
    return note or None
