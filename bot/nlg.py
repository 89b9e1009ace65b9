"""Replies in the conversation's language: Rasa's response templates, translated before they are filled.

endpoints.yml names this class as Rasa's natural-language generator (``nlg: type: bot.nlg.TranslatingNLG``).
It picks a response variation as Rasa's own ``TemplatedNaturalLanguageGenerator`` does (channel,
conditions), then translates its text and button titles into the language of the `language` slot from
the message catalogs (``recommender.i18n.messages``), then fills the ``{placeholders}``. Without a
translation the English text is used. Each response names the language it is written in (``language``:
Rasa keeps it as the message's metadata; the socket.io channel sends it to the web widget).
"""

from __future__ import annotations

import copy
from typing import Any

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig

from bot.language import LANGUAGE
from recommender.i18n.messages import reply_language, translate


class TranslatingNLG(TemplatedNaturalLanguageGenerator):
    """The domain's responses in the language of the conversation."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, domain: Domain | None = None) -> None:
        super().__init__((domain or Domain.empty()).responses)

    def generate_from_slots(self, utter_action: str, filled_slots: dict[str, Any], output_channel: str,
                            **kwargs: Any) -> dict[str, Any] | None:
        response = copy.deepcopy(self._random_response_for(utter_action, output_channel, filled_slots))
        if response is None:
            return None
        language = filled_slots.get(LANGUAGE)
        if response.get("text"):
            response["text"] = translate(response["text"], language)
        for button in response.get("buttons") or []:
            button["title"] = translate(button["title"], language)
        response["language"] = reply_language(language)  # the web widget's own labels follow it
        return self._fill_response(response, filled_slots, **kwargs)
