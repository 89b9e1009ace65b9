"""Training and scoring loops for the models of ``recommender.cf.model``: seeded, CPU-friendly, early-stopped."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from recommender.cf.model import CFConfig, MatrixFactorization, SASRec, build_model
from recommender.cf.metrics import ndcg_at_k, target_ranks

logger = logging.getLogger(__name__)

__all__ = ["TrainConfig", "TrainLog", "fit_model", "score_histories", "pad_histories"]


@dataclass
class TrainConfig:
    epochs: int = 200           # upper bound; early stopping or max_minutes usually ends training first
    batch_size: int = 256       # sequences per step (sasrec); mf uses 8x as many (shopper, item) pairs
    lr: float = 1e-3            # AdamW learning rate
    weight_decay: float = 0.0   # AdamW weight decay (dropout does the regularising by default)
    seed: int = 0               # seeds torch and numpy: same data + config + seed -> same model on CPU
    patience: int = 6           # stop after this many validations without a better validation NDCG@10
    lr_patience: int = 2        # halve the learning rate after this many validations without gain (0 = never)
    lr_schedule: str = "plateau"  # "plateau" (halving above), or "cosine": per step, linear warm-up then cosine to 0 at `epochs`
    warmup_epochs: float = 0.0  # cosine only: epochs of linear warm-up from 0 to lr
    max_minutes: float = 18.0   # wall-clock budget of the whole fit, validation included
    eval_shoppers: int = 0      # validate on the first this many shoppers (0 = all of them)
    threads: int = 2            # torch CPU threads (the machine has 2 cores shared by a team)
    samples: str = "sequences"  # sasrec: "sequences" (a loss at every position) or "prefixes" (every prefix its
                                # own sample, the loss at its last position only, as FMLP-Rec and BSARec train)


@dataclass
class TrainLog:
    epochs: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)         # mean training loss per epoch
    valid_ndcg10: list[float] = field(default_factory=list)  # NaN when no validation data was given
    seconds: list[float] = field(default_factory=list)      # cumulative wall time at the end of each epoch
    best_epoch: int = 0
    stopped: str = ""                                       # why training ended


def pad_histories(histories: Sequence[np.ndarray], max_len: int) -> torch.Tensor:
    """(B, T) item rows (catalog index + 1), left-padded with 0, the last ``max_len`` items of each."""
    T = max(1, min(max_len, max((len(h) for h in histories), default=1)))
    out = np.zeros((len(histories), T), dtype=np.int64)
    for r, h in enumerate(histories):
        h = np.asarray(h, dtype=np.int64)[-T:]
        if len(h):
            out[r, T - len(h):] = h + 1
    return torch.from_numpy(out)


@torch.no_grad()
def score_histories(model: torch.nn.Module, histories: Sequence[np.ndarray],
                    users: np.ndarray | None = None, batch_size: int = 512) -> np.ndarray:
    """(B, n_items) scores of every catalog item after each history (mf: for each known user row)."""
    model.eval()
    out = []
    for start in range(0, len(histories), batch_size):
        if isinstance(model, SASRec):
            scores, _ = model(pad_histories(histories[start:start + batch_size], model.cfg.max_len))
        else:
            if users is None:
                raise ValueError("MatrixFactorization scores known users: pass their rows as users")
            scores, _ = model(torch.as_tensor(users[start:start + batch_size], dtype=torch.long))
        out.append(scores.numpy())
    return np.vstack(out) if out else np.zeros((0, model.cfg.n_items), dtype=np.float32)


def _sasrec_batches(train: Sequence[np.ndarray], cfg: CFConfig, batch_size: int, rng: np.random.Generator,
                    prefixes: bool = False):
    """(inputs, targets) batches, (B, T) each (``TrainConfig.samples``): whole sequences with a target at
    every position, or every prefix with its next item as the target of its last position only."""
    seqs = [s for s in train if len(s) >= 2]
    if prefixes:
        seqs = [s[:k] for s in seqs for k in range(2, len(s) + 1)]
    inputs = pad_histories([s[:-1] for s in seqs], cfg.max_len)
    if prefixes:
        targets = torch.zeros_like(inputs)
        targets[:, -1] = torch.from_numpy(np.array([s[-1] for s in seqs], dtype=np.int64) + 1)
    else:
        targets = pad_histories([s[1:] for s in seqs], cfg.max_len)
    lengths = np.minimum([len(s) - 1 for s in seqs], cfg.max_len)
    order = np.lexsort((rng.random(len(seqs)), lengths))             # similar lengths share a batch
    starts = rng.permutation(np.arange(0, len(order), batch_size))   # batches in random order
    for start in starts:
        idx = torch.from_numpy(order[start:start + batch_size])
        x, y = inputs[idx], targets[idx]
        T = int((x > 0).sum(1).max())                                 # trim the all-padding columns
        yield (x[:, -T:], y[:, -T:])


def _n_samples(train: Sequence[np.ndarray], cfg: CFConfig, tc: TrainConfig) -> int:
    """Training samples an epoch: sequences or prefixes (sasrec), (shopper, item) pairs (mf)."""
    if cfg.kind != "sasrec":
        return sum(len(s) for s in train)
    if tc.samples == "prefixes":
        return sum(max(len(s) - 1, 0) for s in train)
    return sum(len(s) >= 2 for s in train)


def _mf_batches(train: Sequence[np.ndarray], batch_size: int, rng: np.random.Generator):
    users = np.concatenate([np.full(len(s), u) for u, s in enumerate(train)]).astype(np.int64)
    items = np.concatenate(train).astype(np.int64) + 1
    order = rng.permutation(len(users))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        yield (torch.from_numpy(users[idx]), torch.from_numpy(items[idx]))


def _validate(model, valid, cfg: CFConfig, chunk: int = 1024) -> float:
    histories, targets, users = valid
    ranks = []
    for start in range(0, len(histories), chunk):                    # chunks keep memory flat
        sl = slice(start, start + chunk)
        scores = score_histories(model, histories[sl], None if users is None else users[sl])
        ranks.append(target_ranks(scores, targets[sl], histories[sl])[0])
    return ndcg_at_k(np.concatenate(ranks), 10) if ranks else 0.0


def fit_model(cfg: CFConfig, train: Sequence[np.ndarray], *, train_config: TrainConfig | None = None,
              valid: tuple[list[np.ndarray], np.ndarray, np.ndarray | None] | None = None,
              text: torch.Tensor | None = None) -> tuple[torch.nn.Module, TrainLog]:
    """Train a model on ``train[u]`` (item indices, oldest first) and keep its best validation state.

    Args:
        valid: (input histories, target items, user rows or None) for early stopping on NDCG@10.
        text: (n_items, cfg.text_dim) frozen text features, or None.
    """
    tc = train_config or TrainConfig()
    torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    model = build_model(cfg, text)
    counts = np.zeros(cfg.n_items + 1, dtype=np.float32)
    for seq in train:
        np.add.at(counts, np.asarray(seq) + 1, 1)
    model.items.counts.copy_(torch.from_numpy(counts))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=tc.lr,
                            weight_decay=tc.weight_decay, fused=True)
    if valid is not None and tc.eval_shoppers:
        valid = (valid[0][:tc.eval_shoppers], valid[1][:tc.eval_shoppers],
                 None if valid[2] is None else valid[2][:tc.eval_shoppers])
    if tc.lr_schedule not in ("plateau", "cosine"):
        raise ValueError(f"Unknown lr_schedule {tc.lr_schedule!r}; expected 'plateau' or 'cosine'")
    if tc.samples not in ("sequences", "prefixes"):
        raise ValueError(f"Unknown samples {tc.samples!r}; expected 'sequences' or 'prefixes'")
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=tc.lr_patience) \
        if valid is not None and tc.lr_patience > 0 and tc.lr_schedule == "plateau" else None
    per_step = None
    if tc.lr_schedule == "cosine":
        batch = tc.batch_size if cfg.kind == "sasrec" else tc.batch_size * 8
        steps = max(1, math.ceil(_n_samples(train, cfg, tc) / batch))
        total, warm = steps * tc.epochs, steps * tc.warmup_epochs
        per_step = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: (t + 1) / warm if t < warm else
                                                     0.5 * (1 + math.cos(math.pi * min(1.0, (t - warm) / max(1, total - warm)))))
    log, best, best_state, stale = TrainLog(), -1.0, None, 0
    started = time.perf_counter()
    for epoch in range(1, tc.epochs + 1):
        model.train()
        batches = (_sasrec_batches(train, cfg, tc.batch_size, rng, tc.samples == "prefixes") if cfg.kind == "sasrec"
                   else _mf_batches(train, tc.batch_size * 8, rng))
        losses = []
        for inputs, targets in batches:
            _, loss = model(inputs, targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if per_step is not None:
                per_step.step()
            losses.append(loss.item())
        ndcg = _validate(model, valid, cfg) if valid is not None else float("nan")
        elapsed = time.perf_counter() - started
        log.epochs.append(epoch)
        log.loss.append(float(np.mean(losses)) if losses else float("nan"))
        log.valid_ndcg10.append(ndcg)
        log.seconds.append(elapsed)
        logger.info("epoch %d loss %.4f valid ndcg@10 %.4f (%.0f s)", epoch, log.loss[-1], ndcg, elapsed)
        if plateau is not None:
            plateau.step(ndcg)
        if valid is None or ndcg > best:
            best, best_state, stale, log.best_epoch = ndcg, copy.deepcopy(model.state_dict()), 0, epoch
        else:
            stale += 1
        if valid is not None and stale >= tc.patience:
            log.stopped = f"no validation gain for {tc.patience} epochs"
            break
        if elapsed / 60 > tc.max_minutes * epoch / (epoch + 1):      # would the next epoch overrun?
            log.stopped = f"time budget of {tc.max_minutes} min"
            break
    else:
        log.stopped = f"{tc.epochs} epochs"
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, log


def mf_fold_in(model: MatrixFactorization, histories: Sequence[np.ndarray]) -> np.ndarray:
    """(B, n_items) scores for shoppers the model never saw, from their items alone."""
    model.eval()
    with torch.no_grad():
        table = model.item_vectors()
    rows = []
    for h in histories:
        if len(h) == 0:
            rows.append(np.zeros(model.cfg.n_items, dtype=np.float32))
            continue
        u = model.fold_in(torch.as_tensor(np.asarray(h) + 1, dtype=torch.long))
        rows.append((table @ u).numpy())
    return np.vstack(rows)
