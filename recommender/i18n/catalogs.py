"""The texts to translate, and the PO catalogs kept in step with them.

The texts are every response text and button title of domain.yml, and in the Python code of
``actions``, ``bot`` and ``recommender`` the literal first argument of ``translate``, ``_``, ``N_`` and ``Text``
(read by Babel's Python extractor). ``update`` writes ``locale/<language>.po`` with all of them:
translations kept, new texts untranslated, texts no longer used dropped.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import yaml

from recommender.config import REPO_ROOT
from recommender.i18n.messages import LOCALE_DIR, catalog, languages, locale_of, read_translations

logger = logging.getLogger(__name__)

KEYWORDS = ("translate", "_", "N_", "Text")  # the calls whose first argument is a text to translate
CODE_PACKAGES = ("actions", "bot", "recommender")


def message_ids(root: Path = REPO_ROOT) -> dict[str, list[str]]:
    """Every text to translate -> where it is used ("domain.yml: utter_goodbye", "actions/shop.py:61")."""
    from babel.messages.extract import extract_python

    found: dict[str, list[str]] = defaultdict(list)
    responses = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8")).get("responses") or {}
    for name, variations in responses.items():
        for variation in variations:
            for text in [variation.get("text"), *(b.get("title") for b in variation.get("buttons") or [])]:
                if text and f"domain.yml: {name}" not in found[text]:
                    found[text].append(f"domain.yml: {name}")
    for package in CODE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            with path.open("rb") as f:
                for line, _, text, _ in extract_python(f, KEYWORDS, [], {}):
                    text = text[0] if isinstance(text, tuple) else text
                    if isinstance(text, str) and text:
                        found[text].append(f"{path.relative_to(root)}:{line}")
    return dict(found)


def update(language: str, root: Path = REPO_ROOT, locale_dir: Path = LOCALE_DIR) -> tuple[int, int]:
    """Write <locale_dir>/<language>.po with every text to translate; returns (texts, still untranslated)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    path = locale_dir / f"{language}.po"
    known = read_translations(path)
    out = Catalog(locale=locale_of(language), project="shopbot", fuzzy=False)
    ids = message_ids(root)
    for text, where in ids.items():
        out.add(text, known.get(text, ""), auto_comments=where,
                flags=("python-brace-format",) if "{" in text else ())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, out, width=100, omit_header=False, sort_output=False)
    catalog.cache_clear()
    languages.cache_clear()
    missing = sum(1 for text in ids if not known.get(text))
    logger.info("%s: %d texts, %d untranslated", path, len(ids), missing)
    return len(ids), missing
