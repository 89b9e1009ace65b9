"""ask_policy: a question about the shop's own policies (shipping, returns, payment, ...), answered from
the shop's policy file (``recommender.policies``), quoted briefly with its section; a question the file
does not answer, or a shop without one, gets "I don't know" and the offer of a person."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import services, slots
from actions.failures import ApologisingAction


class ActionAnswerPolicy(ApologisingAction):
    """ask_policy: the passage of the shop's policies that answers the message, or an offer of a person."""

    what = "policy answer"

    def name(self) -> str:
        return "action_answer_policy"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        policies = services.policies(tracker.get_slot(slots.LANGUAGE))
        answer = policies.answer(tracker.latest_message.get("text") or "") if policies else None
        if answer is None:
            dispatcher.utter_message(response="utter_policy_unknown")
        else:
            dispatcher.utter_message(response="utter_policy_answer", section=answer.section, quote=answer.quote)
        return []
