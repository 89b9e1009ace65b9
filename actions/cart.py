"""Cart and taste actions: add, remove, view, checkout (no payment), like, dislike. State is in the
shopper store (SQLite, per sender id), so it survives restarts of both servers. Adds and removals
name the message they answer, so a message handled again (a retry after a crash before Rasa saved
the turn) changes the cart once and gets the same reply."""

from __future__ import annotations

from decimal import Decimal

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services, slots, variants
from actions.cards import custom_payload
from actions.failures import ApologisingAction
from actions.listing import NAME_CHARS, card, entity_values, listing_kind, money, referenced, short_title
from recommender import (CartSummary, CheckoutRefused, EmptyCart, NotInCart, PricesChanged, Product, price_cart,
                         to_money)
from recommender.catalog.variants import Variant, pick_variants
from recommender.i18n.messages import N_, join, translate


def _names(ids: list[str], tracker: Tracker) -> str:
    """The products' short titles as one list in the shopper's language."""
    products, language = services.catalog().get_products(ids), tracker.get_slot(slots.LANGUAGE)
    return join([short_title(p, NAME_CHARS) for p in products] or [translate("that product", language)],
                language)  # none: gone from the catalog


def money_text(amount: Decimal, language: str | None) -> str:
    return money(float(amount), language=language)


def items_total(count: int, total: Decimal, language: str | None) -> str:
    """ "2 items, $13.48" in the shopper's language."""
    text = translate(N_("{count} item, {total}") if count == 1 else N_("{count} items, {total}"), language)
    return text.format(count=count, total=money_text(total, language))


def cart_summary(cart: CartSummary, language: str | None) -> str:
    """ "2 items, $13.48" ("empty"; "... plus items without a price")."""
    count = sum(line.quantity for line in cart.lines)
    if not count:
        return translate("empty", language)
    return items_total(count, cart.total, language) + \
        (translate(" plus items without a price", language) if cart.unpriced else "")


def priced(quantity: int, unit_price: Decimal, line_total: Decimal, language: str | None) -> str:
    """ "2 x $5 = $10" """
    return f"{quantity} x {money_text(unit_price, language)} = {money_text(line_total, language)}"


def checkout_problems(cart: CartSummary, language: str | None) -> str:
    """Why the cart cannot be checked out, in the shopper's language: each product to remove and why."""
    problems = [translate("{title} has no price", language).format(title=short_title(p, NAME_CHARS))
                for p in cart.unpriced]
    problems += [translate("{title} is out of stock", language).format(title=short_title(p, NAME_CHARS))
                 for p in cart.sold_out]
    problems += [translate("a product in it is no longer sold", language)] * len(cart.missing)
    remove = N_("{problems}. Remove it from your cart first.") if len(problems) == 1 else \
        N_("{problems}. Remove them from your cart first.")
    return translate(remove, language).format(problems=join(problems, language))


def prices_changed(cart: CartSummary, language: str | None) -> str:
    """Which prices changed since the shopper added the lines, and that the next checkout orders at them."""
    changes = [price_change(short_title(line.product, NAME_CHARS), line.unit_price, line.shown_price, language)
               for line in cart.repriced]
    return translate("prices changed since you added them: {changes}. Say \"checkout\" again to order at today's "
                     "prices.", language).format(changes=join(changes, language))


def price_change(title: str, now: Decimal, then: Decimal, language: str | None) -> str:
    """ "Matte Lipstick now $6.00 (was $5.00)" in the shopper's language."""
    return translate("{title} now {now} (was {then})", language).format(
        title=title, now=money_text(now, language), then=money_text(then, language))


def message_id_of(tracker: Tracker) -> str | None:
    """Rasa's id of the shopper's message this turn answers; the same when that message is handled again."""
    return tracker.latest_message.get("message_id") or None


def _cart(tracker: Tracker) -> CartSummary:
    return price_cart(services.store().cart_lines(tracker.sender_id), services.catalog())


def _cart_payload(tracker: Tracker, cart: CartSummary) -> dict | None:
    """The cart's lines as cards with quantities, drawn for the shopper's channel."""
    lines = [{**card(line.product, [], language=tracker.get_slot(slots.LANGUAGE)), "quantity": line.quantity,
              "line_total": None if line.line_total is None else float(line.line_total)} for line in cart.lines]
    return custom_payload(tracker, {"cart": {"lines": lines, "count": sum(line.quantity for line in cart.lines),
                                             "total": float(cart.total)}})


class ActionAddToCart(ApologisingAction):
    """add_to_cart, and the answer to "Which size?" (``actions/variants.py``): a product sold in several
    options is added once the shopper has named one; an option out of stock is never added."""

    def name(self) -> str:
        return "action_add_to_cart"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        named_ids = entity_values(tracker, "product_id")
        chosen = variants.answered(tracker, entity_values(tracker, "ordinal"), named_ids)
        if chosen is not None:  # the answer to "Which size?"
            product = services.catalog().get_product(tracker.get_slot(slots.VARIANT_QUESTION)["product_id"])
            return self._choose(dispatcher, tracker, product, [v for v in product.variants if v.id in chosen])
        ids = referenced(dispatcher, tracker)
        if ids is None:
            return []
        text, ready, asking = tracker.latest_message.get("text") or "", [], None
        for p in services.catalog().get_products(ids):
            if len(p.variants) == 1:
                p = p.variant(p.variants[0])
            elif p.variants and p.in_stock:  # the message may name the option itself: "add the black one in M"
                picked = pick_variants("" if named_ids else text, [v.options for v in p.variants])
                named = [p.variants[i] for i in picked]
                if len(named) != 1 or not named[0].in_stock:
                    asking = asking or (p, named)
                    continue
                p = p.variant(named[0])
            ready.append(p)
        events = self._add(dispatcher, tracker, ready) if ready else []
        if asking:
            return events + self._choose(dispatcher, tracker, *asking)
        return events + [SlotSet(slots.VARIANT_QUESTION, None)]

    def _choose(self, dispatcher: CollectingDispatcher, tracker: Tracker, product: Product,
                named: list[Variant]) -> list[EventType]:
        """The shopper named these options of ``product`` (none: not yet): add the one variant named if it
        is in stock; else say which named ones are out of stock and ask among what is available."""
        available = [v for v in named if v.in_stock]
        if len(named) == 1 and available:
            return self._add(dispatcher, tracker, [product.variant(available[0])]) + \
                [SlotSet(slots.VARIANT_QUESTION, None)]
        if not any(v.in_stock for v in product.variants):  # sold out since the question
            return self._add(dispatcher, tracker, [product]) + [SlotSet(slots.VARIANT_QUESTION, None)]
        if named and not available:
            language = tracker.get_slot(slots.LANGUAGE)
            labels = [variants.label(v, variants.varying(product.variants)) for v in named]
            dispatcher.utter_message(response="utter_variant_out_of_stock", options=join(labels, language))
        return variants.ask(dispatcher, tracker, product, available or None)

    @staticmethod
    def _add(dispatcher: CollectingDispatcher, tracker: Tracker, products: list[Product]) -> list[EventType]:
        """Add the products in stock at the price shown now (checkout says when it changes); name the others."""
        sold_out = [p.id for p in products if not p.in_stock]
        if sold_out:
            dispatcher.utter_message(response="utter_out_of_stock", titles=_names(sold_out, tracker))
        available = [p for p in products if p.in_stock]
        if sold_out and not available:
            return [SlotSet(slots.FOCUS, products[-1].product_id)]
        for p in available:
            services.store().add_to_cart(tracker.sender_id, p.id, source=listing_kind(tracker),
                                         message_id=message_id_of(tracker),
                                         price=None if p.price is None else to_money(p.price))
        cart = _cart(tracker)
        dispatcher.utter_message(response="utter_added_to_cart", titles=_names([p.id for p in available], tracker),
                                 cart_summary=cart_summary(cart, tracker.get_slot(slots.LANGUAGE)),
                                 json_message=_cart_payload(tracker, cart))
        return [SlotSet(slots.FOCUS, available[-1].product_id)] if available else []


class ActionRemoveFromCart(ApologisingAction):
    """Positions count in the cart as listed ("remove the second item"); a button names the product.
    A message handled again removes nothing more: its products are the ones it removed the first time."""

    def name(self) -> str:
        return "action_remove_from_cart"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        message_id = message_id_of(tracker)
        removed = services.store().removed_by(tracker.sender_id, message_id) if message_id else []
        if removed:  # positions now point elsewhere in the shorter cart: never resolve them again
            self._removed(dispatcher, tracker, removed)
            return []
        lines = services.store().cart_lines(tracker.sender_id)
        if not lines:
            dispatcher.utter_message(response="utter_cart_empty")
            return []
        in_cart = [line.product_id for line in lines]
        if entity_values(tracker, "ordinal") or entity_values(tracker, "product_id"):
            ids = referenced(dispatcher, tracker, listed=in_cart)
        else:
            focus = tracker.get_slot(slots.FOCUS)
            ids = [focus] if focus else referenced(dispatcher, tracker, listed=in_cart)
        if ids is None:
            return []
        of_product = {p.product_id: p.id for p in services.catalog().get_products(in_cart)}  # a variant's product
        ids = [pid if pid in in_cart else of_product.get(pid, pid) for pid in ids]
        missing = [pid for pid in ids if pid not in in_cart]
        if missing:
            dispatcher.utter_message(response="utter_not_in_cart", titles=_names(missing, tracker))
            return []
        for pid in ids:
            try:
                services.store().remove_from_cart(tracker.sender_id, pid, message_id=message_id)
            except NotInCart:
                pass                                                  # removed meanwhile: same outcome
        self._removed(dispatcher, tracker, ids)
        return []

    @staticmethod
    def _removed(dispatcher: CollectingDispatcher, tracker: Tracker, ids: list[str]) -> None:
        cart = _cart(tracker)
        dispatcher.utter_message(response="utter_removed_from_cart", titles=_names(ids, tracker),
                                 cart_summary=cart_summary(cart, tracker.get_slot(slots.LANGUAGE)),
                                 json_message=_cart_payload(tracker, cart))


class ActionViewCart(ApologisingAction):
    def name(self) -> str:
        return "action_view_cart"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        cart = _cart(tracker)
        if not cart.lines:
            dispatcher.utter_message(response="utter_cart_empty")
            return []
        rows, language = [], tracker.get_slot(slots.LANGUAGE)
        for i, line in enumerate(cart.lines, start=1):
            price = translate("price unknown", language) if line.unit_price is None else \
                priced(line.quantity, line.unit_price, line.line_total, language)
            rows.append(f"{i}. {short_title(line.product, NAME_CHARS)}: {price}")
        unpriced = translate(" (not counting items without a price)", language) if cart.unpriced else ""
        total = money_text(cart.total, language) + unpriced
        dispatcher.utter_message(response="utter_cart_contents", lines="\n".join(rows), total=total,
                                 json_message=_cart_payload(tracker, cart))
        return []


class ActionCheckout(ApologisingAction):
    def name(self) -> str:
        return "action_checkout"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        try:
            order = services.store().checkout(tracker.sender_id, services.catalog())
        except EmptyCart:
            dispatcher.utter_message(response="utter_cart_empty")
            return []
        except CheckoutRefused as refused:  # PricesChanged too: the cart now holds today's prices as shown
            cart, language = refused.cart or _cart(tracker), tracker.get_slot(slots.LANGUAGE)
            dispatcher.utter_message(response="utter_checkout_refused", problem=prices_changed(cart, language)
                                     if isinstance(refused, PricesChanged) else checkout_problems(cart, language))
            return []
        language = tracker.get_slot(slots.LANGUAGE)
        rows = [f"- {line.title[:NAME_CHARS]}: {priced(line.quantity, line.unit_price, line.line_total, language)}"
                for line in order.lines]
        payload = {"order": {"id": order.order_id, "total": float(order.total),
                             "lines": [{"id": line.product_id, "title": line.title, "quantity": line.quantity,
                                        "unit_price": float(line.unit_price)} for line in order.lines]}}
        dispatcher.utter_message(response="utter_order_placed", order_id=f"#{order.order_id}", lines="\n".join(rows),
                                 total=money_text(order.total, language), json_message=custom_payload(tracker, payload))
        return [SlotSet(slots.ORDER, str(order.order_id)), SlotSet(slots.ORDER_CHANGE, None)]


class _OpinionAction(ApologisingAction):
    """like_product / dislike_product: remember the opinion on the products referred to."""

    liked: bool

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        ids = referenced(dispatcher, tracker)
        if ids is None:
            return []
        store = services.store()
        for pid in ids:
            (store.like if self.liked else store.dislike)(tracker.sender_id, pid)
        dispatcher.utter_message(response="utter_liked" if self.liked else "utter_disliked",
                                 titles=_names(ids, tracker))
        return [SlotSet(slots.FOCUS, ids[-1] if self.liked else None)]


class ActionLikeProduct(_OpinionAction):
    liked = True

    def name(self) -> str:
        return "action_like_product"


class ActionDislikeProduct(_OpinionAction):
    liked = False

    def name(self) -> str:
        return "action_dislike_product"
