"""The collaborative recommender's reasons, drawn from real contributions:

- "because you liked <p>": ``p`` is the history item whose removal lowers the recommendation's score
  the most (occlusion, sequence model only), stated only when that drop is positive;
- "often bought after <p> (N shoppers)": N >= 2 training shoppers bought the product right after ``p``,
  and ``p`` is in this shopper's history or session;
- "often bought together with <p> (N shoppers)": N >= 2 training shoppers bought one of the two right
  after the other (similar products);
- "popular in <category> (N shoppers)": the product is in the top 10 % of its category by shoppers;
- "popular: N shoppers bought it": for a shopper with no history, who gets the most bought products.

Every product a reason names comes from the shopper's history or session (or is the product asked about).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch

from recommender.cf.model import SASRec
from recommender.cf.train import score_histories
from recommender.i18n.text import Text
from recommender.ranking.reasons import bought_it

__all__ = ["PurchaseStats", "Reasons", "occlusion_drops", "because_liked",
           "MIN_CO_BOUGHT", "POPULAR_SHARE", "MIN_POPULAR"]

MIN_CO_BOUGHT = 2          # "often bought after" needs at least this many shoppers
POPULAR_SHARE = 0.10       # "popular in <category>": top share of the category by shoppers
MIN_POPULAR = 5            # ... and at least this many shoppers

Reasons = tuple[tuple[Text, ...], tuple[str, ...], tuple[Text, ...]]   # reasons, products named, personal reasons


def occlusion_drops(model: torch.nn.Module | None, history: np.ndarray, items: np.ndarray) -> np.ndarray | None:
    """(len(history), len(items)): score of each item minus its score with one history item removed.

    None unless the model is the sequence model and both arrays are non-empty.
    """
    if not isinstance(model, SASRec) or not len(history) or not len(items):
        return None
    history = history[-model.cfg.max_len:]
    variants = [history] + [np.delete(history, j) for j in range(len(history))]
    scores = score_histories(model, variants)[:, items]
    return scores[0][None, :] - scores[1:]


def because_liked(model: torch.nn.Module | None, history: np.ndarray, items: np.ndarray) -> dict[int, int]:
    """item -> the history item whose removal lowers its score most, when that drop is positive."""
    drops = occlusion_drops(model, history, items)
    if drops is None:
        return {}
    tail = history[-model.cfg.max_len:]
    best = drops.argmax(axis=0)
    return {int(i): int(tail[best[k]]) for k, i in enumerate(items) if drops[best[k], k] > 0}


class PurchaseStats:
    """Who bought what right after what, and how many shoppers bought each product, in the training histories."""

    def __init__(self, item_ids: Sequence[str], categories: Sequence[str | None],
                 histories: Sequence[np.ndarray]) -> None:
        n = len(item_ids)
        self.item_ids, self.categories = item_ids, categories
        pairs = [np.unique(np.stack([s[:-1], s[1:]], 1), axis=0) for s in histories if len(s) >= 2]
        pairs = np.vstack(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
        self.after = sp.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        self.popularity = np.zeros(n, dtype=np.int64)
        for s in histories:
            self.popularity[np.unique(s)] += 1
        self.popular_in_category = np.zeros(n, dtype=bool)
        by_cat: dict[str, list[int]] = {}
        for i, c in enumerate(categories):
            if c:
                by_cat.setdefault(c, []).append(i)
        for items in by_cat.values():
            counts = self.popularity[items]
            cut = np.quantile(counts, 1 - POPULAR_SHARE)
            self.popular_in_category[np.asarray(items)[(counts >= cut) & (counts >= MIN_POPULAR)]] = True

    def bought_together(self, a: int, b: int) -> int:
        """Training shoppers who bought one of the two items right after the other."""
        return int(self.after[a, b] + self.after[b, a])

    def together_reason(self, a: int, b: int, describe: Callable[[str], str]) -> Text | None:
        """"often bought together with <a> (N shoppers)" when N reaches MIN_CO_BOUGHT, else None."""
        together = self.bought_together(a, b)
        if together < MIN_CO_BOUGHT:
            return None
        return Text("often bought together with {product} ({count} shoppers)", product=describe(self.item_ids[a]),
                    count=together)

    def reasons(self, item: int, history: np.ndarray, liked: int | None, describe: Callable[[str], str]) -> Reasons:
        """The reasons to recommend ``item`` after ``history``, the product ids they name, and the personal ones.

        ``liked``: the history item ``because_liked`` found for it, if any.
        """
        reasons, because = [], []
        if liked is not None:
            reasons.append(Text("because you liked {product}", product=describe(self.item_ids[liked])))
            because.append(self.item_ids[liked])
        if len(history):
            after = np.asarray(self.after[np.unique(history), item].todense()).ravel()
            if after.max(initial=0) >= MIN_CO_BOUGHT:
                src = np.unique(history)[int(after.argmax())]
                reasons.append(Text("often bought after {product} ({count} shoppers)",
                                    product=describe(self.item_ids[src]), count=int(after.max())))
                because.append(self.item_ids[src])
        personal = tuple(reasons)
        if self.popular_in_category[item]:
            reasons.append(Text("popular in {category} ({count} shoppers)", category=self.categories[item],
                                count=int(self.popularity[item])))
        elif not len(history):                                        # ranked by popularity alone
            reasons.append(bought_it(int(self.popularity[item]), popular=True))
        return tuple(reasons), tuple(dict.fromkeys(because)), personal
