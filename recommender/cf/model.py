"""Collaborative models in torch: a SASRec-style sequence model and a matrix-factorisation baseline.

Both represent an item as a learned id embedding plus a linear projection of the product's frozen
text embedding (when text features are given), so a product nobody bought yet still has a vector.
Item index 0 is padding everywhere; catalog item ``i`` is row ``i + 1`` of every item table.
Both train with softmax cross-entropy over all items (``n_negatives=0``) or with sampled softmax
against ``n_negatives`` items shared by the batch, drawn uniformly or by popularity**neg_power (then
with the logQ correction, so the sampled loss still estimates the full softmax).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

logger = logging.getLogger(__name__)

__all__ = ["CFConfig", "SASRec", "MatrixFactorization", "build_model", "DEVICE"]

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class CFConfig:
    kind: str = "sasrec"        # "sasrec" (self-attention over the ordered history) or "mf" (R ~ U V^T)
    n_items: int = 0            # catalog size, set from the data at fit time
    n_users: int = 0            # mf only: shoppers with a learned vector, set at fit time
    max_len: int = 50           # sasrec: most recent history items read (eSASRec setting on Beauty)
    n_embd: int = 64            # width of item, position and hidden vectors (eSASRec: 64)
    n_layer: int = 1            # sasrec: transformer blocks (eSASRec: 1)
    n_head: int = 1             # sasrec: attention heads (eSASRec: 1)
    mlp_ratio: int = 1          # sasrec: feed-forward width / n_embd (original SASRec: 1, GPT: 4)
    dropout: float = 0.3        # embeddings, attention and feed-forward (0.3 beat 0.5 on Beauty validation)
    text_dim: int = 0           # width of the frozen text embeddings (384 for MiniLM); 0 = ids only
    id_dropout: float = 0.3     # per batch, share of items whose id vector is hidden so text alone must work
    n_negatives: int = 1024     # > 0 = sampled softmax, shared negatives; 0 = full softmax (~6x slower here)
    neg_power: float = 0.75     # negatives drawn with prob ~ (popularity+1)**neg_power (0 = uniform), logQ-corrected
    init_std: float = 0.02      # normal init of embeddings and linear weights (nanoGPT)
    filter_alpha: float = 0.0   # sasrec: share of each block's mixer for the frequency filter (BSARec 0.7; 0 = off)
    filter_c: int = 5           # sasrec: the low-pass keeps max_len // filter_c positions (BSARec's c = 5)


class _ItemTable(nn.Module):
    """Item vectors: id embedding + projection of the frozen text embedding. Row 0 is padding."""

    def __init__(self, cfg: CFConfig, text: torch.Tensor | None):
        super().__init__()
        self.cfg = cfg
        self.id_emb = nn.Embedding(cfg.n_items + 1, cfg.n_embd, padding_idx=0)
        if cfg.text_dim:
            if text is None:
                text = torch.zeros(cfg.n_items, cfg.text_dim)
            if tuple(text.shape) != (cfg.n_items, cfg.text_dim):
                raise ValueError(f"text features have shape {tuple(text.shape)}, expected "
                                 f"({cfg.n_items}, {cfg.text_dim})")
            self.register_buffer("text", torch.cat([torch.zeros(1, cfg.text_dim), text.float()]))
            self.text_proj = nn.Linear(cfg.text_dim, cfg.n_embd, bias=False)
        else:
            self.text_proj = None
        self.register_buffer("counts", torch.zeros(cfg.n_items + 1))  # training popularity, for sampling
        self._kept: dict[str, torch.Tensor] = {}  # "table": all rows, while serving (eval mode, no grad)

    def train(self, mode: bool = True) -> _ItemTable:
        if mode:
            self._kept.clear()  # the weights may change from here on (eval() keeps the table)
        return super().train(mode)

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._kept.clear()  # new weights
        super()._load_from_state_dict(*args, **kwargs)

    def sample_negatives(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` item rows to use as negatives, and the log-probabilities to correct by (None = uniform)."""
        if self.cfg.neg_power == 0 or self.counts.sum() == 0:
            return torch.randint(1, self.cfg.n_items + 1, (n,), device=self.counts.device), None
        q = (self.counts + 1).pow(self.cfg.neg_power)
        q[0] = 0
        q = q / q.sum()
        return torch.multinomial(q, n, replacement=True), torch.log(q.clamp_min(1e-12))

    def forward(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Vectors of item ``rows`` (R,) -> (R, n_embd); all rows (n_items + 1, n_embd) when None.

        Serving (eval mode, no grad) computes all rows once: every query needs them, and the text
        projection of the whole catalog is most of a query's cost.
        """
        if rows is None and not self.training and not torch.is_grad_enabled():
            if "table" not in self._kept:
                self._kept["table"] = self._rows(None)
            return self._kept["table"]
        return self._rows(rows)

    def _rows(self, rows: torch.Tensor | None) -> torch.Tensor:
        w = self.id_emb.weight if rows is None else self.id_emb(rows)
        if self.text_proj is None:
            return w
        if self.training and self.cfg.id_dropout > 0:
            keep = torch.rand(w.shape[0], 1, device=w.device) >= self.cfg.id_dropout
            w = w * keep
        return w + self.text_proj(self.text if rows is None else self.text[rows])


def _full_softmax_loss(h: torch.Tensor, table: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each target among all items. h: (N, d); table: (n_items + 1, d); targets: (N,)."""
    logits = h @ table.T                                              # (N, n_items + 1)
    logits[:, 0] = float("-inf")                                      # padding is never a target
    return F.cross_entropy(logits, targets)


def _sampled_softmax_loss(h: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, targets: torch.Tensor,
                          neg_rows: torch.Tensor, log_q: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of each target against negatives shared by the batch (a negative equal to the
    target is masked). h, pos: (N, d); neg: (M, d); targets: (N,); neg_rows: (M,);
    log_q: (n_items + 1,) log sampling probability of each item (None = uniform)."""
    pos_logit = (h * pos).sum(-1, keepdim=True)                       # (N, 1)
    neg_logits = h @ neg.T                                            # (N, M)
    if log_q is not None:
        pos_logit = pos_logit - log_q[targets][:, None]
        neg_logits = neg_logits - log_q[neg_rows][None, :]
    neg_logits = neg_logits.masked_fill(neg_rows[None, :] == targets[:, None], float("-inf"))
    logits = torch.cat([pos_logit, neg_logits], dim=1)
    return F.cross_entropy(logits, torch.zeros_like(targets))


def _gather_rows(items: nn.Module, *parts: torch.Tensor) -> list[torch.Tensor]:
    """Item vectors for each index tensor in ``parts``, computing every distinct row once."""
    flat = torch.cat([p.reshape(-1) for p in parts])
    rows, inverse = torch.unique(flat, return_inverse=True)
    vectors = items(rows)[inverse]
    return [v.view(*p.shape, -1) for v, p in zip(vectors.split([p.numel() for p in parts]), parts)]


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: CFConfig):
        super().__init__()
        assert cfg.n_embd % cfg.n_head == 0
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.n_head, self.dropout = cfg.n_head, cfg.dropout
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape                                             # batch, time, channels
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class FrequencyFilter(nn.Module):
    """BSARec's beyond-self-attention filter, made causal: low + beta**2 * (x - low), where ``low`` is the
    mean of the last ``max_len // filter_c`` real items (BSARec keeps the lowest frequencies of the whole
    sequence with an FFT, which would let a position see later items under a per-position loss)."""

    def __init__(self, cfg: CFConfig):
        super().__init__()
        self.window = max(1, cfg.max_len // max(1, cfg.filter_c))
        self.beta = nn.Parameter(torch.randn(1, 1, cfg.n_embd))
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape                                             # batch, time, channels
        w = valid[..., None].to(x.dtype)                              # (B, T, 1): pads weigh nothing
        sums = F.pad(torch.cat([x * w, w], dim=2).cumsum(1), (0, 0, 1, 0))  # (B, T + 1, C + 1) prefix sums
        window = sums[:, 1:] - sums[:, (torch.arange(T, device=x.device) + 1 - self.window).clamp_min(0)]
        low = window[..., :C] / window[..., C:].clamp_min(1.0)        # (B, T, C) mean of the last `window` items
        return self.dropout(low + self.beta.pow(2) * (x - low))


class Block(nn.Module):
    def __init__(self, cfg: CFConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.alpha = cfg.filter_alpha
        self.filter = FrequencyFilter(cfg) if self.alpha > 0 else None
        self.ln_2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, cfg.mlp_ratio * cfg.n_embd), nn.GELU(),
                                 nn.Linear(cfg.mlp_ratio * cfg.n_embd, cfg.n_embd), nn.Dropout(cfg.dropout))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        h = self.ln_1(x)
        mixed = self.attn(h, mask)
        if self.filter is not None:
            mixed = self.alpha * self.filter(h, valid) + (1 - self.alpha) * mixed
        x = x + mixed
        return x + self.mlp(self.ln_2(x))


def _init_weights(module: nn.Module, std: float) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=std)
        if module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()


class SASRec(nn.Module):
    """Next-item model: causal self-attention over the last ``max_len`` items, tied item vectors."""

    def __init__(self, cfg: CFConfig, text: torch.Tensor | None = None):
        super().__init__()
        self.cfg = cfg
        self.items = _ItemTable(cfg, text)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.n_embd)         # position 0 = most recent item
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.apply(lambda m: _init_weights(m, cfg.init_std))
        for name, p in self.named_parameters():                      # GPT-2 scaled residual init
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=cfg.init_std / math.sqrt(2 * cfg.n_layer))

    def encode(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Hidden state after each position. x: (B, T, d) item vectors, left-padded; valid: (B, T) -> (B, T, d)."""
        B, T, _ = x.shape
        assert T <= self.cfg.max_len, f"history of {T} > max_len {self.cfg.max_len}"
        pos = torch.arange(T - 1, -1, -1, device=x.device)            # distance from the most recent item
        x = self.drop(x + self.pos_emb(pos)[None])
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        mask = causal[None] & valid[:, None, :]                       # (B, T query, T key)
        mask = (mask | torch.eye(T, dtype=torch.bool, device=x.device)[None])[:, None]  # pads see themselves
        for block in self.blocks:
            x = block(x, mask, valid)
        return self.ln_f(x)

    def forward(self, seq: torch.Tensor, targets: torch.Tensor | None = None):
        """seq: (B, T) item rows, left-padded with 0; targets: (B, T) next item row per position, 0 = none.

        Returns ``(scores, loss)``: without targets, scores (B, n_items) of every catalog item after
        the last position and loss None; with targets, scores None and the mean loss.
        """
        if targets is None or self.cfg.n_negatives <= 0:
            table = self.items()
            h = self.encode(table[seq], seq > 0)
            if targets is None:
                return h[:, -1, :] @ table[1:].T, None                # (B, n_items)
            sel = targets > 0
            return None, _full_softmax_loss(h[sel], table, targets[sel])
        sel = targets > 0
        neg_rows, log_q = self.items.sample_negatives(self.cfg.n_negatives)
        x, pos, neg = _gather_rows(self.items, seq, targets[sel], neg_rows)
        h = self.encode(x, seq > 0)[sel]                              # (N, d)
        return None, _sampled_softmax_loss(h, pos, neg, targets[sel], neg_rows, log_q)

    @torch.no_grad()
    def item_vectors(self) -> torch.Tensor:
        """(n_items, d) output vectors of the catalog items (eval mode)."""
        return self.items()[1:].detach()


class MatrixFactorization(nn.Module):
    """R ~ U V^T: one learned vector per training shopper, item vectors shared with the text path."""

    def __init__(self, cfg: CFConfig, text: torch.Tensor | None = None):
        super().__init__()
        self.cfg = cfg
        self.items = _ItemTable(cfg, text)
        self.user_emb = nn.Embedding(max(cfg.n_users, 1), cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.apply(lambda m: _init_weights(m, cfg.init_std))

    def forward(self, users: torch.Tensor, targets: torch.Tensor | None = None):
        """users: (B,) shopper rows; targets: (B,) item rows. Returns ``(scores (B, n_items) | None, loss | None)``."""
        u = self.drop(self.user_emb(users))                           # (B, d)
        if targets is None or self.cfg.n_negatives <= 0:
            table = self.items()
            if targets is None:
                return u @ table[1:].T, None
            return None, _full_softmax_loss(u, table, targets)
        neg_rows, log_q = self.items.sample_negatives(self.cfg.n_negatives)
        pos, neg = _gather_rows(self.items, targets, neg_rows)
        return None, _sampled_softmax_loss(u, pos, neg, targets, neg_rows, log_q)

    def fold_in(self, item_rows: torch.Tensor, steps: int = 30, l2: float = 1e-2) -> torch.Tensor:
        """A vector for a shopper the model never saw, fitted to ``item_rows`` with items frozen. -> (d,)"""
        with torch.no_grad():
            table = self.items()
        u = torch.zeros(self.cfg.n_embd, requires_grad=True)
        opt = torch.optim.LBFGS([u], lr=0.5, max_iter=steps)

        def closure():
            opt.zero_grad()
            logits = (table @ u)[None].expand(len(item_rows), -1).clone()
            logits[:, 0] = float("-inf")
            loss = F.cross_entropy(logits, item_rows) + l2 * u.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return u.detach()

    @torch.no_grad()
    def item_vectors(self) -> torch.Tensor:
        return self.items()[1:].detach()


def build_model(cfg: CFConfig, text: torch.Tensor | None = None) -> nn.Module:
    """The model named by ``cfg.kind``."""
    if cfg.kind == "sasrec":
        return SASRec(cfg, text)
    if cfg.kind == "mf":
        return MatrixFactorization(cfg, text)
    raise ValueError(f"Unknown model kind {cfg.kind!r}; expected 'sasrec' or 'mf'")
