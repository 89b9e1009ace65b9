"""Typos of the names of what a shop sells: "shampo" -> "shampoo", "lipstik" -> "lipstick".

The vocabulary is the words of the catalog's category names and facet values (what kinds of
product it has; brand names are left out: "couch" is one letter from the brand "Coach"), with the
singular of each plural ("sprays" -> "spray"). A query word that the keyword index does not know is
corrected to the vocabulary word it is closest to when that word starts with the same letter and
is at most one edit away (two for words of eight letters or more), an edit being an insertion,
deletion, substitution or swap of two neighbouring letters; the word with more products wins a tie.
Words under five letters are never corrected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["Speller"]

MIN_LENGTH = 5


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (Damerau-Levenshtein without repeated edits of a substring);
    any value above ``limit`` is returned as ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before, row = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (ca != cb))
            if before is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, row = row, current
    return min(row[-1], limit + 1)


class Speller:
    """Corrects typos against the names of what a catalog sells (module docstring)."""

    def __init__(self, names: Iterable[tuple[str, int]]) -> None:
        """``names``: (category name or facet value, product count) pairs."""
        counts: dict[str, int] = {}
        singulars: set[str] = set()
        for name, count in names:
            for word in re.findall(r"[^\W\d_]+", name.lower()):
                counts[word] = counts.get(word, 0) + count
                if word.endswith("s") and not word.endswith("ss"):
                    singulars.add(word[:-1])
        made = {word: counts[word + "s"] for word in singulars - set(counts)}  # "spray" from "sprays"
        # most products first, the catalog's own spelling before a singular made from it: they win ties
        ranked = sorted([*counts.items(), *made.items()], key=lambda item: (-item[1], item[0] in made, item[0]))
        self._by_initial: dict[str, list[str]] = {}
        for word, _ in ranked:
            if len(word) >= MIN_LENGTH - 1:
                self._by_initial.setdefault(word[0], []).append(word)

    def correct(self, word: str) -> str | None:
        """The vocabulary word ``word`` is a typo of, None when there is none (or it is a vocabulary word)."""
        word = word.lower()
        if len(word) < MIN_LENGTH or not word.isalpha():
            return None
        limit = 2 if len(word) >= 8 else 1
        best, best_distance = None, limit + 1
        for candidate in self._by_initial.get(word[0], ()):  # in rank order: the first of equals wins
            distance = edit_distance(word, candidate, limit)
            if distance == 0:
                return None
            if distance < best_distance:
                best, best_distance = candidate, distance
        return best
