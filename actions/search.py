"""Listing actions: search and refine, show more, recommend. Thin: the ranker does the work.

Constraints live in slots. A new search (``search_products``) takes only its own entities, the facet
values its words name ("black jeans for women": colour and gender, ``ProductSearch.facets_in``) and,
on a catalog whose product types were derived from the titles, the type its words name; a
refinement (``refine_search``) keeps the current words and constraints and changes what the message
names: a filter (a catalog brand named in whole words counts even when the NLU tagged none), more
facets, "cheaper" / "pricier" (under / over the median price of the products shown), or a lifted
constraint ("no price limit", "any colour"). Amounts are in the catalog's currency; an amount the
shopper gives in another currency sets no price and the reply says which currency the shop uses. A
search whose words match nothing the shop carries says so, names what it does carry and clears the
listing. Every listing personalises with the shopper's history (the sender id, when it is a known
shopper) and this shopper's likes, cart and orders, and leaves out what they disliked.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Mapping
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services, slots
from actions.account import LISTING_SLOTS
from actions.cards import clip
from actions.failures import ApologisingAction
from actions.listing import PAGE_SIZE, entity_values, show_listing
from actions.prices import currency_words, other_currency, parse_price
from actions.shop import words_of
from actions.vocabulary import Vocabulary
from recommender import Catalog, Filters, SearchOutcome, parse_query
from recommender.i18n.detect import HAN
from recommender.i18n.messages import SOURCE_LANGUAGE, join, translate
from recommender.ranking.query import phrase_pattern

logger = logging.getLogger(__name__)

CENT = 0.01
ASKED_CHARS = 60  # what the shopper asked for, quoted when the shop does not carry it
# Every response this action sends (utter_relax_<filter> for each filter search can ask to relax).
RESPONSES = ("utter_search_results", "utter_no_results", "utter_search_unavailable", "utter_no_price_to_compare",
             "utter_not_carried", "utter_other_currency", "utter_relax_in_stock",
             *(f"utter_relax_{name}" for name in slots.FILTERS))
_DROP = {"price": (slots.PRICE_MIN, slots.PRICE_MAX), "brand": (slots.BRAND,), "category": (slots.CATEGORY,)}
OUT_OF_STOCK_TOO = "stock"  # the drop_filter value of "including out of stock"
_PRICES = (slots.PRICE_MIN, slots.PRICE_MAX)
# How shoppers ask for a recommendation, left out of what it searches for: "what's the most popular
# mascara" searches "mascara"; a request with nothing else lists personal picks within the filters.
_ASKING = phrase_pattern("""
best rated|best seller|best sellers|choose|favorite|favourite|highest rated|most popular|people|personal|pick|
picks|popular|recomend|recommend|recommendation|recommendations|right now|should|sugest|suggest|suggestion|
suggestions|these days|think|top pick|top picks|top rated|trending|usually|whats|what's|worth buying|
人气|好评|推荐|最受欢迎|最火|热门|热销|畅销
""".replace("\n", "").split("|"))


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
        search, vocabulary = services.product_search(), services.vocabulary()
        code = search.catalog.currency()
        refine = _intent(tracker) == "refine_search"
        text = _message_text(tracker)
        query = (tracker.get_slot(slots.QUERY) or "") if refine else text
        foreign = foreign_currency(tracker, code)
        values = requested_filters(tracker, vocabulary, search.facets_in(text), prices=foreign is None)
        direction = _relative_price(tracker) if refine else None
        if direction and not _move_price(values, direction, _shown_prices(tracker)):
            language = tracker.get_slot(slots.LANGUAGE)
            example = words_of(search.catalog).price                # a round price of the shop's, "€500"
            dispatcher.utter_message(
                response="utter_no_price_to_compare",
                direction=translate("cheaper", language) if direction == "lower" else translate("pricier", language),
                budget_hint=translate(' Try a budget instead, like "under {example}".', language).format(
                    example=example) if example else "")
            return []
        filters = build_filters(values, vocabulary)
        outcome = Personal(tracker).search(query, filters)
        if outcome.no_match:
            say_not_carried(dispatcher, query, search.catalog, search.config.max_query_chars,
                            tracker.get_slot(slots.LANGUAGE))
            events = [SlotSet(name, None) for name in (*LISTING_SLOTS, slots.UNCLEAR)]
        else:
            summary = describe(filters, code, tracker.get_slot(slots.LANGUAGE))
            events = filter_events(filters, values) + [SlotSet(slots.QUERY, query), SlotSet(slots.UNCLEAR, None)]
            if outcome.results:
                events += show_listing(dispatcher, tracker, outcome.results, response="utter_search_results",
                                       kind="search", summary=summary, out_of_stock=outcome.out_of_stock)
            else:
                say_no_results(dispatcher, outcome, filters, summary)
                events += [SlotSet(slots.SHOWN, []), SlotSet(slots.SEEN, [])]
        if foreign:
            say_currency(dispatcher, code)
        return events


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
        if listing.get("kind") == "my_data":  # the likes and dislikes listed whole ("what do you know about me?")
            dispatcher.utter_message(response="utter_no_more_results", summary="")
            return []
        seen = set(tracker.get_slot(slots.SEEN) or [])
        filters = build_filters(slot_filters(tracker), services.vocabulary())
        summary = describe(filters, services.catalog().currency(), tracker.get_slot(slots.LANGUAGE))
        personal = Personal(tracker)
        if listing.get("kind") == "similar" and listing.get("product_id"):
            outcome = services.product_search().similar(listing["product_id"], n=PAGE_SIZE, filters=filters,
                                                        exclude=seen | personal.disliked)
        elif listing.get("kind") == "recommend":                      # still nothing they already have
            outcome = personal.search(tracker.get_slot(slots.QUERY) or "", filters,
                                      exclude=seen | set(personal.session_items))
        else:
            outcome = personal.search(tracker.get_slot(slots.QUERY) or "", filters, exclude=seen)
        if not outcome.results:
            dispatcher.utter_message(response="utter_no_more_results", summary=summary)
            return []
        return show_listing(dispatcher, tracker, outcome.results, response="utter_more_results",
                            kind=listing.get("kind", "search"), more=True, product_id=listing.get("product_id"),
                            summary=summary, out_of_stock=outcome.out_of_stock)


class ActionRecommend(ApologisingAction):
    """recommend: personal picks (history, likes, cart) of what the message names ("the best shampoo for
    curly hair"; how shoppers ask left out: ``_ASKING``) within the constraints named or current; a
    shopper with nothing yet gets the most popular products, and is told so."""

    apology = "utter_search_unavailable"
    what = "recommendation"

    def name(self) -> str:
        return "action_recommend"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        search, vocabulary = services.product_search(), services.vocabulary()
        code = search.catalog.currency()
        foreign = foreign_currency(tracker, code)
        mentioned = _mentioned_filters(tracker, vocabulary, search.facets_in(_message_text(tracker)),
                                       prices=foreign is None)
        values = mentioned if any(v is not None for v in mentioned.values()) else slot_filters(tracker)
        personal = Personal(tracker)
        filters = build_filters(values, vocabulary)
        exclude = set(personal.session_items)                         # recommend what they don't have yet
        query = " ".join(_ASKING.sub(" ", _message_text(tracker)).split())  # "best shampoo for curly hair"
        outcome = personal.search(query, filters, exclude=exclude)
        if outcome.no_match:                                          # "what should I get my mom": no product named
            query, outcome = "", personal.search("", filters, exclude=exclude)
        known = search.knows(personal.shopper_id, personal.session_items)
        summary = describe(filters, code, tracker.get_slot(slots.LANGUAGE))
        events = filter_events(filters, values) + [SlotSet(slots.QUERY, query)]
        if outcome.results:
            events += show_listing(dispatcher, tracker, outcome.results, kind="recommend", summary=summary,
                                   response="utter_recommendations" if known else "utter_popular_for_new",
                                   out_of_stock=outcome.out_of_stock)
        else:
            say_no_results(dispatcher, outcome, filters, summary)
        if foreign:
            say_currency(dispatcher, code)
        return events


def say_no_results(dispatcher: CollectingDispatcher, outcome: SearchOutcome, filters: Filters, summary: str) -> None:
    """Nothing passed the filters: name the filter to relax when dropping one would give results."""
    dispatcher.utter_message(response=f"utter_relax_{outcome.relax}" if outcome.relax else "utter_no_results",
                             summary=summary, facet=" or ".join(name for name, _ in filters.facets))


def say_not_carried(dispatcher: CollectingDispatcher, query: str, catalog: Catalog, max_chars: int,
                    language: str | None = None) -> None:
    """Nothing relevant to the words asked: the shop does not carry it; say what it carries."""
    asked = clip(parse_query(query, max_chars).text or " ".join(query.split()), ASKED_CHARS)
    carried = join(catalog.main_categories(), language)
    dispatcher.utter_message(response="utter_not_carried", asked=asked,
                             carried=translate(" It has {carried}.", language).format(carried=carried) if carried
                             else "")


def say_currency(dispatcher: CollectingDispatcher, code: str) -> None:
    """The shopper gave an amount in another currency: say which one the shop's prices are in."""
    name, symbol = currency_words(code)
    dispatcher.utter_message(response="utter_other_currency", currency_name=name, currency_symbol=symbol)


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


def _move_price(values: dict[str, Any], direction: str, shown: list[float]) -> bool:
    """Set the price range "cheaper" ("lower") or "pricier" asks for: under / over the median price
    shown. False, and nothing set, when nothing shown had a price."""
    if not shown:
        return False
    middle = statistics.median(shown)                                # cheaper than most of what was shown
    if direction == "lower":
        values[slots.PRICE_MAX], values[slots.PRICE_MIN] = round(middle - CENT, 2), None
    else:
        values[slots.PRICE_MIN], values[slots.PRICE_MAX] = round(middle + CENT, 2), None
    return True


def _shown_prices(tracker: Tracker) -> list[float]:
    ids = tracker.get_slot(slots.SHOWN) or []
    products = services.catalog().get_products(ids)
    return [p.price for p in products if p.price is not None]


def foreign_currency(tracker: Tracker, currency: str) -> str | None:
    """The other currency than ``currency`` (the catalog's) the latest message gives its amounts in:
    named in a price entity, else in the message; None when it names the catalog's or none."""
    amounts = [value for name in _PRICES for value in entity_values(tracker, name)]
    if not amounts:
        return None
    return other_currency([*amounts, tracker.latest_message.get("text") or ""], currency)


def _mentioned_filters(tracker: Tracker, vocabulary: Vocabulary, facets: Mapping[str, str], *,
                       prices: bool = True) -> dict[str, Any]:
    """Filter values in the latest message. The first mention of each entity wins; two or more
    different amounts are a range, whatever roles NLU gave them ("between 10 and 30" tagged
    price_max twice is $10 to $30); ``prices=False`` leaves the amounts out (another currency).
    ``facets``: the facet values the message names. Without an entity the catalog knows, the brand
    and a new search's derived product type or category alias are looked up in the words
    (Vocabulary.brand_in, category_in; a new search not by a brand name that is a common word of the
    titles); in a Chinese message the words come first (DIET tags
    "Oreal" in "只要L'Oreal Paris的", a part of a name that may resolve to another brand)."""
    intent, text = _intent(tracker), _message_text(tracker)
    mentions: dict[str, list[Any]] = {}
    for entity in tracker.latest_message.get("entities") or []:
        name = entity.get("entity")
        if name in _PRICES and (not prices or _percentage(text, entity)):
            continue
        if name in slots.ENTITY_FILTERS:
            mentions.setdefault(name, []).append(entity.get("value"))
    found = {name: values[0] for name, values in mentions.items()}
    amounts = sorted({a for name in _PRICES for a in map(parse_price, mentions.get(name, [])) if a is not None})
    if len(amounts) >= 2:
        found[slots.PRICE_MIN], found[slots.PRICE_MAX] = amounts[0], amounts[-1]
    chinese = HAN.search(text) is not None  # DIET splits on spaces: in Chinese its tags are parts of names
    if chinese or (intent in ("refine_search", "search_products") and vocabulary.brand(found.get(slots.BRAND)) is None):
        found[slots.BRAND] = vocabulary.brand_in(text, common=intent != "search_products") or found.get(slots.BRAND)
    if chinese or (intent == "search_products" and vocabulary.category(found.get(slots.CATEGORY)) is None):
        found[slots.CATEGORY] = vocabulary.category_in(text) or found.get(slots.CATEGORY)
    found[slots.FACETS] = dict(facets) or None
    found[slots.IN_STOCK] = False if OUT_OF_STOCK_TOO in entity_values(tracker, "drop_filter") else None
    return {name: found.get(name) for name in slots.CONSTRAINTS}


def _percentage(text: str, entity: Mapping[str, Any]) -> bool:
    """Whether an amount the NLU tagged is a percentage ("100% Pure mascara": a brand, not a price)."""
    end = entity.get("end")
    return isinstance(end, int) and text[end:].lstrip().startswith("%")


def requested_filters(tracker: Tracker, vocabulary: Vocabulary, facets: Mapping[str, str], *,
                      prices: bool = True) -> dict[str, Any]:
    """Filter values asked for: a new search_products takes only what its message names (a fresh
    search); any other intent keeps the slots, lets what the message names override them (facets are
    added by name) and lifts what drop_filter names: price, brand, category, or facets by their name
    ("any colour")."""
    found = _mentioned_filters(tracker, vocabulary, facets, prices=prices)
    if _intent(tracker) == "search_products":
        return found
    values = {name: found[name] if found[name] is not None else tracker.get_slot(name) for name in slots.CONSTRAINTS}
    if found[slots.PRICE_MIN] is not None and found[slots.PRICE_MAX] is None:  # "over $20" replaces "under $10"
        values[slots.PRICE_MAX] = None
    if found[slots.PRICE_MAX] is not None and found[slots.PRICE_MIN] is None:
        values[slots.PRICE_MIN] = None
    kept = {**_facet_dict(tracker.get_slot(slots.FACETS)), **(found[slots.FACETS] or {})}
    for dropped in entity_values(tracker, "drop_filter"):
        for name in _DROP.get(dropped, ()):
            values[name] = None
        if dropped not in _DROP and dropped != OUT_OF_STOCK_TOO:
            for name in vocabulary.facets_named(dropped):
                kept.pop(name, None)
    values[slots.FACETS] = kept or None
    return values


def build_filters(values: dict[str, Any], vocabulary: Vocabulary) -> Filters:
    """Filters the catalog understands. A brand or category it does not know is no filter (the
    words still reach semantic search); reversed price bounds are swapped; products out of stock are
    left out unless the shopper asked for them too (on a catalog that has some)."""
    lo, hi = parse_price(values.get(slots.PRICE_MIN)), parse_price(values.get(slots.PRICE_MAX))
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return Filters(category=vocabulary.category(values.get(slots.CATEGORY)),
                   brand=vocabulary.brand(values.get(slots.BRAND)), price_min=lo, price_max=hi,
                   facets=_facet_dict(values.get(slots.FACETS)),
                   in_stock=values.get(slots.IN_STOCK) is not False and services.catalog().sells_out())


def slot_filters(tracker: Tracker) -> dict[str, Any]:
    """The filter values of the current listing, from its slots."""
    return {name: tracker.get_slot(name) for name in slots.CONSTRAINTS}


def describe(filters: Filters, currency: str, language: str | None = None) -> str:
    """The filters as the end of a sentence, prices in ``currency``, in ``language``: " black in Jeans
    from Levi's under ₹1,500", "（Jeans类、Levi's品牌和₹1,500以下）" ("" when none)."""
    phrases = filters.describe(currency, language)
    if not phrases or language in (None, SOURCE_LANGUAGE):
        return "".join(" " + phrase for phrase in phrases)
    return translate(" ({filters})", language).format(filters=join(phrases, language))


def filter_events(filters: Filters, values: Mapping[str, Any]) -> list[EventType]:
    """The filters actually used, written back to their slots (None clears a stale one), and whether the
    shopper asked for products out of stock too (from ``values``)."""
    return [SlotSet(name, (dict(filters.facets) or None) if name == slots.FACETS else getattr(filters, name))
            for name in slots.FILTERS] + \
        [SlotSet(slots.IN_STOCK, False if values.get(slots.IN_STOCK) is False else None)]


def _facet_dict(value: Any) -> dict[str, str]:
    """A facets slot's {name: value} (anything else is no facet)."""
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(k, str) and isinstance(v, str) and v.strip()}
