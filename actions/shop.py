"""Greeting, help and the out-of-scope reply, in the shop's own words and the conversation's language.

Nothing here names a product domain. The shop's name and what it sells are shop settings
(``Catalog.shop()``); the rest comes from the catalog: its main categories, and an example request
made of one of its largest categories, that category's top brand and a round price over the median
price of that brand there, in the catalog's currency, so the example finds products. It is all read
once per catalog and process.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections import Counter
from dataclasses import dataclass

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import services, slots
from actions.failures import ApologisingAction
from actions.policies import answered_from_policies
from recommender import Catalog, format_price
from recommender.i18n.messages import N_, join, translate

EXAMPLE_CATEGORIES = 3  # the example's category is the one of these largest with the largest brand
# What the assistant does with any catalog: the help lines after the catalog's own example.
COMMANDS = (N_('"show more", "tell me about the second one", "compare the first two", "something like the last '
               'one", "why these?"'),
            N_('"add number 3 to my cart", "what\'s in my cart", "checkout"'),
            N_('"I like the first one", "what do you recommend?"'),
            N_('"where is my order?", "what did I buy last time?", "cancel my order", "buy that again"'),
            N_('"start over", "talk to a human", "what do you know about me?", "delete my data"'))
POLICY_QUESTIONS = N_('"how long does delivery take?", "how do I return something?"')  # a shop with a policy file


@dataclass(frozen=True)
class ShopWords:
    """What the replies say about the shop, in one language; every field is None when neither settings nor
    catalog tell."""

    name: str | None  # the shop's name (setting)
    sells: str | None  # what it sells: the setting, else its main categories ("audio, phones and TV & video")
    category: str | None  # the example's category as a shopper types it ("smartphones")
    brand: str | None  # that category's top brand
    price: str | None  # a round price over that brand's median price there ("€500")
    language: str | None = None  # the language of the replies (None: English)

    @classmethod
    def of(cls, catalog: Catalog, language: str | None = None) -> ShopWords:
        """The shop's words, from its settings and its catalog."""
        shop = catalog.shop()
        sells = shop.sells or join([as_typed(c) for c in catalog.main_categories()], language)
        category, brand, prices = _example(catalog)
        price = _round_up(statistics.median(prices)) if prices else None
        return cls(name=shop.name, sells=sells or None, category=category and as_typed(category), brand=brand,
                   price=None if price is None else format_price(price, shop.currency, language), language=language)

    def _(self, text: str) -> str:
        return translate(text, self.language)

    def request(self, brand: bool = True) -> str | None:
        """An example request ("Samsung smartphones under €500"; without the brand: "smartphones under €500")."""
        named = " ".join(x for x in (self.brand if brand else None, self.category) if x)
        if not named:
            return None
        return self._("{named} under {price}").format(named=named, price=self.price) if self.price else named

    def greeting(self) -> str:
        """Hello, whose assistant this is, and the example request."""
        who = self._("the shopping assistant of {shop}").format(shop=self.name) if self.name else \
            self._("this shop's shopping assistant")
        example = self.request()
        ask = self._('like "{example}"').format(example=example) if example else \
            self._("a kind of product, a brand, a budget, or all three")
        return self._("Hi! I'm {who}. Tell me what you're looking for, {ask}.").format(who=who, ask=ask)

    def help(self, policies: bool = False) -> str:
        """What the shopper can say: a search and its refinements from the catalog, then every command (and
        questions about the shop's policies when it has a policy file)."""
        search = self.request(brand=False)
        refine = [self._('"cheaper"'), *([self._('"only {brand}"').format(brand=self.brand)] if self.brand else []),
                  self._('"no price limit"')]
        refinements = join(refine, self.language, "or")
        first = self._('"{search}", then {refinements}').format(search=search, refinements=refinements) if search \
            else self._("a kind of product, a brand or a budget, then {refinements}").format(refinements=refinements)
        where = self._("the catalog of {shop}").format(shop=self.name) if self.name else self._("this shop's catalog")
        commands = (*COMMANDS[:-1], POLICY_QUESTIONS, COMMANDS[-1]) if policies else COMMANDS
        lines = "\n".join(f"- {line}" for line in (first, *(self._(c) for c in commands)))
        return self._("I search {where} for you and keep track of what you asked. You can say:").format(
            where=where) + "\n" + lines

    def out_of_scope(self) -> str:
        """Not something the assistant does: what the shop sells, and what are they shopping for?"""
        sells = self._("{shop} sells {things}.").format(shop=self.name or self._("This shop"), things=self.sells) \
            if self.sells else self._("I can only help you shop here.")
        return self._("Sorry, I can't help with that. {sells} What are you shopping for?").format(sells=sells)


@functools.lru_cache(maxsize=16)
def words_of(catalog: Catalog, language: str | None = None) -> ShopWords:
    """The catalog's ShopWords in a language, computed on first use."""
    return ShopWords.of(catalog, language)


def as_typed(name: str) -> str:
    """A catalog name as a shopper types it: capitalised words lowered, acronyms kept ("Home Audio" -> "home
    audio", "TVs" stays)."""
    return " ".join(w if any(c.isupper() for c in w[1:]) else w.lower() for w in name.split())


def _example(catalog: Catalog) -> tuple[str | None, str | None, list[float]]:
    """(category, brand, prices of that brand there) with the most products among the largest categories;
    without categories, the largest brand and its prices."""
    best: tuple[int, str | None, str | None, list[float]] = (0, None, None, [])
    for category, _ in catalog.categories()[:EXAMPLE_CATEGORIES] or [(None, 0)]:
        products = catalog.get_products(catalog.filter_ids(category=category))
        brands = Counter(p.brand for p in products if p.brand)
        brand, count = brands.most_common(1)[0] if brands else (None, len(products))
        if count > best[0]:
            prices = [p.price for p in products if p.brand == brand and p.price is not None and p.price > 0]
            best = (count, category, brand, prices)
    return best[1], best[2], best[3]


def _round_up(value: float) -> float:
    """``value`` rounded up to one significant digit: 8.49 -> 9, 10.5 -> 20, 1299 -> 2000."""
    step = 10 ** math.floor(math.log10(value))
    return math.ceil(round(value / step, 9)) * step


class ActionGreet(ApologisingAction):
    """greet: hello, who the assistant is for, and an example request from the catalog."""

    def name(self) -> str:
        return "action_greet"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        dispatcher.utter_message(text=words_of(services.catalog(), tracker.get_slot(slots.LANGUAGE)).greeting())
        return []


class ActionHelp(ApologisingAction):
    """help: what the shopper can say, with the catalog's own example."""

    def name(self) -> str:
        return "action_help"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        language = tracker.get_slot(slots.LANGUAGE)
        words = words_of(services.catalog(), language)
        dispatcher.utter_message(text=words.help(policies=services.policy_file() is not None))
        return []


class ActionOutOfScope(ApologisingAction):
    """out_of_scope: the shop's policies' answer when they have one (``answered_from_policies``: "what time do
    you close"), else not shopping: say what the shop sells and ask what they are shopping for."""

    def name(self) -> str:
        return "action_out_of_scope"

    def act(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        if not answered_from_policies(dispatcher, tracker, unplaced=True):
            dispatcher.utter_message(text=words_of(services.catalog(), tracker.get_slot(slots.LANGUAGE)).out_of_scope())
        return []
