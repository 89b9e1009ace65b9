"""action_search_products: search the catalog with the shopper's words and filters, show up to 5."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.prices import parse_price
from actions.vocabulary import Vocabulary
from recommender.search import Filters, ScoredProduct, format_price

logger = logging.getLogger(__name__)

FILTER_SLOTS = ("category", "brand", "price_min", "price_max")
# Every response this action sends (utter_relax_<filter> for each filter search can ask to relax).
RESPONSES = ("utter_search_results", "utter_no_results", "utter_search_unavailable",
             *(f"utter_relax_{name}" for name in FILTER_SLOTS))
SHOWN_SLOT = "shown_product_ids"
MAX_RESULTS = 5
TITLE_CHARS = 90  # catalog titles run to 200+ characters
SHELL_CHANNEL = "cmdline"  # rasa shell prints custom JSON raw, so it gets the text only


class ActionSearchProducts(Action):
    """Search with the latest message's text and filters; list up to 5 products with a reason each."""

    def name(self) -> str:
        return "action_search_products"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict) -> list[EventType]:
        query = tracker.latest_message.get("text") or ""
        try:
            filters = build_filters(requested_filters(tracker), services.vocabulary())
            outcome = services.product_search().search(query, filters, n=MAX_RESULTS)
        except Exception:
            logger.exception("product search failed for %r", query)
            dispatcher.utter_message(response="utter_search_unavailable")
            return []
        summary = describe(filters)
        if outcome.results:
            dispatcher.utter_message(response="utter_search_results", summary=summary,
                                     products=format_results(outcome.results),
                                     json_message=product_payload(outcome.results, tracker))
        else:
            dispatcher.utter_message(response=f"utter_relax_{outcome.relax}" if outcome.relax
                                     else "utter_no_results", summary=summary)
        return filter_events(filters) + [SlotSet(SHOWN_SLOT, [r.product.id for r in outcome.results])]


def requested_filters(tracker: Tracker) -> dict[str, Any]:
    """Filter values asked for: a new search_products takes only its own entities (a fresh search);
    any other intent (later: refine_search) keeps the slots and lets its entities override them.

    The first mention of each entity wins. Two or more different amounts are a range, whatever
    roles NLU gave them ("between 10 and 30" tagged price_max twice is $10 to $30).
    """
    mentions: dict[str, list[Any]] = {}
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") in FILTER_SLOTS:
            mentions.setdefault(entity["entity"], []).append(entity.get("value"))
    found = {name: values[0] for name, values in mentions.items()}
    amounts = sorted({a for name in ("price_min", "price_max")
                      for a in map(parse_price, mentions.get(name, [])) if a is not None})
    if len(amounts) >= 2:
        found["price_min"], found["price_max"] = amounts[0], amounts[-1]
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if intent == "search_products":
        return {name: found.get(name) for name in FILTER_SLOTS}
    return {name: found.get(name, tracker.get_slot(name)) for name in FILTER_SLOTS}


def build_filters(values: dict[str, Any], vocabulary: Vocabulary) -> Filters:
    """Filters the catalog understands. A brand or category it does not know is no filter (the
    words still reach semantic search); reversed price bounds are swapped."""
    lo, hi = parse_price(values.get("price_min")), parse_price(values.get("price_max"))
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return Filters(category=vocabulary.category(values.get("category")),
                   brand=vocabulary.brand(values.get("brand")), price_min=lo, price_max=hi)


def describe(filters: Filters) -> str:
    """The filters as the end of a sentence: " in Mascara from Maybelline under $10" ("" when none)."""
    return "".join(" " + phrase for phrase in filters.describe())


def format_results(results: list[ScoredProduct]) -> str:
    """One numbered line per product: title, brand, price, and the strongest reason."""
    lines = []
    for i, result in enumerate(results, start=1):
        p = result.product
        title = p.display_title
        if len(title) > TITLE_CHARS:
            title = title[: TITLE_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:-") + "…"
        price = format_price(p.price) if p.price is not None else "price unknown"
        details = ", ".join(x for x in (p.brand, price) if x)
        reason = f" ({result.reasons[0]})" if result.reasons else ""
        lines.append(f"{i}. {title} - {details}{reason}")
    return "\n".join(lines)


def product_payload(results: list[ScoredProduct], tracker: Tracker) -> dict[str, Any] | None:
    """Structured cards for channels that draw them (REST and others); the shell gets the text only."""
    if tracker.get_latest_input_channel() == SHELL_CHANNEL:
        return None
    return {"products": [{"id": r.product.id, "title": r.product.display_title,
                          "brand": r.product.brand, "price": r.product.price,
                          "reasons": list(r.reasons)} for r in results]}


def filter_events(filters: Filters) -> list[EventType]:
    """The filters actually used, written back to their slots (None clears a stale one)."""
    return [SlotSet(name, getattr(filters, name)) for name in FILTER_SLOTS]
