"""Shopper histories: reading them, mapping ids to indices, and the leave-one-out split.

Two file formats are accepted (``load_histories`` tells them apart by the first line):

- **sequence file** (the shipped ``user_sequence.txt``): one line per shopper,
  ``<shopper id> <item id> <item id> ...`` separated by spaces or tabs, items oldest first;
- **interactions TSV**: a header line, then one interaction per line, tab-separated, with columns
  ``shopper_id``, ``item_id`` and either ``order`` (any number: position, unix time) or
  ``timestamp`` (a number or an ISO 8601 date). RecBole headers such as ``user_id:token`` are
  accepted too (``user_id`` means shopper id; the ``:type`` suffix is ignored). Each shopper's items
  are sorted by that column; ties keep file order. Extra columns are ignored.

Everything else takes plain ``(shopper_id, [item_id, ...])`` pairs, so a catalog's
``iter_histories()`` feeds ``from_histories`` directly.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

import numpy as np

from recommender.errors import InteractionsFormatError

logger = logging.getLogger(__name__)

__all__ = ["Interactions", "Split", "read_sequence_file", "read_interactions_tsv",
           "load_histories", "from_histories", "leave_one_out"]

_SHOPPER_COLUMNS = ("shopper_id", "user_id", "shopper", "user")
_ITEM_COLUMNS = ("item_id", "product_id", "item", "product")
_ORDER_COLUMNS = ("order", "position", "timestamp", "time")


@dataclass(frozen=True)
class Interactions:
    """Histories as integer indices: ``sequences[s]`` lists the items of shopper ``shopper_ids[s]``."""

    shopper_ids: list[str]        # shopper index -> shopper id
    item_ids: list[str]           # item index -> product id
    sequences: list[np.ndarray]   # per shopper: item indices (int64), oldest first

    @cached_property
    def item_index(self) -> dict[str, int]:
        return {pid: i for i, pid in enumerate(self.item_ids)}

    @cached_property
    def shopper_index(self) -> dict[str, int]:
        return {sid: i for i, sid in enumerate(self.shopper_ids)}

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_shoppers(self) -> int:
        return len(self.shopper_ids)

    @property
    def n_interactions(self) -> int:
        return int(sum(len(s) for s in self.sequences))

    def item_counts(self) -> np.ndarray:
        """How many shoppers interacted with each item (repeats within one shopper count once)."""
        counts = np.zeros(self.n_items, dtype=np.int64)
        for seq in self.sequences:
            counts[np.unique(seq)] += 1
        return counts


@dataclass(frozen=True)
class Split:
    """Leave-one-out split: each shopper's last item is the test target, the one before it validation.

    ``train[s]`` holds the remaining (older) items. A shopper with two items has no validation target
    (``valid[s] == -1``); a shopper with one item is training data only (``test[s] == -1`` too).
    """

    interactions: Interactions
    train: list[np.ndarray]
    valid: np.ndarray             # (n_shoppers,) item index or -1
    test: np.ndarray              # (n_shoppers,) item index or -1

    def inputs(self, stage: str) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        """Shoppers evaluated at ``stage`` ("valid" or "test"), their input histories and their targets.

        The validation input is the training history; the test input adds the validation item.
        """
        if stage not in ("valid", "test"):
            raise ValueError(f"Unknown stage {stage!r}; expected 'valid' or 'test'")
        targets = self.valid if stage == "valid" else self.test
        shoppers = np.flatnonzero(targets >= 0)
        if stage == "valid":
            histories = [self.train[s] for s in shoppers]
        else:
            histories = [np.append(self.train[s], self.valid[s]) if self.valid[s] >= 0 else self.train[s]
                         for s in shoppers]
        return shoppers, histories, targets[shoppers]


def read_sequence_file(path: str | Path) -> Iterator[tuple[str, list[str]]]:
    """Yield ``(shopper_id, items)`` from a one-line-per-shopper file; blank lines are skipped.
    A shopper on two lines raises InteractionsFormatError naming both lines."""
    first_line: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            parts = line.split()
            if not parts:
                continue
            if parts[0] in first_line:
                raise InteractionsFormatError(f"{path}, line {number}: shopper {parts[0]!r} is already on line "
                                              f"{first_line[parts[0]]}; give each shopper one line")
            first_line[parts[0]] = number
            yield parts[0], parts[1:]


def _order_key(value: str, line: int, path: str | Path) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.strip()).timestamp()
    except ValueError:
        raise InteractionsFormatError(
            f"{path}, line {line}: order/timestamp {value!r} is neither a number nor an ISO 8601 date") from None


def _find_column(header: list[str], names: Sequence[str], what: str, path: str | Path) -> int:
    plain = [h.split(":")[0].strip().lower() for h in header]
    for name in names:
        if name in plain:
            return plain.index(name)
    raise InteractionsFormatError(
        f"{path}: no {what} column in header {header!r}; expected one of {list(names)} "
        "(tab-separated shopper_id, item_id, order)")


def read_interactions_tsv(path: str | Path) -> list[tuple[str, list[str]]]:
    """Read a shopper/item/order TSV with a header line; histories in order of first appearance."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t")
        header = next(rows, None)
        if not header:
            raise InteractionsFormatError(f"{path} is empty; expected a header line 'shopper_id<TAB>item_id<TAB>order'")
        cols = [_find_column(header, names, what, path) for names, what in
                ((_SHOPPER_COLUMNS, "shopper"), (_ITEM_COLUMNS, "item"), (_ORDER_COLUMNS, "order/timestamp"))]
        events: dict[str, list[tuple[float, int, str]]] = {}
        for line, row in enumerate(rows, start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(cols):
                raise InteractionsFormatError(f"{path}, line {line}: expected {len(header)} tab-separated "
                                              f"columns, got {len(row)}: {row!r}")
            shopper, item, order = (row[c].strip() for c in cols)
            events.setdefault(shopper, []).append((_order_key(order, line, path), line, item))
    return [(shopper, [item for _, _, item in sorted(evs)]) for shopper, evs in events.items()]


def load_histories(path: str | Path) -> list[tuple[str, list[str]]]:
    """Read either documented format (see the module docstring); a header naming an item column means TSV."""
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    header = [h.split(":")[0].strip().lower() for h in first.rstrip("\n").split("\t")]
    if "\t" in first and any(name in header for name in _ITEM_COLUMNS):
        return read_interactions_tsv(path)
    return list(read_sequence_file(path))


def from_histories(histories: Iterable[tuple[str, Sequence[str]]],
                   item_ids: Sequence[str] | None = None) -> Interactions:
    """Map ids to indices. Items are indexed in ``item_ids`` order when given, else sorted by id.

    Shoppers with an empty history are dropped. Raises InteractionsFormatError when ``item_ids`` is
    given and a history names an item outside it, or when a shopper id repeats.
    """
    pairs = [(str(s), [str(i) for i in items]) for s, items in histories]
    pairs = [(s, items) for s, items in pairs if items]
    seen_shoppers: set[str] = set()
    for s, _ in pairs:
        if s in seen_shoppers:
            raise InteractionsFormatError(f"Shopper {s!r} appears twice; give each shopper one history")
        seen_shoppers.add(s)
    if item_ids is None:
        item_ids = sorted({i for _, items in pairs for i in items})
    index = {pid: n for n, pid in enumerate(item_ids)}
    sequences = []
    for s, items in pairs:
        try:
            sequences.append(np.fromiter((index[i] for i in items), dtype=np.int64, count=len(items)))
        except KeyError as e:
            raise InteractionsFormatError(f"Shopper {s!r} has item {e.args[0]!r}, which is not in the "
                                          f"catalog of {len(item_ids)} items") from None
    return Interactions([s for s, _ in pairs], list(item_ids), sequences)


def leave_one_out(interactions: Interactions) -> Split:
    """Hold out each shopper's last item for test and the one before it for validation."""
    n = interactions.n_shoppers
    valid = np.full(n, -1, dtype=np.int64)
    test = np.full(n, -1, dtype=np.int64)
    train = []
    for s, seq in enumerate(interactions.sequences):
        if len(seq) >= 3:
            train.append(seq[:-2])
            valid[s], test[s] = seq[-2], seq[-1]
        elif len(seq) == 2:
            train.append(seq[:1])
            test[s] = seq[-1]
        else:
            train.append(seq)
    return Split(interactions, train, valid, test)
