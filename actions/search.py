"""Listing actions: search and refine, show more, recommend. Thin: the ranker does the work.

Constraints live in slots. A new search (``search_products``) takes only its own entities and its
own words; a refinement (``refine_search``) keeps the current words and constraints and changes
what the message names: a filter, "cheaper" / "pricier" (under / over the median price of the
products shown), or a lifted constraint ("no price limit"). Every listing personalises with the
shopper's history (the sender id, when it is a known shopper) and this shopper's likes, cart and
orders, and leaves out what they disliked.
"""

from __future__ import annotations

import logging
import statistics
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services, slots
from actions.failures import ApologisingAction
from actions.listing import PAGE_SIZE, entity_values, show_listing
from actions.prices import parse_price
from actions.vocabulary import Vocabulary
from recommender import Filters, SearchOutcome

logger = logging.getLogger(__name__)

CENT = 0.01
# Every response this action sends (utter_relax_<filter> for each filter search can ask to relax).
RESPONSES = ("utter_search_results", "utter_no_results", "utter_search_unavailable", "utter_no_price_to_compare",
             *(f"utter_relax_{name}" for name in slots.FILTERS))
_DROP = {"price": (slots.PRICE_MIN, slots.PRICE_MAX), "brand": (slots.BRAND,), "category": (slots.CATEGORY,)}


class Personal:
    """What personalises a listing: the shopper id, their liked / carted / ordered products, dislikes."""

    def __init__(self, tracker: Tracker) -> None:
        self.shopper_id = tracker.sender_id
        try:
            store = services.store()
            self.session_items = store.session_items(self.shopper_id)
            self.disliked = set(store.feedback(self.shopper_id).disliked)
        except Exception:
            logger.exception("could not read the shopper store; the listing is not personal")
            self.session_items, self.disliked = [], set()

    def search(self, query: str, filters: Filters, exclude: set[str] = frozenset()) -> SearchOutcome:
        return services.product_search().search(query, filters, n=PAGE_SIZE, exclude=exclude | self.disliked,
                                                shopper_id=self.shopper_id, session_items=self.session_items)


class ActionSearchProducts(ApologisingAction):
    """search_products and refine_search: list up to 5 products with a reason each."""

    apology = "utter_search_unavailable"
    what = "product search"

    def name(self) -> str:
        return "action_search_products"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        refine = _intent(tracker) == "refine_search"
        query = (tracker.get_slot(slots.QUERY) or "") if refine else _message_text(tracker)
        values = requested_filters(tracker)
        direction = _relative_price(tracker) if refine else None
        if direction:
            shown = _shown_prices(tracker)
            if not shown:
                dispatcher.utter_message(response="utter_no_price_to_compare", direction=
                                         "cheaper" if direction == "lower" else "pricier")
                return []
            middle = statistics.median(shown)                        # cheaper than most of what was shown
            if direction == "lower":
                values[slots.PRICE_MAX], values[slots.PRICE_MIN] = round(middle - CENT, 2), None
            else:
                values[slots.PRICE_MIN], values[slots.PRICE_MAX] = round(middle + CENT, 2), None
        filters = build_filters(values, services.vocabulary())
        outcome = Personal(tracker).search(query, filters)
        summary = describe(filters)
        events = filter_events(filters) + [SlotSet(slots.QUERY, query), SlotSet(slots.UNCLEAR, None)]
        if outcome.results:
            return events + show_listing(dispatcher, tracker, outcome.results, response="utter_search_results",
                                         kind="search", summary=summary)
        dispatcher.utter_message(response=f"utter_relax_{outcome.relax}" if outcome.relax else "utter_no_results",
                                 summary=summary)
        return events + [SlotSet(slots.SHOWN, []), SlotSet(slots.SEEN, [])]


class ActionShowMore(ApologisingAction):
    """show_more: the next page of the listing last shown, never repeating a product."""

    apology = "utter_search_unavailable"
    what = "show more"

    def name(self) -> str:
        return "action_show_more"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        listing = tracker.get_slot(slots.LISTING) or {}
        if not listing:
            dispatcher.utter_message(response="utter_nothing_listed")
            return []
        seen = set(tracker.get_slot(slots.SEEN) or [])
        filters = build_filters({name: tracker.get_slot(name) for name in slots.FILTERS}, services.vocabulary())
        personal = Personal(tracker)
        if listing.get("kind") == "similar" and listing.get("product_id"):
            outcome = services.product_search().similar(listing["product_id"], n=PAGE_SIZE, filters=filters,
                                                        exclude=seen | personal.disliked)
        elif listing.get("kind") == "recommend":                      # still nothing they already have
            outcome = personal.search("", filters, exclude=seen | set(personal.session_items))
        else:
            outcome = personal.search(tracker.get_slot(slots.QUERY) or "", filters, exclude=seen)
        if not outcome.results:
            dispatcher.utter_message(response="utter_no_more_results", summary=describe(filters))
            return []
        return show_listing(dispatcher, tracker, outcome.results, response="utter_more_results",
                            kind=listing.get("kind", "search"), more=True, product_id=listing.get("product_id"),
                            summary=describe(filters))


class ActionRecommend(ApologisingAction):
    """recommend: personal picks (history, likes, cart) within the constraints named or current;
    a shopper with nothing yet gets the most popular products, and is told so."""

    apology = "utter_search_unavailable"
    what = "recommendation"

    def name(self) -> str:
        return "action_recommend"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        mentioned = _mentioned_filters(tracker)
        values = mentioned if any(v is not None for v in mentioned.values()) else \
            {name: tracker.get_slot(name) for name in slots.FILTERS}
        personal = Personal(tracker)
        filters = build_filters(values, services.vocabulary())
        exclude = set(personal.session_items)                         # recommend what they don't have yet
        outcome = personal.search("", filters, exclude=exclude)
        known = services.product_search().knows(personal.shopper_id, personal.session_items)
        summary = describe(filters)
        events = filter_events(filters) + [SlotSet(slots.QUERY, "")]
        if not outcome.results:
            dispatcher.utter_message(response=f"utter_relax_{outcome.relax}" if outcome.relax else "utter_no_results",
                                     summary=summary)
            return events
        return events + show_listing(dispatcher, tracker, outcome.results, kind="recommend", summary=summary,
                                     response="utter_recommendations" if known else "utter_popular_for_new")


def _intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _message_text(tracker: Tracker) -> str:
    """The words to search for: the message, or the one a clarifying question was about (a button
    payload such as "/search_products" carries no words)."""
    text = tracker.latest_message.get("text") or ""
    return (tracker.get_slot(slots.UNCLEAR) or "") if text.startswith("/") else text


def _relative_price(tracker: Tracker) -> str | None:
    values = entity_values(tracker, "relative_price")
    return values[0] if values and values[0] in ("lower", "higher") else None


def _shown_prices(tracker: Tracker) -> list[float]:
    ids = tracker.get_slot(slots.SHOWN) or []
    products = services.catalog().get_products(ids)
    return [p.price for p in products if p.price is not None]


def _mentioned_filters(tracker: Tracker) -> dict[str, Any]:
    """Filter values in the latest message. The first mention of each entity wins; two or more
    different amounts are a range, whatever roles NLU gave them ("between 10 and 30" tagged
    price_max twice is $10 to $30)."""
    mentions: dict[str, list[Any]] = {}
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") in slots.FILTERS:
            mentions.setdefault(entity["entity"], []).append(entity.get("value"))
    found = {name: values[0] for name, values in mentions.items()}
    amounts = sorted({a for name in (slots.PRICE_MIN, slots.PRICE_MAX)
                      for a in map(parse_price, mentions.get(name, [])) if a is not None})
    if len(amounts) >= 2:
        found[slots.PRICE_MIN], found[slots.PRICE_MAX] = amounts[0], amounts[-1]
    return {name: found.get(name) for name in slots.FILTERS}


def requested_filters(tracker: Tracker) -> dict[str, Any]:
    """Filter values asked for: a new search_products takes only its own entities (a fresh search);
    any other intent keeps the slots, lets its entities override them and lifts what drop_filter names."""
    found = _mentioned_filters(tracker)
    if _intent(tracker) == "search_products":
        return found
    values = {name: found[name] if found[name] is not None else tracker.get_slot(name) for name in slots.FILTERS}
    if found[slots.PRICE_MIN] is not None and found[slots.PRICE_MAX] is None:  # "over $20" replaces "under $10"
        values[slots.PRICE_MAX] = None
    if found[slots.PRICE_MAX] is not None and found[slots.PRICE_MIN] is None:
        values[slots.PRICE_MIN] = None
    for dropped in entity_values(tracker, "drop_filter"):
        for name in _DROP.get(dropped, ()):
            values[name] = None
    return values


def build_filters(values: dict[str, Any], vocabulary: Vocabulary) -> Filters:
    """Filters the catalog understands. A brand or category it does not know is no filter (the
    words still reach semantic search); reversed price bounds are swapped."""
    lo, hi = parse_price(values.get(slots.PRICE_MIN)), parse_price(values.get(slots.PRICE_MAX))
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return Filters(category=vocabulary.category(values.get(slots.CATEGORY)),
                   brand=vocabulary.brand(values.get(slots.BRAND)), price_min=lo, price_max=hi)


def describe(filters: Filters) -> str:
    """The filters as the end of a sentence: " in Mascara from Maybelline under $10" ("" when none)."""
    return "".join(" " + phrase for phrase in filters.describe())


def filter_events(filters: Filters) -> list[EventType]:
    """The filters actually used, written back to their slots (None clears a stale one)."""
    return [SlotSet(name, getattr(filters, name)) for name in slots.FILTERS]
