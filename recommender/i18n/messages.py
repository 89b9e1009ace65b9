"""The assistant's texts in the shopper's language: gettext PO catalogs, read with Babel.

The English text is the message id; ``locale/<language>.po`` holds its translation into that
language (``shopbot translations LANG`` writes the file with every text to translate; any
gettext tool edits it). A text with no translation, or a language with no file, stays English.
The replies are in the languages the shop offers (``offered``: ``$SHOPBOT_LANGUAGES``, default
English and Chinese) that have a file; in any other language they are English.
``{placeholders}`` are kept by the translation and filled afterwards. The texts are the responses of
domain.yml and, in the code, the first argument of ``translate``, ``_`` and ``N_`` (``catalogs``).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).parent / "locale"
SOURCE_LANGUAGE = "en"
OFFERED = "en,zh"  # $SHOPBOT_LANGUAGES when unset
# The locale whose conventions (lists, numbers) a language's replies follow: "a, b and c" in English.
LOCALES = {"en": "en_GB", "zh": "zh_Hans_CN"}


def N_(text: str) -> str:  # noqa: N802 (gettext's name)
    """Mark a text for the catalogs where it is written; it is translated where it is used."""
    return text


@functools.lru_cache(maxsize=None)
def languages() -> tuple[str, ...]:
    """English and every language with a catalog."""
    return (SOURCE_LANGUAGE, *sorted(p.stem for p in LOCALE_DIR.glob("*.po")))


def offered() -> tuple[str, ...]:
    """The languages the replies can be in: English, and those the shop offers (``$SHOPBOT_LANGUAGES``,
    comma-separated codes, default "en,zh") that have a catalog, in the shop's order."""
    wanted = [code.strip().lower() for code in (os.environ.get("SHOPBOT_LANGUAGES") or OFFERED).split(",")]
    return tuple(dict.fromkeys([SOURCE_LANGUAGE, *(code for code in wanted if code in languages())]))


def reply_language(language: str | None) -> str:
    """The language of the replies to a shopper writing in ``language``: it, when offered; else English."""
    return language if language in offered() else SOURCE_LANGUAGE


def language_names() -> str:
    """The languages the replies can be in, each in its own words: "English, 中文"."""
    from babel import Locale

    return ", ".join(Locale.parse(code).display_name for code in offered())


@functools.lru_cache(maxsize=None)
def catalog(language: str) -> dict[str, str]:
    """English text -> its translation into `language` (empty for English or a language with no file)."""
    return {} if language == SOURCE_LANGUAGE else read_translations(LOCALE_DIR / f"{language}.po")


def read_translations(path: Path) -> dict[str, str]:
    """English text -> translation, from a PO file (empty when there is none); untranslated and fuzzy
    entries left out."""
    if not path.is_file():
        return {}
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        read = read_po(f)
    translations = {m.id: m.string for m in read if m.id and m.string and not m.fuzzy}
    logger.debug("%d texts from %s", len(translations), path)
    return translations


def translate(text: str, language: str | None) -> str:
    """`text` in the reply language of `language` (``reply_language``) when its catalog has it, else as it is."""
    return catalog(reply_language(language)).get(text, text) if language else text


def join(words: Sequence[str], language: str | None, style: str = "standard") -> str:
    """Words as one list in `language`: "a, b and c", "a、b和c"; style "or": "a, b or c" ("" for none)."""
    if not words:
        return ""
    from babel.lists import format_list

    return format_list(list(words), style=style, locale=reply_locale(language))


def locale_of(language: str | None) -> str:
    """The Babel locale of a language code ("en" -> "en_GB"; a code it does not list is its own locale)."""
    return LOCALES.get(language or SOURCE_LANGUAGE, language or SOURCE_LANGUAGE)


def reply_locale(language: str | None) -> str:
    """The locale of the replies to a shopper of ``language`` (``reply_language``): lists and prices in an
    English reply are written the English way."""
    return locale_of(reply_language(language))
