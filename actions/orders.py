"""After checkout: where an order is, what was bought, cancel it (before it ships), return from it (once
delivered, within the shop's return window) and buy it again.

Orders are only ever looked up with the shopper's own id: another shopper's order number is "not
found" and nothing more. Without a number the order is the one last talked about, else the latest
(for a return: the latest delivered). A cancel or a return is asked first and kept in the
``order_change`` slot; `ActionSettleOrderChange` does it on the shopper's yes, the store checking
again that it is still allowed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_date
from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services, slots
from actions.cards import button_choices
from actions.cart import cart_summary, items_total, message_id_of, money_text, price_change, priced
from actions.failures import ApologisingAction
from actions.listing import NAME_CHARS, entity_values, say_not_listed
from actions.references import positions
from recommender import InvalidOrderChange, Order, OrderNotFound, config, price_cart, to_money
from recommender.i18n.messages import N_, join, reply_locale, translate

STATUS_WORDS = {"placed": N_("placed"), "shipped": N_("shipped"), "delivered": N_("delivered"),
                "cancelled": N_("cancelled"), "returned": N_("returned")}
EARLIER_ORDERS = 5  # earlier orders named after the last one's lines
_WORD = re.compile(r"\w{4,}")  # a word of a line's title the shopper may name ("return the blender")


def _date(at: datetime, language: str | None) -> str:
    return format_date(at.date(), format="medium", locale=reply_locale(language))


def _status(status: str, language: str | None) -> str:
    return translate(STATUS_WORDS[status], language)


def _number(order: Order) -> str:
    return f"#{order.order_id}"


def _summary(order: Order, language: str | None) -> str:
    """ "2 items, $13.48" """
    return items_total(sum(line.quantity for line in order.lines), order.total, language)


def _lines(order: Order, language: str | None, only: Sequence[int] | None = None) -> str:
    """The order's lines numbered as ordered ("2. Title: 1 x $5 = $5 (returned)")."""
    rows = []
    for i, line in enumerate(order.lines):
        if only is None or i in only:
            returned = translate(" (returned)", language) if i in order.returned else ""
            rows.append(f"{i + 1}. {line.title[:NAME_CHARS]}: "
                        f"{priced(line.quantity, line.unit_price, line.line_total, language)}{returned}")
    return "\n".join(rows)


def _named_number(tracker: Tracker) -> int | None:
    """The order number the latest message names: the entity order_number ("12", "#12"), else a number
    written after "#" ("has #1043 shipped?")."""
    text = tracker.latest_message.get("text") or ""
    for value in [*entity_values(tracker, "order_number"), *re.findall(r"#\s*\d+", text)]:
        if digits := re.search(r"\d{1,9}", value):
            return int(digits.group(0))
    return None


def find_order(dispatcher: CollectingDispatcher, tracker: Tracker,
               default: Callable[[list[Order]], Order | None] = lambda orders: orders[-1]) -> Order | None:
    """The shopper's order the message is about, or None after saying why there is none: the number
    named (only among the shopper's own), else the order last talked about, else ``default`` of the
    shopper's orders (oldest first; default: the latest)."""
    store, shopper = services.store(), tracker.sender_id
    named = _named_number(tracker)
    if named is not None:
        order = store.order(shopper, named)
        if order is None:
            dispatcher.utter_message(response="utter_order_not_found")
        return order
    talked_about = tracker.get_slot(slots.ORDER)
    if talked_about and (order := store.order(shopper, int(talked_about))):
        return order
    orders = store.orders(shopper)
    order = default(orders) if orders else None
    if order is None:
        dispatcher.utter_message(response="utter_no_orders")
    return order


def _talked_about(order: Order) -> list[EventType]:
    return [SlotSet(slots.ORDER, str(order.order_id))]


class ActionOrderStatus(ApologisingAction):
    """order_status: the order's status and its history, with the shop's notes (a tracking number)."""

    def name(self) -> str:
        return "action_order_status"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        order = find_order(dispatcher, tracker)
        if order is None:
            return []
        language = tracker.get_slot(slots.LANGUAGE)
        history = "\n".join(f"- {_date(change.at, language)}: {_status(change.status, language)}"
                            + (f" ({translate(change.note, language)})" if change.note else "")
                            for change in order.history)
        dispatcher.utter_message(response="utter_order_status", order_id=_number(order),
                                 summary=_summary(order, language), status=_status(order.status, language),
                                 history=history)
        return _talked_about(order)


class ActionOrderHistory(ApologisingAction):
    """order_history: the last order's lines (what "return the second one" then refers to), and the earlier
    orders by number and date."""

    def name(self) -> str:
        return "action_order_history"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        orders = services.store().orders(tracker.sender_id)
        if not orders:
            dispatcher.utter_message(response="utter_no_orders")
            return []
        last, language = orders[-1], tracker.get_slot(slots.LANGUAGE)
        before = [f"{_number(o)} ({_date(o.created_at, language)})" for o in reversed(orders[:-1])][:EARLIER_ORDERS]
        earlier = translate("\nEarlier orders: {orders}.", language).format(orders=join(before, language)) \
            if before else ""
        dispatcher.utter_message(response="utter_order_history", order_id=_number(last),
                                 date=_date(last.created_at, language), status=_status(last.status, language),
                                 lines=_lines(last, language), total=money_text(last.total, language), earlier=earlier)
        return _talked_about(last)


class ActionCancelOrder(ApologisingAction):
    """cancel_order: asks before cancelling an order that has not shipped; says why not otherwise."""

    def name(self) -> str:
        return "action_cancel_order"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        order = find_order(dispatcher, tracker)
        if order is None:
            return [SlotSet(slots.ORDER_CHANGE, None)]
        language = tracker.get_slot(slots.LANGUAGE)
        if order.status != "placed":
            dispatcher.utter_message(response="utter_cannot_cancel", order_id=_number(order),
                                     status=_status(order.status, language))
            return [SlotSet(slots.ORDER_CHANGE, None), *_talked_about(order)]
        dispatcher.utter_message(response="utter_confirm_cancel", order_id=_number(order),
                                 summary=_summary(order, language))
        return [SlotSet(slots.ORDER_CHANGE, {"kind": "cancel", "order": order.order_id}), *_talked_about(order)]


def _last_delivered(orders: list[Order]) -> Order | None:
    return next((o for o in reversed(orders) if o.status == "delivered"), orders[-1])


def return_refusal(order: Order, chosen: Sequence[int], now: datetime, window_days: int,
                   language: str | None) -> tuple[str, dict[str, Any]] | None:
    """The response (and its fields) that says why these lines of the order cannot be returned, or None."""
    fields: dict[str, Any] = {"order_id": _number(order)}
    if chosen and all(i in order.returned for i in chosen) or order.status == "returned":
        titles = [order.lines[i].title[:NAME_CHARS] for i in (chosen or range(len(order.lines)))]
        return "utter_already_returned", {"titles": join(titles, language)}
    if order.status != "delivered" or order.delivered_at is None:
        return "utter_cannot_return_yet", {**fields, "status": _status(order.status, language)}
    last_day = order.delivered_at + timedelta(days=window_days)
    if now > last_day:
        return "utter_return_window_passed", {**fields, "date": _date(order.delivered_at, language),
                                              "last_day": _date(last_day, language)}
    return None


def _chosen_lines(tracker: Tracker, order: Order) -> tuple[list[int], list[int]]:
    """The 0-based lines of the order the message names, and the 1-based positions it names that the
    order does not have: by position ("the second one"), else by a word of their titles."""
    mentions = entity_values(tracker, "ordinal")
    if mentions:
        named = positions(mentions, len(order.lines))
        inside = [p for p in named if 1 <= p <= len(order.lines)]
        return [p - 1 for p in inside], [p for p in named if p not in inside]
    words = set(_WORD.findall((tracker.latest_message.get("text") or "").lower()))
    return [i for i, line in enumerate(order.lines) if words & set(_WORD.findall(line.title.lower()))], []


class ActionReturnItem(ApologisingAction):
    """return_item: which lines of a delivered order to return (asked when unclear), then asks before
    recording the return; says why not for an order not delivered yet or past the return window."""

    def name(self) -> str:
        return "action_return_item"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        order = find_order(dispatcher, tracker, default=_last_delivered)
        if order is None:
            return [SlotSet(slots.ORDER_CHANGE, None)]
        language, talked = tracker.get_slot(slots.LANGUAGE), _talked_about(order)
        chosen, missing = _chosen_lines(tracker, order)
        if missing:
            say_not_listed(dispatcher, len(order.lines), missing, language)
            return [SlotSet(slots.ORDER_CHANGE, None), *talked]
        refusal = return_refusal(order, chosen, services.store().clock(), config.return_days(), language)
        if refusal:
            dispatcher.utter_message(response=refusal[0], **refusal[1])
            return [SlotSet(slots.ORDER_CHANGE, None), *talked]
        open_lines = [i for i in range(len(order.lines)) if i not in order.returned]
        chosen = [i for i in chosen if i not in order.returned] or (open_lines if len(open_lines) == 1 else [])
        if not chosen:
            buttons = [{"title": order.lines[i].title[:NAME_CHARS],
                        "payload": f'/return_item{{"order_number": "{order.order_id}", "ordinal": "{i + 1}"}}'}
                       for i in open_lines]
            dispatcher.utter_message(response="utter_which_return", order_id=_number(order),
                                     lines=_lines(order, language, open_lines), **button_choices(tracker, buttons))
            return [SlotSet(slots.ORDER_CHANGE, None), *talked]
        dispatcher.utter_message(response="utter_confirm_return", order_id=_number(order),
                                 lines=_lines(order, language, chosen))
        return [SlotSet(slots.ORDER_CHANGE, {"kind": "return", "order": order.order_id, "positions": chosen}),
                *talked]


class ActionSettleOrderChange(ApologisingAction):
    """The shopper's yes or no to a cancel or a return asked for: done (the store checks again), or nothing."""

    def name(self) -> str:
        return "action_settle_order_change"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        change = tracker.get_slot(slots.ORDER_CHANGE)
        done = [SlotSet(slots.ORDER_CHANGE, None)]
        if not change:  # the cancel or return was refused: this yes or no answers nothing
            dispatcher.utter_message(response="utter_anything_else")
            return done
        if (tracker.latest_message.get("intent") or {}).get("name") != "affirm":
            dispatcher.utter_message(response="utter_order_unchanged")
            return done
        store, shopper, language = services.store(), tracker.sender_id, tracker.get_slot(slots.LANGUAGE)
        try:
            if change["kind"] == "cancel":
                order = store.cancel_order(shopper, change["order"])
                dispatcher.utter_message(response="utter_order_cancelled", order_id=_number(order))
            else:
                order = store.return_lines(shopper, change["order"], change["positions"], config.return_days())
                dispatcher.utter_message(response="utter_return_recorded", order_id=_number(order),
                                         lines=_lines(order, language, change["positions"]))
        except OrderNotFound:  # forgotten meanwhile
            dispatcher.utter_message(response="utter_order_not_found")
        except InvalidOrderChange:  # the shop moved the order meanwhile: say what it is now
            order = store.order(shopper, change["order"])
            if order is None:
                dispatcher.utter_message(response="utter_order_not_found")
            elif change["kind"] == "cancel":
                dispatcher.utter_message(response="utter_cannot_cancel", order_id=_number(order),
                                         status=_status(order.status, language))
            else:
                response, fields = return_refusal(order, change["positions"], store.clock(), config.return_days(),
                                                  language) or ("utter_order_unchanged", {})
                dispatcher.utter_message(response=response, **fields)
        return done


class ActionReorder(ApologisingAction):
    """reorder: the order's products back into the cart at today's prices, saying which prices changed,
    which products are out of stock (not added) and which the shop no longer sells."""

    def name(self) -> str:
        return "action_reorder"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        order = find_order(dispatcher, tracker)
        if order is None:
            return []
        catalog, store, language = services.catalog(), services.store(), tracker.get_slot(slots.LANGUAGE)
        products = {p.id: p for p in catalog.get_products([line.product_id for line in order.lines])}
        added, gone, changed, sold_out = [], [], [], []
        for line in order.lines:
            product = products.get(line.product_id)
            if product is None or product.price is None:
                gone.append(line.title[:NAME_CHARS])
                continue
            if not product.in_stock:
                sold_out.append(line.title[:NAME_CHARS])
                continue
            now = to_money(product.price)  # said below when it changed: the price shown
            store.add_to_cart(tracker.sender_id, line.product_id, line.quantity, source="reorder",
                              message_id=message_id_of(tracker), price=now)
            added.append(line.title[:NAME_CHARS])
            if now != line.unit_price:
                changed.append(price_change(line.title[:NAME_CHARS], now, line.unit_price, language))
        if not added:
            if sold_out:
                dispatcher.utter_message(response="utter_out_of_stock", titles=join(sold_out, language))
            else:
                dispatcher.utter_message(response="utter_reorder_unavailable", order_id=_number(order))
            return _talked_about(order)
        changes = translate(" Out of stock, not added: {titles}.", language).format(
            titles=join(sold_out, language)) if sold_out else ""
        if changed:
            changes += translate(" Prices since that order: {changes}.", language).format(
                changes=join(changed, language))
        if gone:
            changes += translate(" No longer sold: {titles}.", language).format(titles=join(gone, language))
        cart = price_cart(store.cart_lines(tracker.sender_id), catalog)
        dispatcher.utter_message(response="utter_reordered", order_id=_number(order), titles=join(added, language),
                                 cart_summary=cart_summary(cart, language), changes=changes)
        return _talked_about(order)
