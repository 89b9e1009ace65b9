"""Showing product lists and resolving references to them: shared by every action that lists products.

A listing is sent as a readable numbered text plus a payload of product cards with buttons, drawn
for the shopper's channel by ``cards.custom_payload`` (the shell gets the text only). Showing a
listing logs one ``shown`` event per product (no message text) and records in slots what was shown,
so "the second one", "show more" and "why?" refer to it. Every price is shown in the catalog's
currency (``money``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services, slots
from actions.cards import TITLE_CHARS, clip, custom_payload, facet_values, reasons_text
from actions.references import resolve
from recommender import Product, ScoredProduct, format_price
from recommender.catalog.variants import option_label
from recommender.i18n.messages import N_, join, translate
from recommender.i18n.text import said

logger = logging.getLogger(__name__)

PAGE_SIZE = 5
NAME_CHARS = 60  # a product named inside a sentence (cart, comparison, reasons)


def short_title(product: Product, limit: int = TITLE_CHARS) -> str:
    """The product's title cut at a word boundary for chat; a variant's options kept whole ("Tee (M / Black)")."""
    if not product.options:
        return clip(product.display_title, limit)
    options = f" ({option_label(product.options)})"
    return clip(replace(product, options=()).display_title, max(limit - len(options), limit // 2)) + options


def currency() -> str:
    """The catalog's currency (ISO 4217 code): every price shown is in it."""
    return services.catalog().currency()


def money(value: float, code: str | None = None, language: str | None = None) -> str:
    """An amount as shown to shoppers of ``language``, in ``code`` (default: the catalog's currency): "$20",
    "₹1,299"; "US$20.00" in Chinese."""
    return format_price(value, code or currency(), language)


def price_text(product: Product, code: str, language: str | None = None) -> str:
    """The product's price in currency ``code``, or "price unknown" (in ``language``); "from $12" for a
    product whose options differ in price; marked when it is out of stock ("$12, out of stock")."""
    text = format_price(product.price, code, language) if product.price is not None else \
        translate("price unknown", language)
    if product.prices_differ and product.price is not None:  # the lowest of its options' prices
        text = translate("from {price}", language).format(price=text)
    return text if product.in_stock else translate("{price}, out of stock", language).format(price=text)


def reasons_of(result: ScoredProduct, language: str | None) -> list[str]:
    """The result's reasons in ``language``."""
    return [said(reason, language) for reason in result.reasons]


def format_results(results: Sequence[ScoredProduct], code: str, start: int = 1, language: str | None = None) -> str:
    """One numbered line per product: title, brand, price (currency ``code``), facet values in brief,
    and its reasons (the strongest, then the next ones while they are short)."""
    lines = []
    for i, result in enumerate(results, start=start):
        p = result.product
        details = ", ".join(x for x in (p.brand, price_text(p, code, language), facet_values(v for _, v in p.facets))
                            if x)
        reason = f" ({reasons_text(reasons_of(result, language))})" if result.reasons else ""
        lines.append(f"{i}. {short_title(p)} - {details}{reason}")
    return "\n".join(lines)


def button(title: str, intent: str, product_id: str) -> dict[str, str]:
    """A button whose payload names the product itself, so it works whatever was listed since."""
    return {"title": title, "payload": f"/{intent}{json.dumps({'product_id': product_id})}"}


# a card's buttons: (title, intent of its payload)
CARD_BUTTONS = ((N_("Add to cart"), "add_to_cart"), (N_("Similar"), "similar_products"),
                (N_("Details"), "product_details"))


def card(product: Product, reasons: Sequence[str], position: int | None = None,
         code: str | None = None, language: str | None = None) -> dict[str, Any]:
    """The structured product card every payload carries (its keys: the docstring of actions/cards.py);
    prices in currency ``code`` (default: the catalog's), labels in ``language`` (None: English)."""
    code = code or currency()
    return {"id": product.id, "position": position, "title": product.display_title, "brand": product.brand,
            "category": product.category, "price": product.price, "currency": code,
            "price_text": price_text(product, code, language),
            "facets": [{"name": name, "value": value} for name, value in product.facets],
            "image_url": product.image_url, "rating": product.rating, "in_stock": product.in_stock,
            "reasons": list(reasons),
            "buttons": [button(translate(title, language), intent, product.id) for title, intent in CARD_BUTTONS
                        if product.in_stock or intent != "add_to_cart"]}  # nothing out of stock goes to a cart


def log_events(tracker: Tracker, kind: str, product_ids: Sequence[str], source: str) -> None:
    """Record online-metrics events; a failing store never costs the shopper their reply."""
    try:
        services.store().log_events(tracker.sender_id, kind, list(product_ids), source)
    except Exception:
        logger.exception("could not log %s events", kind)


def listing_kind(tracker: Tracker) -> str:
    """What the products last shown came from (search, recommend, similar), for event sources."""
    return (tracker.get_slot(slots.LISTING) or {}).get("kind") or "search"


def show_listing(dispatcher: CollectingDispatcher, tracker: Tracker, results: Sequence[ScoredProduct], *,
                 response: str, kind: str, more: bool = False, product_id: str | None = None, out_of_stock: int = 0,
                 **fields: Any) -> list[EventType]:
    """Send a page of results and remember it; ``more`` continues the listing last shown; ``out_of_stock``:
    how many products out of stock the page left out (said after it)."""
    seen = list(tracker.get_slot(slots.SEEN) or []) if more else []
    reasons = dict(tracker.get_slot(slots.REASONS) or {}) if more else {}
    start = len(seen) + 1
    ids = [r.product.id for r in results]
    code, language = currency(), tracker.get_slot(slots.LANGUAGE)
    said = {r.product.id: reasons_of(r, language) for r in results}
    payload = {"listing": kind,
               "products": [card(r.product, said[r.product.id], start + i, code, language)
                            for i, r in enumerate(results)]}
    dispatcher.utter_message(response=response, products=format_results(results, code, start, language),
                             json_message=custom_payload(tracker, payload), **fields)
    if out_of_stock:
        dispatcher.utter_message(response="utter_out_of_stock_left_out", count=counted(out_of_stock, language))
    log_events(tracker, "shown", ids, kind)
    reasons.update(said)
    return [SlotSet(slots.SHOWN, ids), SlotSet(slots.SEEN, seen + ids), SlotSet(slots.REASONS, reasons),
            SlotSet(slots.LISTING, {"kind": kind, "product_id": product_id}),
            SlotSet(slots.FOCUS, ids[0] if len(ids) == 1 else None)]


def entity_values(tracker: Tracker, name: str) -> list[str]:
    """The values of one entity in the latest message, in order."""
    return [str(e.get("value")) for e in tracker.latest_message.get("entities") or []
            if e.get("entity") == name and e.get("value") is not None]


PRODUCT_COUNT = (N_("{n} product"), N_("{n} products"))  # (one, many): "I only showed 2 products"


def counted(n: int, language: str | None) -> str:
    """ "1 product", "2 products" in ``language``."""
    return translate(PRODUCT_COUNT[n != 1], language).format(n=n)


def say_not_listed(dispatcher: CollectingDispatcher, listed: int, missing: Sequence[int],
                   language: str | None) -> None:
    """Tell the shopper, in their language, that the positions ``missing`` are not among the ``listed`` shown."""
    dispatcher.utter_message(response="utter_position_not_shown",
                             count=counted(listed, language),
                             positions=join([str(p) for p in missing], language, style="or"))


def referenced(dispatcher: CollectingDispatcher, tracker: Tracker, listed: Sequence[str] | None = None,
               *, default_all: bool = False) -> list[str] | None:
    """The product ids the latest message refers to, or None after telling the shopper what is wrong.

    A button names the product itself; otherwise positions ("the second one") are looked up in
    ``listed`` (default: the page last shown). Without a position: the product in focus, the only
    product listed, or (``default_all``) every product listed; else the shopper is asked which.
    """
    listed = list(tracker.get_slot(slots.SHOWN) or []) if listed is None else list(listed)
    named = entity_values(tracker, "product_id")
    if named:  # a button's id, or anything a client typed as one: only products the shop has (or listed)
        known = {p.id for p in services.catalog().get_products(named)} | set(listed)
        ids = [pid for pid in named if pid in known]
        if not ids:
            dispatcher.utter_message(response="utter_unknown_product")
        return ids or None
    mentions = entity_values(tracker, "ordinal")
    if mentions:
        if not listed:
            dispatcher.utter_message(response="utter_nothing_listed")
            return None
        found = resolve(mentions, listed)
        if found.missing:
            say_not_listed(dispatcher, len(listed), found.missing, tracker.get_slot(slots.LANGUAGE))
            return None
        return found.product_ids
    focus = tracker.get_slot(slots.FOCUS)
    if focus:
        return [focus]
    if len(listed) == 1 or (default_all and listed):
        return listed
    if not listed:
        dispatcher.utter_message(response="utter_nothing_listed")
        return None
    dispatcher.utter_message(response="utter_which_product")
    return None
