"""Watches: "tell me when it's back in stock", "tell me when it drops under 20", listing and cancelling them,
and the message a watch sends when it comes true (``watch_fired``, triggered by ``bot/watch_delivery.py``).

Without a price, a watch on a product out of stock waits for it to be back in stock, and one on a product
in stock waits for it to get cheaper than it is now. A watch is kept $SHOPBOT_WATCH_DAYS days (30).
"""

from __future__ import annotations

from decimal import Decimal

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services, slots
from actions.cards import custom_payload
from actions.failures import ApologisingAction
from actions.listing import NAME_CHARS, card, entity_values, money, referenced, short_title
from actions.prices import parse_price
from actions.references import positions
from recommender import config, to_money
from recommender.i18n.messages import N_, translate
from recommender.store.watches import Watch
from recommender.watches import ON_RETURN_CHANNELS, PUSH_CHANNELS, is_due

CENT = Decimal("0.01")
SET = {"in_stock": N_("I'll message you here when {title} is back in stock (for the next {days} days)."),
       "price": N_("I'll message you here when {title} costs {target} or less (it's {price} now; for the next "
                   "{days} days).")}
LISTED = {"in_stock": N_("{title}: when it is back in stock"),
          "price": N_("{title}: when it costs {target} or less")}
NO_PUSH = N_("I can't message you on this channel later: ask me \"what am I watching?\" and I'll say which came "
             "true.")
ON_RETURN = N_("You'll see it the next time you open this chat.")
ON_RETURN_LATER = N_("If that's more than a day after your last message here, you'll see it when you next write "
                     "to me.")
TRUE_NOW = N_("{watch} (true now)")
FIRED = {"in_stock": N_("Good news: {title} is back in stock, at {price}. Say \"add it to my cart\" to get it."),
         "price": N_("Good news: {title} now costs {price}. Say \"add it to my cart\" to get it.")}


def _money(amount: Decimal | float | None, language: str | None) -> str:
    return translate("price unknown", language) if amount is None else money(float(amount), language=language)


class ActionWatchProduct(ApologisingAction):
    """watch_product: keep a watch on the product referred to, on the conversation's channel."""

    def name(self) -> str:
        return "action_watch_product"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        ids = referenced(dispatcher, tracker)
        if ids is None:
            return []
        products = services.catalog().get_products(ids[:1])
        if not products:
            dispatcher.utter_message(response="utter_unknown_product")
            return []
        p, language = products[0], tracker.get_slot(slots.LANGUAGE)
        price = None if p.price is None else to_money(p.price)
        asked = next((amount for value in entity_values(tracker, "price_max")
                      if (amount := parse_price(value)) is not None), None)
        target = to_money(asked) if asked is not None else (price - CENT if p.in_stock and price else None)
        title = short_title(p, NAME_CHARS)
        if target is None and p.in_stock:  # in stock, no price to go under
            dispatcher.utter_message(response="utter_watch_not_needed", title=title)
            return [SlotSet(slots.FOCUS, p.product_id)]
        if target is not None and p.in_stock and price is not None and price <= target:
            dispatcher.utter_message(response="utter_watch_already", title=title, price=_money(price, language))
            return [SlotSet(slots.FOCUS, p.product_id)]
        kind, channel = "in_stock" if target is None else "price", tracker.get_latest_input_channel() or "rest"
        days = config.watch_days()
        services.store().watch(tracker.sender_id, p.id, kind, channel, days, target=target)
        text = translate(SET[kind], language).format(title=title, target=_money(target, language),
                                                     price=_money(price, language), days=days)
        if channel not in PUSH_CHANNELS:
            text += " " + translate(ON_RETURN if channel in ON_RETURN_CHANNELS else NO_PUSH, language)
        elif channel in ON_RETURN_CHANNELS:  # Messenger: pushed within a day of the shopper's last message
            text += " " + translate(ON_RETURN_LATER, language)
        dispatcher.utter_message(response="utter_watch_set", watch=text)
        return [SlotSet(slots.FOCUS, p.product_id)]


def _listed(watches: list[Watch], language: str | None, numbered: bool = True) -> list[str]:
    """The watches, numbered as "cancel the second one" counts them unless not `numbered`; one whose product
    meets it now is marked (the channel could not be messaged)."""
    products = {p.id: p for p in services.catalog().get_products([w.product_id for w in watches])}
    lines = []
    for i, w in enumerate(watches, start=1):
        p = products.get(w.product_id)
        line = translate(LISTED[w.kind], language).format(
            title=short_title(p, NAME_CHARS) if p else translate("that product", language),
            target=_money(w.target, language))
        line = translate(TRUE_NOW, language).format(watch=line) if p and is_due(w, p) else line
        lines.append(f"{i}. {line}" if numbered else line)
    return lines


def watch_lines(shopper_id: str, language: str | None) -> list[str]:
    """The shopper's watches, numbered."""
    return _listed(services.store().watches(shopper_id), language)


class ActionListWatches(ApologisingAction):
    """list_watches: the shopper's watches, numbered."""

    def name(self) -> str:
        return "action_list_watches"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        lines = watch_lines(tracker.sender_id, tracker.get_slot(slots.LANGUAGE))
        dispatcher.utter_message(response="utter_watches" if lines else "utter_no_watches", watches="\n".join(lines))
        return []


class ActionCancelWatch(ApologisingAction):
    """cancel_watch: by its position in the list ("cancel the second one"), the watch on the product in focus,
    or the only one; else ask which."""

    def name(self) -> str:
        return "action_cancel_watch"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        store, language, shopper = services.store(), tracker.get_slot(slots.LANGUAGE), tracker.sender_id
        watches = store.watches(shopper)
        if not watches:
            dispatcher.utter_message(response="utter_no_watches")
            return []
        mentions, focus = entity_values(tracker, "ordinal"), tracker.get_slot(slots.FOCUS)
        if mentions:
            chosen = [watches[n - 1] for n in positions(mentions, len(watches)) if 1 <= n <= len(watches)]
        else:
            chosen = [w for w in watches if focus and _product_of(w.product_id) == focus] or \
                (watches if len(watches) == 1 else [])
        if not chosen:
            dispatcher.utter_message(response="utter_which_watch", watches="\n".join(_listed(watches, language)))
            return []
        for watch in chosen:
            store.cancel_watch(shopper, watch.watch_id)
        dispatcher.utter_message(response="utter_watch_cancelled",
                                 watches="\n".join(_listed(chosen, language, numbered=False)))
        return []


def _product_of(product_id: str) -> str | None:
    found = services.catalog().get_products([product_id])
    return found[0].product_id if found else None


class ActionWatchFired(ApologisingAction):
    """watch_fired (sent by the shop, never typed): the product watched is back in stock or cheaper."""

    def name(self) -> str:
        return "action_watch_fired"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        ids, kinds = entity_values(tracker, "product_id"), entity_values(tracker, "watch_kind")
        products = services.catalog().get_products(ids[:1])
        if not products:
            return []
        p, language = products[0], tracker.get_slot(slots.LANGUAGE)
        kind = kinds[0] if kinds and kinds[0] in FIRED else "in_stock"
        dispatcher.utter_message(response="utter_watch_fired", news=translate(FIRED[kind], language).format(
            title=short_title(p, NAME_CHARS), price=_money(p.price, language)),
            json_message=custom_payload(tracker, {"products": [card(p, [], position=1, language=language)]}))
        return [SlotSet(slots.FOCUS, p.product_id), SlotSet(slots.SHOWN, [p.product_id])]
