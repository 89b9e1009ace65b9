"""The collaborative recommender contract (in the spirit of implicit): fit, recommend, similar_items,
explain, save, load. Results are product ids with scores and reasons drawn from real contributions
(recommender/cf/explain.py lists them). Every product a reason names is listed in
``Recommendation.because`` and comes from the shopper's history or session.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from recommender.cf.explain import PurchaseStats, because_liked, occlusion_drops
from recommender.cf.model import CFConfig, MatrixFactorization, SASRec, build_model
from recommender.cf.sequences import Interactions, Split, from_histories
from recommender.cf.train import TrainConfig, TrainLog, fit_model, mf_fold_in, score_histories
from recommender.errors import CatalogMismatch, ModelNotFitted
from recommender.files import replaced_whole
from recommender.store.forgotten import ForgottenShoppers

logger = logging.getLogger(__name__)

__all__ = ["CFRecommender", "Recommendation"]

CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class Recommendation:
    product_id: str
    score: float
    reasons: tuple[str, ...] = ()
    because: tuple[str, ...] = ()   # product ids named in the reasons (all from the history or session)
    history_reasons: tuple[str, ...] = ()  # the reasons that name such a product ("because you liked ...")


def catalog_fingerprint(item_ids: Sequence[str]) -> str:
    """sha256 of the item ids, used when the caller gives no catalog fingerprint."""
    return hashlib.sha256("\n".join(item_ids).encode("utf-8")).hexdigest()


def _align_text(text, item_ids: Sequence[str]) -> torch.Tensor:
    """(n_items, dim) rows of ``text.matrix`` in ``item_ids`` order; missing products get zeros."""
    index = {pid: i for i, pid in enumerate(text.ids)}
    out = np.zeros((len(item_ids), text.matrix.shape[1]), dtype=np.float32)
    rows = [(n, index[pid]) for n, pid in enumerate(item_ids) if pid in index]
    if rows:
        dst, src = map(list, zip(*rows))
        out[dst] = text.matrix[src]
    if len(rows) < len(item_ids):
        logger.warning("%d of %d products have no text embedding; they rely on their id vector alone",
                       len(item_ids) - len(rows), len(item_ids))
    return torch.from_numpy(out)


class CFRecommender:
    """Collaborative recommender over product ids; ``describe`` turns an id into the name used in reasons."""

    def __init__(self, config: CFConfig | None = None, train_config: TrainConfig | None = None,
                 describe: Callable[[str], str] | None = None):
        self.config = config or CFConfig()
        self.train_config = train_config or TrainConfig()
        self.describe = describe or (lambda pid: pid)
        self.model: SASRec | MatrixFactorization | None = None
        self.item_ids: list[str] = []
        self.shopper_ids: list[str] = []
        self.histories: list[np.ndarray] = []   # per shopper row: the items the model knows, oldest first
        self.categories: list[str | None] = []
        self.fingerprint = ""
        self.log = TrainLog()
        self.path: Path | None = None  # the checkpoint this model was loaded from or last saved to
        self.checkpoint_stale = False  # that checkpoint still holds histories dropped since (forget_shoppers)

    # ---- fitting ------------------------------------------------------------------------------

    def fit(self, data: Split | Interactions | Iterable[tuple[str, Sequence[str]]], *,
            item_ids: Sequence[str] | None = None, text=None, categories: Mapping[str, str] | None = None,
            fingerprint: str | None = None) -> CFRecommender:
        """Train on histories. A ``Split`` trains on its training part and early-stops on validation.

        Args:
            item_ids: the catalog's product ids (default: ``text.ids`` if text is given, else the bought items).
            text: product text embeddings (``.ids``, ``.matrix``), e.g. ``ProductEmbeddings``; None = ids only.
            categories: product id -> category, for "popular in <category>" reasons.
            fingerprint: the catalog fingerprint stored in the checkpoint and checked by ``load``.
        """
        if isinstance(data, Split):
            inter, train = data.interactions, data.train
            vs, vh, vt = data.inputs("valid")
            valid = (vh, vt, vs) if len(vs) else None
            known = data.inputs("test")
            histories = list(train)
            for s, h in zip(known[0], known[1]):
                histories[s] = h
        else:
            if not isinstance(data, Interactions):
                data = from_histories(data, item_ids or (text.ids if text is not None else None))
            inter, train, valid, histories = data, data.sequences, None, list(data.sequences)
        self.item_ids, self.shopper_ids, self.histories = list(inter.item_ids), list(inter.shopper_ids), histories
        self.config.n_items, self.config.n_users = inter.n_items, inter.n_shoppers
        self.config.text_dim = 0 if text is None else int(text.matrix.shape[1])
        features = None if text is None else _align_text(text, self.item_ids)
        self.categories = [(categories or {}).get(pid) for pid in self.item_ids]
        self.fingerprint = fingerprint or catalog_fingerprint(self.item_ids)
        self.model, self.log = fit_model(self.config, train, train_config=self.train_config, valid=valid,
                                         text=features)
        self._build_stats(self.histories)
        return self

    def update_histories(self, histories: Iterable[tuple[str, Sequence[str]]]) -> int:
        """Replace the known histories of these shoppers (adding new shoppers) without retraining.

        E.g. the catalog's full histories after fitting on a split that held the last items out.
        Products the model does not know are skipped. Returns the number of shoppers given.
        """
        count = 0
        for shopper, items in histories:
            seq = np.array([self._index[p] for p in items if p in self._index], dtype=np.int64)
            row = self._shopper_index.get(shopper)
            if row is None:
                self._shopper_index[shopper] = len(self.shopper_ids)
                self.shopper_ids.append(shopper)
                self.histories.append(seq)
            else:
                self.histories[row] = seq
            count += 1
        self._build_stats(self.histories)
        return count

    def forget_shoppers(self, is_forgotten: Callable[[str], bool]) -> int:
        """Drop the histories of the shoppers ``is_forgotten`` picks: their id becomes "" and their history
        empty (rows keep their place, so MF's learned vectors stay aligned; a forgotten row's vector is
        zeroed). They are then served like a new shopper, and the purchase statistics no longer count
        them. Returns the number of shoppers dropped."""
        dropped = self._drop_shoppers(is_forgotten)
        if dropped:
            self._build_stats(self.histories)
        return dropped

    def _drop_shoppers(self, is_forgotten: Callable[[str], bool]) -> int:
        rows = [row for row, sid in enumerate(self.shopper_ids) if sid and is_forgotten(sid)]
        for row in rows:
            self.shopper_ids[row] = ""
            self.histories[row] = np.zeros(0, dtype=np.int64)
        self.checkpoint_stale = self.checkpoint_stale or bool(rows)
        if rows and isinstance(self.model, MatrixFactorization):
            with torch.no_grad():
                self.model.user_emb.weight[[r for r in rows if r < self.config.n_users]] = 0.0
        return len(rows)

    def _build_stats(self, train: Sequence[np.ndarray]) -> None:
        """The id lookups and the purchase statistics the reasons draw on."""
        self._index = {pid: i for i, pid in enumerate(self.item_ids)}
        self._shopper_index = {sid: i for i, sid in enumerate(self.shopper_ids) if sid}  # "": forgotten
        self._stats = PurchaseStats(self.item_ids, self.categories, train)

    # ---- scoring ------------------------------------------------------------------------------

    def _require_model(self):
        if self.model is None:
            raise ModelNotFitted("This recommender has no model yet: call fit() or CFRecommender.load(path)")
        return self.model

    def score_histories(self, histories: Sequence[np.ndarray], shoppers: np.ndarray | None = None) -> np.ndarray:
        """(B, n_items) scores after each history (the evaluation ``Scorer`` protocol).

        The sequence model reads the histories; MF uses the learned vectors of ``shoppers`` (rows) when
        given, else folds the histories in.
        """
        model = self._require_model()
        if isinstance(model, MatrixFactorization) and shoppers is None:
            return mf_fold_in(model, histories)
        return score_histories(model, histories, shoppers)

    def _history(self, shopper_id: str | None, session_items: Sequence[str]) -> tuple[np.ndarray, int | None]:
        row = self._shopper_index.get(shopper_id) if shopper_id is not None else None
        known = self.histories[row] if row is not None else np.zeros(0, dtype=np.int64)
        unknown = [p for p in session_items if p not in self._index]
        if unknown:
            logger.info("Ignoring %d session products the model does not know: %s", len(unknown), unknown[:5])
        session = np.array([self._index[p] for p in session_items if p in self._index], dtype=np.int64)
        trained = row is not None and row < self.config.n_users and not len(session)  # mf: a learned vector
        return np.concatenate([known, session]), (row if trained else None)

    def _scores(self, history: np.ndarray, row: int | None) -> np.ndarray:
        if not len(history):
            return self._stats.popularity.astype(np.float64)
        model = self._require_model()
        if isinstance(model, MatrixFactorization):
            return (score_histories(model, [history], np.array([row])) if row is not None
                    else mf_fold_in(model, [history]))[0]
        return score_histories(model, [history])[0]

    # ---- the contract -------------------------------------------------------------------------

    def scores(self, shopper_id: str | None = None,
               session_items: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray]:
        """(n_items,) score of every product in ``item_ids`` order, and the history it came from.

        The history is the shopper's known items followed by the session's; with no history at all
        the scores are popularity (number of training shoppers).
        """
        self._require_model()
        history, row = self._history(shopper_id, session_items)
        return self._scores(history, row).astype(np.float64), history

    def recommend(self, shopper_id: str | None = None, n: int = 10, *, session_items: Sequence[str] = (),
                  candidates: Collection[str] | None = None, exclude_seen: bool = True,
                  exclude: Collection[str] = ()) -> list[Recommendation]:
        """Top ``n`` products for a known shopper, a new/anonymous one (``session_items``), or both.

        Args:
            candidates: only these products may be returned (e.g. the ids passing the shopper's filters).
            exclude_seen: drop the products in the history and session.
            exclude: further products never to return.
        """
        scores, history = self.scores(shopper_id, session_items)
        allowed = np.ones(len(self.item_ids), dtype=bool)
        if candidates is not None:
            allowed[:] = False
            allowed[[self._index[p] for p in candidates if p in self._index]] = True
        if exclude_seen:
            allowed[history] = False
        allowed[[self._index[p] for p in exclude if p in self._index]] = False
        ids = np.flatnonzero(allowed)
        top = ids[np.lexsort((ids, -scores[ids]))][:n]
        return self._explained(top, scores, history)

    def reasons_for(self, product_ids: Sequence[str], shopper_id: str | None = None, *,
                    session_items: Sequence[str] = (),
                    scored: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Recommendation]:
        """The scores and reasons of chosen products (those the model knows) for this shopper or session.

        ``scored``: what ``scores(shopper_id, session_items)`` already returned, so it is not computed twice.
        """
        scores, history = scored if scored is not None else self.scores(shopper_id, session_items)
        items = np.array([self._index[p] for p in product_ids if p in self._index], dtype=np.int64)
        return {r.product_id: r for r in self._explained(items, scores, history)}

    def history_length(self, shopper_id: str | None = None, session_items: Sequence[str] = ()) -> int:
        """How many known products (history + session) the recommendations would build on."""
        return len(self._history(shopper_id, session_items)[0])

    def index_of(self, product_id: str) -> int | None:
        """Position of a product in ``item_ids`` (and in ``scores()``), None when the model does not know it."""
        return self._index.get(product_id)

    def explain(self, product_id: str, shopper_id: str | None = None, *,
                session_items: Sequence[str] = ()) -> list[tuple[str, float]]:
        """History products and how much each raises ``product_id``'s score (occlusion), largest first."""
        history, _ = self._history(shopper_id, session_items)
        item = self._index[product_id]
        drops = occlusion_drops(self.model, history, np.array([item]))
        if drops is None:
            return []
        order = np.argsort(-drops[:, 0], kind="stable")
        return [(self.item_ids[history[j]], float(drops[j, 0])) for j in order]

    def item_similarities(self, product_id: str) -> np.ndarray:
        """(n_items,) cosine of every product's item vector with ``product_id``'s, in ``item_ids`` order."""
        model = self._require_model()
        vectors = model.item_vectors().numpy()
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors @ vectors[self._index[product_id]]

    def bought_together(self, product_id: str, other_id: str) -> int:
        """Training shoppers who bought one of the two products right after the other."""
        return self._stats.bought_together(self._index[product_id], self._index[other_id])

    def together_reason(self, product_id: str, other_id: str) -> str | None:
        """"often bought together with <product_id> (N shoppers)" when N = ``bought_together`` reaches
        MIN_CO_BOUGHT; None when fewer shoppers did or the model does not know either product."""
        a, b = self.index_of(product_id), self.index_of(other_id)
        return None if a is None or b is None else self._stats.together_reason(a, b, self.describe)

    def similar_items(self, product_id: str, n: int = 10,
                      candidates: Collection[str] | None = None) -> list[Recommendation]:
        """Products whose item vectors are closest (cosine) to ``product_id``'s."""
        scores = self.item_similarities(product_id)
        item = self._index[product_id]
        allowed = np.ones(len(scores), dtype=bool) if candidates is None else np.isin(
            np.arange(len(scores)), [self._index[p] for p in candidates if p in self._index])
        allowed[item] = False
        ids = np.flatnonzero(allowed)
        top = ids[np.lexsort((ids, -scores[ids]))][:n]
        out = []
        for i in top:
            reason = self._stats.together_reason(item, int(i), self.describe)
            reasons = (reason,) if reason else ()
            out.append(Recommendation(self.item_ids[i], float(scores[i]), reasons, (product_id,) if reasons else (),
                                      reasons))
        return out

    def _explained(self, items: np.ndarray, scores: np.ndarray, history: np.ndarray) -> list[Recommendation]:
        liked = because_liked(self.model, history, items)
        return [Recommendation(self.item_ids[i], float(scores[i]),
                               *self._stats.reasons(int(i), history, liked.get(int(i)), self.describe))
                for i in items]

    # ---- persistence --------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint carrying the model, its configs, the catalog ids and fingerprint, and the
        known histories; written whole (``recommender/files.py``), keeping the permissions of the file
        it replaces."""
        model = self._require_model()
        path = Path(path)
        lengths = [len(h) for h in self.histories]
        checkpoint = {"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "config": asdict(self.config),
                      "train_config": asdict(self.train_config), "log": asdict(self.log),
                      "item_ids": self.item_ids, "shopper_ids": self.shopper_ids, "fingerprint": self.fingerprint,
                      "categories": self.categories, "history_lengths": torch.tensor(lengths, dtype=torch.long),
                      "history_items": torch.from_numpy(np.concatenate(self.histories or [np.zeros(0, np.int64)]))}
        mode = path.stat().st_mode & 0o777 if path.exists() else None
        with replaced_whole(path) as tmp, open(tmp, "wb") as fh:  # a file that cannot be written: OSError
            torch.save(checkpoint, fh)
            if mode is not None:
                os.chmod(tmp, mode)
        self.path, self.checkpoint_stale = path, False
        return path

    @classmethod
    def load(cls, path: str | Path, fingerprint: str | None = None,
             describe: Callable[[str], str] | None = None,
             forgotten: ForgottenShoppers | None = None) -> CFRecommender:
        """Read a checkpoint; raise CatalogMismatch when ``fingerprint`` differs from the saved one.
        The histories of forgotten shoppers are dropped before the model serves (``forget_shoppers``).

        Args:
            describe: product id -> the name reasons use (default: the id itself).
            forgotten: the record of forgotten shoppers; None: the one beside the configured shopper store.
        """
        ckpt = torch.load(Path(path), map_location="cpu", weights_only=True)
        if fingerprint is not None and ckpt["fingerprint"] != fingerprint:
            raise CatalogMismatch(f"Model {path} was trained on catalog {ckpt['fingerprint'][:12]}, but the "
                                  f"catalog in use is {fingerprint[:12]}; retrain it on the current catalog")
        rec = cls(CFConfig(**ckpt["config"]), TrainConfig(**ckpt["train_config"]), describe)
        rec.log = TrainLog(**ckpt["log"])
        rec.item_ids, rec.shopper_ids, rec.fingerprint = ckpt["item_ids"], ckpt["shopper_ids"], ckpt["fingerprint"]
        rec.categories = ckpt["categories"]
        bounds = np.cumsum([0] + ckpt["history_lengths"].tolist())
        items = ckpt["history_items"].numpy()
        rec.histories = [items[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        rec.model = build_model(rec.config)
        rec.model.load_state_dict(ckpt["model"])
        rec.model.eval()
        record = forgotten if forgotten is not None else ForgottenShoppers.configured()
        if dropped := rec._drop_shoppers(record.matcher()):
            logger.info("Dropped %d forgotten shoppers' histories from the model loaded from %s", dropped, path)
        rec._build_stats(rec.histories)
        rec.path = Path(path)
        return rec
