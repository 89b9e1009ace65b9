"""The one notice a shopper gets on writing in a language the replies cannot be in: "Sorry, I can only
reply in English, 中文." (in English), then the reply itself in English; said again only when the
conversation switches into such a language anew."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from recommender.i18n.messages import language_names, offered


def switched_to_unoffered(tracker: Tracker) -> str | None:
    """The language the latest message switched the conversation into, when the replies cannot be in it."""
    now = tracker.get_slot(slots.LANGUAGE)
    if not now or now in offered():
        return None
    before, seen_message = None, False
    for event in reversed(tracker.events):  # the slot's value before the latest message
        if event.get("event") == "user":
            seen_message = True
        elif seen_message and event.get("event") == "slot" and event.get("name") == slots.LANGUAGE:
            before = event.get("value")
            break
    return now if before != now else None


def tell_unoffered(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Say which languages the replies can be in, when the latest message switched to another one."""
    if switched_to_unoffered(tracker):
        dispatcher.utter_message(response="utter_language_unavailable", languages=language_names())
