"""ask_policy: a question about the shop's own policies (shipping, returns, payment, ...), answered from
the shop's policy file (``recommender.policies``), quoted briefly with its section; a question the file
does not answer, or a shop without one, gets "I don't know" and the offer of a person.

A message the NLU could not place (out of scope, or not understood) is tried on the policy file too
(``answered_from_policies``): what a shop says about its service is its own ("what time do you close", "is the
extended warranty worth it"), so the shop's file knows more of it than the NLU's shop-neutral examples;
bench/policy_routing.py measures it through the trained NLU."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import services, slots
from actions.failures import ApologisingAction
from recommender.policies import UNPLACED_MARGIN


class ActionAnswerPolicy(ApologisingAction):
    """ask_policy: the passage of the shop's policies that answers the message, or an offer of a person."""

    what = "policy answer"

    def name(self) -> str:
        return "action_answer_policy"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        if not answered_from_policies(dispatcher, tracker):
            dispatcher.utter_message(response="utter_policy_unknown")
        return []


def answered_from_policies(dispatcher: CollectingDispatcher, tracker: Tracker, unplaced: bool = False) -> bool:
    """Quote the section of the shop's policies that answers the latest message, if one does: above the floor, by
    ``UNPLACED_MARGIN`` more for a message the NLU did not read as a policy question (``unplaced``)."""
    policies = services.policies(tracker.get_slot(slots.LANGUAGE))
    margin = UNPLACED_MARGIN if unplaced else 0.0
    answer = policies.answer(tracker.latest_message.get("text") or "", margin) if policies else None
    if answer is not None:
        dispatcher.utter_message(response="utter_policy_answer", section=answer.section, quote=answer.quote)
    return answer is not None
