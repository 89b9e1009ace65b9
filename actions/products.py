"""Actions about listed products: details, similar products, comparison, and why they were picked."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services, slots
from actions.cards import custom_payload, facet_values
from actions.failures import ApologisingAction
from actions.listing import (NAME_CHARS, PAGE_SIZE, card, listing_kind, log_events, money, price_text, referenced,
                             short_title, show_listing)
from actions.search import Personal, build_filters
from actions.variants import options_text
from recommender import Product
from recommender.i18n.messages import N_, translate

NO_REASON = N_("no single strong reason: it ranked on small similarity and popularity scores")


def _products(ids: list[str]) -> list[Product]:
    return services.catalog().get_products(ids)


def _shoppers(product: Product) -> int:
    return services.product_search().popularity().get(product.id, 0)


class ActionProductDetails(ApologisingAction):
    """product_details: everything the catalog knows about one product, and why it was shown."""

    def name(self) -> str:
        return "action_product_details"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        ids = referenced(dispatcher, tracker)
        if ids is None:
            return []
        products = _products(ids[:1])
        if not products:
            dispatcher.utter_message(response="utter_nothing_listed")
            return []
        p = products[0]
        code, language = services.catalog().currency(), tracker.get_slot(slots.LANGUAGE)
        reasons = (tracker.get_slot(slots.REASONS) or {}).get(p.id, [])
        path = " > ".join(p.category_path) or p.category  # the path ends with the category itself
        lines = [p.display_title, " · ".join(x for x in (p.brand, path, price_text(p, code, language)) if x)]
        if p.facets:
            lines.append(" · ".join(f"{name.capitalize()}: {value}" for name, value in p.facets))
        if options := options_text(p, language):
            lines.append(options)
        shoppers = _shoppers(p)
        if shoppers:
            lines.append((translate("Bought by {count} shopper in our data.", language) if shoppers == 1 else
                          translate("Bought by {count} shoppers in our data.", language)).format(count=shoppers))
        if reasons:
            lines.append(translate("Why I showed it: {reasons}.", language).format(reasons="; ".join(reasons)))
        dispatcher.utter_message(response="utter_product_details", details="\n".join(lines),
                                 json_message=custom_payload(tracker, {"product": card(p, reasons, code=code,
                                                                                       language=language)}))
        log_events(tracker, "clicked", [p.id], listing_kind(tracker))
        return [SlotSet(slots.FOCUS, p.id)]


class ActionSimilarProducts(ApologisingAction):
    """similar_products: products described and bought like the one referred to."""

    apology = "utter_search_unavailable"
    what = "similar products"

    def name(self) -> str:
        return "action_similar_products"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        ids = referenced(dispatcher, tracker)
        if ids is None:
            return []
        source_kind = listing_kind(tracker)
        products = _products(ids[:1])
        stock = build_filters({slots.IN_STOCK: tracker.get_slot(slots.IN_STOCK)}, services.vocabulary())
        outcome = services.product_search().similar(ids[0], n=PAGE_SIZE, filters=stock,
                                                    exclude=Personal(tracker).disliked)
        if not outcome.results or not products:
            dispatcher.utter_message(response="utter_no_more_results", summary="")
            return []
        log_events(tracker, "clicked", ids[:1], source_kind)
        return show_listing(dispatcher, tracker, outcome.results, response="utter_similar_results", kind="similar",
                            product_id=ids[0], title=short_title(products[0], NAME_CHARS), summary="",
                            out_of_stock=outcome.out_of_stock)


class ActionCompareProducts(ApologisingAction):
    """compare_products: price, brand, category and reasons side by side, and a verdict from those facts."""

    def name(self) -> str:
        return "action_compare_products"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        shown = list(tracker.get_slot(slots.SHOWN) or [])
        if not tracker.latest_message.get("entities") and len(shown) >= 2:
            ids = shown[:2]                                           # "compare them": the first two
        else:
            ids = referenced(dispatcher, tracker)
            if ids is None:
                return []
        products = _products(ids)
        if len(products) < 2:
            dispatcher.utter_message(response="utter_compare_needs_two")
            return []
        code, language = services.catalog().currency(), tracker.get_slot(slots.LANGUAGE)
        reasons = tracker.get_slot(slots.REASONS) or {}
        position = {pid: shown.index(pid) + 1 for pid in ids if pid in shown}
        rows = []
        for p in products:
            label = f"{position[p.id]}. " if p.id in position else "- "
            facts = [price_text(p, code, language), p.brand or translate("no brand", language),
                     p.category or translate("no category", language),
                     *([facet_values(v for _, v in p.facets)] if p.facets else []),
                     translate("bought by {count} shoppers", language).format(count=_shoppers(p))]
            why = reasons.get(p.id)
            rows.append(label + short_title(p, NAME_CHARS) + ": " + ", ".join(facts)
                        + (translate("; picked because {reason}", language).format(reason=why[0]) if why else ""))
        verdict = compare_verdict(products, [_shoppers(p) for p in products], code, language)
        payload = {"comparison": [card(p, reasons.get(p.id, []), position.get(p.id), code, language)
                                  for p in products],
                   "verdict": verdict}
        dispatcher.utter_message(response="utter_comparison", comparison="\n".join(rows), verdict=verdict,
                                 json_message=custom_payload(tracker, payload))
        log_events(tracker, "clicked", [p.id for p in products], listing_kind(tracker))
        return []


def compare_verdict(products: list[Product], shoppers: list[int], code: str, language: str | None = None) -> str:
    """One line from the facts only, in ``language``: which is cheapest and by how much (currency
    ``code``), which most shoppers bought."""
    name = {p.id: short_title(p, 40) for p in products}
    parts = []
    priced = sorted((p for p in products if p.price is not None), key=lambda p: p.price)
    if len(priced) >= 2 and priced[0].price < priced[1].price:
        saving = money(round(priced[1].price - priced[0].price, 2), code, language)
        parts.append(translate("{name} is the cheapest, {saving} less than the next", language).format(
            name=name[priced[0].id], saving=saving))
    elif len(priced) >= 2:
        parts.append(translate("the cheapest two cost the same", language))
    ranked = sorted(zip(shoppers, products), key=lambda t: -t[0])
    if ranked[0][0] > ranked[1][0]:
        parts.append(translate("{name} is the most bought ({most} shoppers against {next})", language).format(
            name=name[ranked[0][1].id], most=ranked[0][0], next=ranked[1][0]))
    brands = {p.brand for p in products}
    if len(brands) == 1 and products[0].brand:
        parts.append(translate("all are {brand}", language).format(brand=products[0].brand))
    if not parts:
        return translate("Verdict: no clear difference in price or popularity; pick the one whose description "
                         "suits you.", language)
    return translate("Verdict: {parts}.", language).format(parts=translate("; ", language).join(parts))


class ActionExplain(ApologisingAction):
    """explain: the ranker's own reasons for each product shown (or the ones referred to)."""

    def name(self) -> str:
        return "action_explain"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        shown = list(tracker.get_slot(slots.SHOWN) or [])
        ids = referenced(dispatcher, tracker, default_all=True) if tracker.latest_message.get("entities") else shown
        if ids is None:
            return []
        if not ids:
            dispatcher.utter_message(response="utter_nothing_listed")
            return []
        reasons = tracker.get_slot(slots.REASONS) or {}
        language = tracker.get_slot(slots.LANGUAGE)
        lines = []
        for p in _products(ids):
            label = f"{shown.index(p.id) + 1}. " if p.id in shown else "- "
            why = reasons.get(p.id) or [translate(NO_REASON, language)]
            lines.append(f"{label}{short_title(p, NAME_CHARS)}: {'; '.join(why)}")
        dispatcher.utter_message(response="utter_explanations", explanations="\n".join(lines))
        return []
