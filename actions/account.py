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
from recommender.i18n.messages import N_, language_names, offered, translate

logger = logging.getLogger(__name__)

LISTING_SLOTS = (*slots.FILTERS, slots.QUERY, slots.LISTING, slots.SHOWN, slots.SEEN, slots.REASONS, slots.FOCUS)
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
        dispatcher.utter_message(response="utter_forgotten", deleted=describe_deleted(forgotten),
                                 json_message=custom_payload(tracker, {"forgotten": True}))
        return [Restarted()]


# what each part of a forget left pending still holds, until it can be written
PENDING_PLACES = {"catalog": "the product catalog", "model": "the recommendation model's file"}


def describe_deleted(forgotten: services.Forgotten) -> str:
    """ "your cart (2 products), 1 order (3 lines), 4 likes and dislikes, 25 activity records, 12 past
    purchases and this conversation"; with a part left pending, the past purchases are not counted as
    deleted and a last clause says where they still are until it can be written."""
    def count(n: int, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    deleted = forgotten.rows
    parts = [f"your cart ({count(deleted.get('cart', 0), 'product', 'products')})",
             f"{count(deleted.get('orders', 0), 'order', 'orders')} "
             f"({count(deleted.get('order_items', 0), 'line', 'lines')})",
             count(deleted.get("feedback", 0), "like or dislike", "likes and dislikes"),
             count(deleted.get("events", 0), "activity record", "activity records"),
             *([] if forgotten.purchases is None else [count(forgotten.purchases, "past purchase", "past purchases")]),
             "this conversation"]
    said = ", ".join(parts[:-1]) + " and " + parts[-1]
    if not forgotten.pending:
        return said
    places = " and ".join(PENDING_PLACES[part] for part in forgotten.pending)
    it = "it" if len(forgotten.pending) == 1 else "they"
    return (f"{said}. Your past purchases are no longer used for recommendations; they stay in {places} "
            f"until {it} can be written again, then they are deleted too")


class ActionHumanHandoff(ApologisingAction):
    """human_handoff: tell the shopper a person takes over, and pause the bot for this conversation."""

    def name(self) -> str:
        return "action_human_handoff"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff")
        logger.info("conversation paused for a person to take over")
        return [ConversationPaused()]


class ActionClarify(ApologisingAction):
    """nlu_fallback: ask which of the likeliest meanings was meant, as buttons (never a dead end)."""

    def name(self) -> str:
        return "action_clarify"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
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
