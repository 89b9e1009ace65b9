"""What the assistant keeps about the shopper: saying it ("what do you know about me?") and forgetting one
like or dislike ("forget that I liked the first one"). Forgetting everything is forget_me (account.py)."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services, slots
from actions.failures import ApologisingAction
from actions.listing import NAME_CHARS, referenced, short_title
from recommender.i18n.messages import N_, join, translate

# (one, many) of each count the shopper is told is kept
KEPT = {"cart": (N_("Your cart: {n} product."), N_("Your cart: {n} products.")),
        "orders": (N_("{n} order (\"where is my order?\" shows it)."),
                   N_("{n} orders (\"what did I buy last time?\" shows them).")),
        "watches": (N_("{n} watch (\"what am I watching?\" lists it)."),
                    N_("{n} watches (\"what am I watching?\" lists them).")),
        "events": (N_("{n} record of what you were shown, opened, added and ordered (for the shop's statistics)."),
                   N_("{n} records of what you were shown, opened, added and ordered (for the shop's statistics).")),
        "purchases": (N_("{n} past purchase in the shop's history (it personalises your recommendations)."),
                      N_("{n} past purchases in the shop's history (they personalise your recommendations)."))}
OPINIONS = {"like": N_("{position}. {title} (you like it)"), "dislike": N_("{position}. {title} (you don't like it)")}
FORGOTTEN = {"like": N_("that you like {title}"), "dislike": N_("that you don't like {title}")}


class ActionMyData(ApologisingAction):
    """my_data: every like and dislike, numbered (so "forget the first one" names one), and how much else is
    kept: cart lines, orders, activity records, past purchases in the catalog's histories."""

    def name(self) -> str:
        return "action_my_data"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        store, language, shopper = services.store(), tracker.get_slot(slots.LANGUAGE), tracker.sender_id
        feedback = store.feedback(shopper)
        opinion = {**{pid: "like" for pid in feedback.liked}, **{pid: "dislike" for pid in feedback.disliked}}
        products = services.catalog().get_products(list(opinion))  # a product gone from the catalog is not listed
        lines = [translate(OPINIONS[opinion[p.id]], language).format(position=i, title=short_title(p, NAME_CHARS))
                 for i, p in enumerate(products, start=1)]
        counts = {**store.kept(shopper), "purchases": len(services.catalog().shopper_history(shopper))}
        lines += [translate(KEPT[what][counts[what] != 1], language).format(n=counts[what])
                  for what in KEPT if counts[what]]
        if not lines:
            dispatcher.utter_message(response="utter_my_data_empty")
            return []
        dispatcher.utter_message(response="utter_my_data", kept="\n".join(lines))
        ids = [p.id for p in products]
        return [SlotSet(slots.SHOWN, ids), SlotSet(slots.SEEN, ids), SlotSet(slots.REASONS, {}),
                SlotSet(slots.LISTING, {"kind": "my_data", "product_id": None}), SlotSet(slots.FOCUS, None)]


class ActionForgetItem(ApologisingAction):
    """forget_item: delete the shopper's like or dislike of the products referred to ("the first one" of
    what my_data or a listing showed, or the product in focus)."""

    def name(self) -> str:
        return "action_forget_item"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        ids = referenced(dispatcher, tracker)
        if ids is None:
            return []
        store, language = services.store(), tracker.get_slot(slots.LANGUAGE)
        products = services.catalog().get_products(ids)
        forgotten, kept_none = [], []
        for p in products:
            opinion = store.forget_opinion(tracker.sender_id, p.id)
            title = short_title(p, NAME_CHARS)
            if opinion:
                forgotten.append(translate(FORGOTTEN[opinion], language).format(title=title))
            else:
                kept_none.append(title)
        if forgotten:
            dispatcher.utter_message(response="utter_opinion_forgotten", forgotten=join(forgotten, language))
        if kept_none or not products:
            dispatcher.utter_message(response="utter_no_opinion", titles=join(
                kept_none or [translate("that product", language)], language))
        return []
