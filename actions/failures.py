"""The one wrapper every action has: a shopper who just switched to a language the replies cannot be in is
told so first (``language``), and an exception becomes an apology and a logged traceback."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.language import tell_unoffered


class ApologisingAction(Action, ABC):
    """An action whose failure (store, catalog, ranker, a bug) gives the shopper an apology, never a
    traceback: ``run`` calls ``act`` and, if it raises, logs the traceback on the action module's
    logger as "<what> failed" (no message text) and sends ``apology``. Before ``act``, the language
    notice (``language.tell_unoffered``), unless the action speaks of languages itself."""

    apology = "utter_action_failed"  # the response sent when ``act`` raises
    what = ""  # what failed, for the log line; default: the action's name
    tells_languages = True  # False: the action says itself which languages the replies can be in

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            if self.tells_languages:
                tell_unoffered(dispatcher, tracker)
            return self.act(dispatcher, tracker)
        except Exception:
            logging.getLogger(type(self).__module__).exception("%s failed", self.what or self.name())
            dispatcher.utter_message(response=self.apology)
            return []

    @abstractmethod
    def name(self) -> str:
        """The action name in domain.yml."""

    @abstractmethod
    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """The action itself; exceptions become an apology."""
