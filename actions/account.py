"""Conversation-level actions: start over, forget me, hand over to a person, clarify an unclear message, the
language of the replies."""

from __future__ import annotations

import logging

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, EventType, Restarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services, slots
from actions.cards import button_choices, custom_payload
from actions.failures import ApologisingAction
from actions.policies import answered_from_policies
from recommender.i18n.messages import N_, join, language_names, offered, translate

logger = logging.getLogger(__name__)

LISTING_SLOTS = (*slots.CONSTRAINTS, slots.QUERY, slots.LISTING, slots.SHOWN, slots.SEEN, slots.REASONS, slots.FOCUS)
# What a clarifying button offers for each intent the NLU hesitated between.
CHOICES = {
    "search_products": N_("Search for it"), "refine_search": N_("Narrow the current search"),
    "show_more": N_("Show more results"), "recommend": N_("Get recommendations"),
    "similar_products": N_("See similar products"), "product_details": N_("See product details"),
    "compare_products": N_("Compare products"), "explain": N_("Know why I picked them"),
    "add_to_cart": N_("Add to my cart"), "remove_from_cart": N_("Remove from my cart"), "view_cart": N_("See my cart"),
    "checkout": N_("Check out"), "like_product": N_("Say I like it"), "dislike_product": N_("Say I don't like it"),
    "start_over": N_("Start over"), "help": N_("See what you can do"), "human_handoff": N_("Talk to a person"),
    "ask_policy": N_("Ask about the shop's policies"), "order_status": N_("See where my order is"),
    "order_history": N_("See my orders"), "cancel_order": N_("Cancel an order"),
    "return_item": N_("Return something"), "reorder": N_("Buy an order again"),
    "my_data": N_("See what you keep about me"), "forget_item": N_("Forget a like or dislike"),
}
MAX_CHOICES = 3


class ActionStartOver(ApologisingAction):
    """start_over: clear the constraints and listing; the cart and likes stay."""

    def name(self) -> str:
        return "action_start_over"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        dispatcher.utter_message(response="utter_started_over")
        return [SlotSet(name, None) for name in LISTING_SLOTS]


class ActionForgetMe(ApologisingAction):
    """forget_me (after the shopper confirmed): delete everything kept about this sender and say what.

    The reply carries ``{"forgotten": true}`` (REST: ``custom``; the widget: the event's data), so a
    client can drop what it keeps itself: the widget clears its stored chat and sign-in."""

    what = "forget_me"

    def name(self) -> str:
        return "action_forget_me"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        forgotten = services.forget(tracker.sender_id)
        deleted = describe_deleted(forgotten, tracker.get_slot(slots.LANGUAGE))
        dispatcher.utter_message(response="utter_forgotten", deleted=deleted,
                                 json_message=custom_payload(tracker, {"forgotten": True}))
        return [Restarted()]


# what each part of a forget left pending still holds, until it can be written
PENDING_PLACES = {"catalog": N_("the product catalog"), "model": N_("the recommendation model's file")}
# (one, many) of each count a forget reports
COUNTED = {"cart": (N_("your cart ({n} product)"), N_("your cart ({n} products)")),
           "orders": (N_("{n} order ({lines})"), N_("{n} orders ({lines})")),
           "order_items": (N_("{n} line"), N_("{n} lines")),
           "feedback": (N_("{n} like or dislike"), N_("{n} likes and dislikes")),
           "events": (N_("{n} activity record"), N_("{n} activity records")),
           "purchases": (N_("{n} past purchase"), N_("{n} past purchases"))}


def describe_deleted(forgotten: services.Forgotten, language: str | None = None) -> str:
    """ "your cart (2 products), 1 order (3 lines), 4 likes and dislikes, 25 activity records, 12 past
    purchases and this conversation", in the shopper's language; with a part left pending, the past
    purchases are not counted as deleted and a last clause says where they still are until it can be written."""
    def count(what: str, n: int, **more: str) -> str:
        return translate(COUNTED[what][n != 1], language).format(n=n, **more)

    deleted = forgotten.rows
    parts = [count("cart", deleted.get("cart", 0)),
             count("orders", deleted.get("orders", 0), lines=count("order_items", deleted.get("order_items", 0))),
             count("feedback", deleted.get("feedback", 0)), count("events", deleted.get("events", 0)),
             *([] if forgotten.purchases is None else [count("purchases", forgotten.purchases)]),
             translate("this conversation", language)]
    said = join(parts, language)
    if not forgotten.pending:
        return said
    places = join([translate(PENDING_PLACES[part], language) for part in forgotten.pending], language)
    text = N_("{said}. Your past purchases are no longer used for recommendations; they stay in {places} until "
              "it can be written again, then they are deleted too") if len(forgotten.pending) == 1 else \
        N_("{said}. Your past purchases are no longer used for recommendations; they stay in {places} until "
           "they can be written again, then they are deleted too")
    return translate(text, language).format(said=said, places=places)


class ActionHumanHandoff(ApologisingAction):
    """human_handoff: tell the shopper a person takes over, and pause the bot for this conversation."""

    def name(self) -> str:
        return "action_human_handoff"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff")
        logger.info("conversation paused for a person to take over")
        return [ConversationPaused()]


class ActionClarify(ApologisingAction):
    """nlu_fallback: the shop's policies' answer when they have one (``answered_from_policies``), else ask
    which of the likeliest meanings was meant, as buttons (never a dead end)."""

    def name(self) -> str:
        return "action_clarify"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        if answered_from_policies(dispatcher, tracker, unplaced=True):
            return []
        ranking = tracker.latest_message.get("intent_ranking") or []
        intents = [r.get("name") for r in ranking if r.get("name") in CHOICES][:MAX_CHOICES]
        if "search_products" not in intents:
            intents = intents[:MAX_CHOICES - 1] + ["search_products"]
        if "help" not in intents:
            intents.append("help")
        language = tracker.get_slot(slots.LANGUAGE)
        buttons = [{"title": translate(CHOICES[name], language), "payload": f"/{name}"} for name in intents]
        dispatcher.utter_message(response="utter_clarify", **button_choices(tracker, buttons))
        return [SlotSet(slots.UNCLEAR, tracker.latest_message.get("text") or "")]


class ActionSetLanguage(ApologisingAction):
    """set_language: confirm the language asked for ("speak English", "说中文"), or say which ones the replies
    can be in. The NLU has already set the slot; without a catalog for it the replies stay English."""

    tells_languages = False

    def name(self) -> str:
        return "action_set_language"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        asked = next(tracker.get_latest_entity_values(slots.LANGUAGE), None)
        if asked in offered():
            dispatcher.utter_message(response="utter_language_set")
        else:
            dispatcher.utter_message(response="utter_language_unavailable", languages=language_names())
        return []
