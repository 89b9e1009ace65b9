"""The shop's own policies (shipping, returns, payment, contact, ...): a Markdown file the shop writes,
split into passages by heading, and the passage that answers a shopper's question.

Each ``##`` section is a passage (its ``###`` subsections belong to it; what comes before the first
``##`` is the file's introduction, not a passage). A passage and each of its sentences are embedded
with a sentence encoder; a question is answered by the section whose passage or best sentence is
closest to it, quoted by the sentences closest to the question (at most ``QUOTE_SENTENCES``, in the
passage's order). A question no section reaches ``floor`` (cosine) is not answered: the caller says it
does not know. A file's translations sit beside it, one per language: ``policies.md`` and
``policies.zh.md``. The vectors are cached per encoder and the texts embedded, so they are rebuilt only
when the file (or how it is split) changes.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender.errors import ShopbotError
from recommender.files import replaced_whole
from recommender.text.encoder import Encoder, TextEncoder
from recommender.text.multilingual import MultilingualEncoder

__all__ = ["DEFAULT_FLOOR", "MULTILINGUAL_FLOOR", "Passage", "Policies", "PolicyAnswer", "PolicyFileError",
           "split_passages", "translation"]

logger = logging.getLogger(__name__)

# The cosine of the best section below which a question is not answered, with MiniLM (English questions)
# and with the multilingual encoder (other languages): bench/policies.py.
DEFAULT_FLOOR = 0.475
MULTILINGUAL_FLOOR = 0.35
QUOTE_SENTENCES = 2
MAX_BYTES = 1_000_000  # a policy file is a page of text, not a book
_SECTION = re.compile(r"^##(?!#)\s*(.+?)\s*#*\s*$", re.M)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；])")
_CJK_END = re.compile(r"[。！？；]$")
# Markdown dropped from a passage: heading marks, list and quote marks, emphasis (an "_" inside a word, as in
# customer_care@shop.example, is kept) and a link's address
_MARKUP = re.compile(r"^\s{0,3}(?:#{3,6}\s*|[-*+]\s+|\d+[.)]\s+|>\s*)|[*`]+|(?<!\w)_+|_+(?!\w)|\[([^\]]*)\]\([^)]*\)",
                     re.M)


class PolicyFileError(ShopbotError):
    """The policy file cannot be read, or has no ``##`` section."""


@dataclass(frozen=True)
class Passage:
    """One section of the policy file: its heading and its sentences, as plain text."""

    section: str
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        return _joined(self.sentences)


@dataclass(frozen=True)
class PolicyAnswer:
    """The section that answers a question, the sentences quoted from it, and how close it was."""

    section: str
    quote: str
    score: float


def split_passages(markdown: str) -> list[Passage]:
    """The ``##`` sections of a Markdown text, with their sentences in plain text (no list marks,
    emphasis or link targets); a section without text is left out."""
    heads = list(_SECTION.finditer(markdown))
    passages = []
    for head, following in zip(heads, [*heads[1:], None]):
        body = markdown[head.end():following.start() if following else len(markdown)]
        plain = _MARKUP.sub(lambda m: m.group(1) or "", body)
        sentences = tuple(s.strip() for line in plain.splitlines() for s in _SENTENCE_END.split(line) if s.strip())
        if sentences:
            passages.append(Passage(_MARKUP.sub(lambda m: m.group(1) or "", head.group(1)).strip(), sentences))
    return passages


def translation(path: Path, language: str | None) -> Path:
    """The file of ``path``'s policies in ``language`` (``policies.zh.md``) when the shop wrote one, else ``path``."""
    translated = path.with_suffix(f".{language}{path.suffix}") if language else path
    return translated if translated.is_file() else path


class Policies:
    """A policy file's passages and their vectors: ``answer`` finds the section a question asks about."""

    def __init__(self, passages: list[Passage], encoder: Encoder, vectors: np.ndarray,
                 floor: float = DEFAULT_FLOOR) -> None:
        self.passages, self.encoder, self.floor = passages, encoder, floor
        self._vectors = vectors  # (P + S, dim): each passage, then every sentence in passage order
        self._owner = np.array([i for i, p in enumerate(passages) for _ in (None, *p.sentences)])
        self._is_passage = np.array([j == 0 for p in passages for j in range(len(p.sentences) + 1)])

    @classmethod
    def load_or_build(cls, path: Path, encoder: Encoder, cache_dir: Path, floor: float = DEFAULT_FLOOR) -> Policies:
        """The policies of the file at ``path``, their vectors from the cache when the texts embedded (the file
        as split) and the encoder are those they were made from, else encoded (and cached).

        Raises:
            PolicyFileError: the file cannot be read, is too large or has no section.
        """
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PolicyFileError(f"cannot read the policy file {path}: {exc.strerror or exc}") from exc
        if len(data) > MAX_BYTES:
            raise PolicyFileError(f"the policy file {path} is {len(data):,} bytes; at most {MAX_BYTES:,}")
        passages = split_passages(data.decode("utf-8", errors="replace"))
        if not passages:
            raise PolicyFileError(f"the policy file {path} has no '## ' section: write each policy under a "
                                  "'## Heading' (docs/policies.md)")
        texts = [text for p in passages for text in (f"{p.section}: {p.text}", *p.sentences)]
        key = hashlib.sha256("\0".join([encoder.model_id, *texts]).encode()).hexdigest()
        cached = cache_dir / "policies" / f"{key}.npy"
        try:
            vectors = np.load(cached, allow_pickle=False)
        except (OSError, ValueError):  # not cached yet (or unreadable): encode it
            vectors = None
        if vectors is None or len(vectors) != len(texts):
            vectors = encoder.encode(texts)
            with replaced_whole(cached) as tmp, open(tmp, "xb") as fh:
                np.save(fh, vectors, allow_pickle=False)
            logger.info("embedded %d policy sections of %s", len(passages), path)
        return cls(passages, encoder, vectors, floor)

    @classmethod
    def for_language(cls, path: Path, language: str | None, cache_dir: Path) -> Policies:
        """The policies a question in ``language`` is answered from: an English one from ``path``, read
        with MiniLM; another from the shop's file in its language (``translation``), read with the
        multilingual encoder, whose floor is its own."""
        if language in (None, "en"):
            return cls.load_or_build(path, TextEncoder(), cache_dir, DEFAULT_FLOOR)
        return cls.load_or_build(translation(path, language), MultilingualEncoder(), cache_dir, MULTILINGUAL_FLOOR)

    def answer(self, question: str) -> PolicyAnswer | None:
        """The section that answers ``question`` with the sentences to quote; None below the floor."""
        cosine = self._vectors @ self.encoder.encode([question])[0]
        best = np.full(len(self.passages), -1.0)  # each section's best cosine: its passage's or a sentence's
        np.maximum.at(best, self._owner, cosine)
        top = int(best.argmax())
        if best[top] < self.floor:
            return None
        mine = np.flatnonzero((self._owner == top) & ~self._is_passage)
        chosen = sorted(mine[np.argsort(-cosine[mine], kind="stable")[:QUOTE_SENTENCES]])
        sentences = self.passages[top].sentences
        return PolicyAnswer(self.passages[top].section, _joined([sentences[int(j - mine[0])] for j in chosen]),
                            float(best[top]))


def _joined(sentences: Sequence[str]) -> str:
    """Sentences as one text: a space after a Latin full stop, none after a Chinese one ("。")."""
    return "".join(s if i == 0 or _CJK_END.search(sentences[i - 1]) else f" {s}" for i, s in enumerate(sentences))
