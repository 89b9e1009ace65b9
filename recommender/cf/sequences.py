"""Shopper histories as integer indices, and the leave-one-out split.

``load_histories`` reads a histories file with the catalog's reader (recommender/catalog/histories.py;
formats in docs/interactions-format.md). Everything else takes plain ``(shopper_id, [item_id, ...])``
pairs, so a catalog's ``iter_histories()`` feeds ``from_histories`` directly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender.catalog.histories import INTERACTION_PRESETS, read_histories, sniff_format
from recommender.errors import BadRow, InteractionsFormatError

logger = logging.getLogger(__name__)

__all__ = ["Interactions", "Split", "load_histories", "from_histories", "leave_one_out"]


@dataclass(frozen=True)
class Interactions:
    """Histories as integer indices: ``sequences[s]`` lists the items of shopper ``shopper_ids[s]``."""

    shopper_ids: list[str]        # shopper index -> shopper id
    item_ids: list[str]           # item index -> product id
    sequences: list[np.ndarray]   # per shopper: item indices (int64), oldest first

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


def load_histories(path: str | Path) -> list[tuple[str, list[str]]]:
    """``(shopper_id, item ids in order)`` from a sequence file or, when the first line is a
    tab-separated header naming an item column, a TSV table with an order column.

    Raises:
        InteractionsFormatError: the file's first bad row, with its line number, or a missing column.
        UnicodeDecodeError: the file is not UTF-8.
    """
    path = Path(path)
    bad: list[BadRow] = []
    histories = read_histories(path, sniff_format(path), INTERACTION_PRESETS["default"], bad, order_required=True)
    pairs = [(shopper, [item for _, item in items]) for shopper, _, items in histories]
    if bad:
        raise InteractionsFormatError(f"{path}, {bad[0]}")  # rows are read in line order
    return pairs


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
