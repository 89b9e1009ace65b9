"""Texts made now and said later in the shopper's language: an English template kept with its values.

A ``Text`` is its English wording (it is a ``str``: logs, tests, JSON and English replies use it as it
is) and ``said(language)`` gives it in another language: the template through the message catalogs
(``messages.translate``; the template is marked for them by being the first argument of ``Text``), and
each value said in that language: a value with a ``said(language)`` method (a price, a facet) gives its
own words, a tuple of words is quoted and joined as the language writes them ("'a', 'b' and 'c'",
"“a”、“b”和“c”"), anything else is kept as it is (product titles, brands, categories as the shop wrote
them; counts).
"""

from __future__ import annotations

from typing import Any

from recommender.i18n.messages import SOURCE_LANGUAGE, join, translate

__all__ = ["Text", "said"]


class Text(str):
    """An English text that remembers its template and values (module docstring)."""

    template: str
    values: dict[str, Any]

    def __new__(cls, template: str, /, **values: Any) -> Text:
        text = super().__new__(cls, _fill(template, values, None))
        text.template, text.values = template, values
        return text

    def said(self, language: str | None) -> str:
        """The text in ``language`` (None or English: as it is; a text with no translation: English)."""
        if not language or language == SOURCE_LANGUAGE:
            return str(self)
        return _fill(translate(self.template, language), self.values, language)


def said(text: str, language: str | None) -> str:
    """``text`` in ``language`` when it is a ``Text``; any other string as it is."""
    return text.said(language) if isinstance(text, Text) else text


def _fill(template: str, values: dict[str, Any], language: str | None) -> str:
    return template.format(**{name: _say(value, language) for name, value in values.items()})


def _say(value: Any, language: str | None) -> str:
    if hasattr(value, "said"):
        return value.said(language)
    if isinstance(value, tuple):
        return join([translate("'{word}'", language).format(word=v) for v in value], language)
    return str(value)
