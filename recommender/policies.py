"""The shop's own policies (shipping, returns, payment, contact, ...): a Markdown file the shop writes,
split into passages by heading, and the passage that answers a shopper's question.

Each ``##`` section is a passage (its ``###`` subsections belong to it; what comes before the first
``##`` is the file's introduction, not a passage). A file's translations sit beside it, one per language:
``policies.md`` and ``policies.zh.md``.

How a question is answered (bench/policy_methods.py compares this with simpler ways, on two shops' files
and questions in English and Chinese; bench/policies.py measures it at the floors below). Several
sentence encoders read the file (``readers``): each embeds every passage (its heading, ": ", its text),
every sentence and every heading. For a question, an encoder's score of a section is its best cosine
among the passage and its sentences (``best``). The sections are ranked by the mean over the ranking
encoders of ``passage_mix`` x the passage's cosine + (1 - ``passage_mix``) x ``best`` + ``heading_weight``
x the heading's cosine, plus ``lexical_weight`` x the section's BM25 (``recommender.text.lexical``). The
top section answers when its confidence reaches the floor: the judging encoder's ``best`` of it (e5,
whose cosines mean the same from one file to another), plus ``agreement_weight`` x the mean of 1 / its
rank by each encoder's ``best`` and by BM25 (a section every reading puts first is surer): ``Scoring``. Below the
floor, the caller says it does not know. The answer quotes the section's sentences closest to the
question (at most ``QUOTE_SENTENCES``, in the passage's order). Each encoder's vectors are cached by the
texts they embed, so they are rebuilt only when the file (or how it is split) changes.
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
from recommender.text.lexical import Bm25
from recommender.text.multilingual import E5Encoder, MultilingualEncoder

__all__ = ["CROSS_LINGUAL_FLOOR", "ENGLISH_FLOOR", "MULTILINGUAL_FLOOR", "Cosines", "Passage", "Policies",
           "PolicyAnswer", "PolicyFileError", "Reader", "Scoring", "UNPLACED_MARGIN", "readers", "split_passages",
           "translation"]

logger = logging.getLogger(__name__)

# The confidence below which a question is not answered: English questions, questions in another language
# asked of the shop's translation (bench/policy_methods.py: tuned on one shop's questions, measured on the
# other's), and asked of the English file when the shop has no translation (e5 puts a question and a passage
# in two languages further apart: bench/policies.py, between the two shops' best floors).
ENGLISH_FLOOR = 0.863
MULTILINGUAL_FLOOR = 0.901
CROSS_LINGUAL_FLOOR = 0.815
# Above the floor by this much for a message the NLU did not read as a policy question (out of scope, not
# understood): in bench/policy_routing.py it loses none of the right answers trying those messages gains on both
# shops' policy questions (one with an earlier model), and answers 4 and 9 of 381 out-of-scope messages ("what time
# is it") from the two shops' files instead of 13 and 14.
UNPLACED_MARGIN = 0.01
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


@dataclass(frozen=True)
class Reader:
    """A sentence encoder reading a policy file: how it embeds a question and the file's texts, and its part."""

    questions: Encoder
    texts: Encoder  # the same encoder, or how the model embeds what queries are matched with (e5's passages)
    ranks: bool = True  # its cosines rank the sections
    judges: bool = False  # its cosines are the answer's confidence (the mean over the judging readers)


def readers(language: str | None) -> list[Reader]:
    """The encoders a question in ``language`` is read with: English with MiniLM (ranking), the multilingual
    USE (voting) and e5 (ranking and judging); another language with USE and e5, both ranking."""
    use = MultilingualEncoder()
    e5 = Reader(E5Encoder(), E5Encoder(passages=True), judges=True)
    if language in (None, "en"):
        mini = TextEncoder()
        return [Reader(mini, mini), Reader(use, use, ranks=False), e5]
    return [Reader(use, use), e5]


@dataclass(frozen=True)
class Cosines:
    """One reader's cosines of a question with each section (..., P): its passage, its heading, and its best
    (the max over the passage and its sentences). The leading axes are the questions' (none for one)."""

    passage: np.ndarray
    heading: np.ndarray
    best: np.ndarray


@dataclass(frozen=True)
class Scoring:
    """How the sections are ranked for a question and how sure the top one is (the module's docstring), on the
    readers' ``Cosines`` of one question or of many (bench/policy_methods.py varies the weights)."""

    passage_mix: float = 0.3
    heading_weight: float = 0.3
    lexical_weight: float = 0.2
    agreement_weight: float = 0.02

    def rank(self, ranking: Sequence[Cosines], lexical: np.ndarray) -> np.ndarray:
        """(..., P) each section's score by the ranking readers' cosines and its BM25 (``lexical``)."""
        mixed = [self.passage_mix * c.passage + (1 - self.passage_mix) * c.best + self.heading_weight * c.heading
                 for c in ranking]
        return sum(mixed) / len(mixed) + self.lexical_weight * lexical

    def confidence(self, top: np.ndarray | int, judged: Sequence[np.ndarray], votes: Sequence[np.ndarray]
                   ) -> np.ndarray:
        """(...) how sure the section ``top`` (...) is: the mean of the ``judged`` scores (..., P) of it, plus
        ``agreement_weight`` x its ``agreement``."""
        judged_top = np.mean([_of(scores, top) for scores in judged], 0)
        return judged_top + self.agreement_weight * self.agreement(top, votes)

    @staticmethod
    def agreement(top: np.ndarray | int, votes: Sequence[np.ndarray]) -> np.ndarray:
        """(...) the mean over the ``votes`` (..., P) of 1 / the rank each gives the section ``top`` (...)."""
        return np.mean([1.0 / (1 + (v > _of(v, top)[..., None]).sum(-1)) for v in votes], 0)


def _of(scores: np.ndarray, top: np.ndarray | int) -> np.ndarray:
    """(...) the score (..., P) of the section ``top`` (...)."""
    return np.take_along_axis(scores, np.expand_dims(top, -1), -1)[..., 0]


SCORING = Scoring()  # the weights measured best (bench/policy_methods.py)


class Policies:
    """A policy file's passages and each reader's vectors of them: ``answer`` finds the section a question
    asks about."""

    def __init__(self, passages: list[Passage], readings: Sequence[tuple[Reader, np.ndarray]],
                 floor: float = ENGLISH_FLOOR) -> None:
        if not any(reader.judges for reader, _ in readings) or not any(reader.ranks for reader, _ in readings):
            raise ValueError("a policy file needs a reader that ranks and one that judges")
        self.passages, self.readings, self.floor = passages, list(readings), floor  # vectors: (P + S + P, dim)
        self._owner = np.array([i for i, p in enumerate(passages) for _ in (None, *p.sentences)])
        self._is_passage = np.array([j == 0 for p in passages for j in range(len(p.sentences) + 1)])
        self._lexical = Bm25([f"{p.section} {p.text}" for p in passages])

    @classmethod
    def load_or_build(cls, path: Path, reading: Sequence[Reader], cache_dir: Path,
                      floor: float = ENGLISH_FLOOR) -> Policies:
        """The policies of the file at ``path`` read by ``reading``, each reader's vectors from the cache when
        the texts embedded (the file as split) and its encoder are those they were made from, else encoded
        (and cached).

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
        texts += [p.section for p in passages]
        return cls(passages, [(reader, _vectors(reader.texts, texts, cache_dir)) for reader in reading], floor)

    @classmethod
    def for_language(cls, path: Path, language: str | None, cache_dir: Path) -> Policies:
        """The policies a question in ``language`` is answered from: an English one from ``path``; another
        from the shop's file in its language (``translation``), or ``path`` when the shop has none; each read by
        the ``readers`` of its language and answered above the floor of the pair of languages."""
        if language in (None, "en"):
            return cls.load_or_build(path, readers(language), cache_dir, ENGLISH_FLOOR)
        translated = translation(path, language)
        return cls.load_or_build(translated, readers(language), cache_dir,
                                 CROSS_LINGUAL_FLOOR if translated == path else MULTILINGUAL_FLOOR)

    def answer(self, question: str, margin: float = 0.0) -> PolicyAnswer | None:
        """The section that answers ``question`` with the sentences to quote; None below the floor (+ ``margin``)."""
        texts = [vectors @ reader.questions.encode([question])[0] for reader, vectors in self.readings]
        cosines = [self._cosines(cosine) for cosine in texts]
        ranks = [reader.ranks for reader, _ in self.readings]
        lexical = self._lexical.scores(question)
        top = int(SCORING.rank([c for c, r in zip(cosines, ranks) if r], lexical).argmax())
        judged = [c.best for c, (reader, _) in zip(cosines, self.readings) if reader.judges]
        confidence = float(SCORING.confidence(top, judged, [c.best for c in cosines] + [lexical]))
        if confidence < self.floor + margin:
            return None
        closeness = sum(t[:len(self._owner)] for t, r in zip(texts, ranks) if r)
        mine = np.flatnonzero((self._owner == top) & ~self._is_passage)
        chosen = sorted(mine[np.argsort(-closeness[mine], kind="stable")[:QUOTE_SENTENCES]])
        sentences = self.passages[top].sentences
        return PolicyAnswer(self.passages[top].section, _joined([sentences[int(j - mine[0])] for j in chosen]),
                            confidence)

    def _cosines(self, cosine: np.ndarray) -> Cosines:
        """A question's cosines with each section, from its cosines (P + S + P,) with every text embedded."""
        texts, heading = cosine[:len(self._owner)], cosine[len(self._owner):]
        best = np.full(len(self.passages), -1.0)
        np.maximum.at(best, self._owner, texts)
        return Cosines(texts[self._is_passage], heading, best)


def _vectors(encoder: Encoder, texts: list[str], cache_dir: Path) -> np.ndarray:
    """``encoder``'s vectors of ``texts``, from the cache when it has them, else encoded and cached."""
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
        logger.info("embedded a policy file's %d texts with %s", len(texts), encoder.model_id)
    return vectors


def _joined(sentences: Sequence[str]) -> str:
    """Sentences as one text: a space after a Latin full stop, none after a Chinese one ("。")."""
    return "".join(s if i == 0 or _CJK_END.search(sentences[i - 1]) else f" {s}" for i, s in enumerate(sentences))
