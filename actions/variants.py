"""Products sold in several options: the question "Which size: S, M or L?", the shopper's answer, the
options in a product's details.

A question is kept in the slot ``variant_question``: the product, the message it answered and every
variant's options, in stock or not (``offered`` marks the ones with a button). The next message answers
it when it names options ("medium", "the black one", "M") or a position among the buttons ("the second
one"): ``answer`` reads it, here and in ``bot/variant_policy.py``, which sends such a message to
``action_add_to_cart`` whatever its intent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import slots
from actions.cards import button_choices
from actions.listing import NAME_CHARS, button, money, short_title
from actions.references import positions
from recommender import Product
from recommender.catalog.variants import Variant, pick_variants
from recommender.i18n.messages import N_, join, translate

MAX_BUTTONS = 10  # a question offers at most this many variants as buttons (all are listed in the text)


def answer(question: dict[str, Any] | None, previous_message_id: str | None, text: str, ordinals: Sequence[str],
           named_ids: Sequence[str] = ()) -> list[str] | None:
    """The ids of the variants a message names in answer to ``question``; None when it is no answer.

    Args:
        question: the ``variant_question`` slot.
        previous_message_id: the id of the shopper's message before this one: the question must have
            answered it, so that a question left unanswered never catches a later message.
        text: the message; ``ordinals``: its ordinal entities; ``named_ids``: its product_id entities
            (a button: no answer to read).

    Returns:
        The variants named ([] for a position past the buttons), in the order offered.
    """
    if not question or named_ids or question.get("message_id") != previous_message_id:
        return None
    variants = question.get("variants") or []
    offered = [v[0] for v in variants if v[2]]
    if ordinals:
        return [offered[p - 1] for p in positions(ordinals, len(offered)) if 1 <= p <= len(offered)]
    picked = pick_variants(text, [v[1] for v in variants])
    return [variants[i][0] for i in picked] or None


def previous_message_id(events: Iterable[dict[str, Any]]) -> str | None:
    """The id of the shopper's message before the latest one."""
    said = [e.get("message_id") for e in events if e.get("event") == "user"]
    return said[-2] if len(said) > 1 else None


def answered(tracker: Tracker, ordinals: Sequence[str], named_ids: Sequence[str]) -> list[str] | None:
    """``answer`` for the latest message of the conversation."""
    return answer(tracker.get_slot(slots.VARIANT_QUESTION), previous_message_id(tracker.events),
                  tracker.latest_message.get("text") or "", ordinals, named_ids)


def varying(variants: Sequence[Variant]) -> list[str]:
    """The option names whose values differ between the variants (all of them when none does)."""
    names = list(dict.fromkeys(name for v in variants for name, _ in v.options))
    differ = [n for n in names if len({dict(v.options).get(n, "").casefold() for v in variants}) > 1]
    return differ or names


def label(variant: Variant, names: Sequence[str]) -> str:
    """The variant's values of the options ``names``: "M / Black"."""
    return " / ".join(value for name, value in variant.options if name in names) or variant.label


def _choice(variant: Variant, names: Sequence[str], priced: bool, language: str | None, stock: bool = False) -> str:
    """A variant as offered: its label, and its price when the variants' prices differ ("XL / Black (€42.00)");
    ``stock``: marked when it is out of stock."""
    said = [money(variant.price, language=language)] if priced and variant.price is not None else []
    said += [translate("out of stock", language)] if stock and not variant.in_stock else []
    return f"{label(variant, names)} ({', '.join(said)})" if said else label(variant, names)


def ask(dispatcher: CollectingDispatcher, tracker: Tracker, product: Product,
        among: Sequence[Variant] | None = None) -> list[EventType]:
    """Ask which of ``among`` (default: every variant in stock) the shopper wants, a button for each; the
    slot ``variant_question`` keeps what was asked."""
    language = tracker.get_slot(slots.LANGUAGE)
    names, priced = varying(product.variants), product.prices_differ
    offered = [v for v in (among if among is not None else product.variants) if v.in_stock]
    choices = join([_choice(v, names, priced, language) for v in offered], language, style="or")
    title = short_title(product, NAME_CHARS)
    text = translate(N_("Which {option} of {title}: {choices}?") if len(names) == 1 else
                     N_("Which one of {title}: {choices}?"), language).format(
        option=names[0] if names else "", title=title, choices=choices)
    sold_out = [label(v, names) for v in product.variants if not v.in_stock]
    if sold_out:
        text += " " + translate("Out of stock: {options}.", language).format(options=join(sold_out, language))
    buttons = [button(_choice(v, names, priced, language), "add_to_cart", v.id) for v in offered[:MAX_BUTTONS]]
    dispatcher.utter_message(response="utter_which_variant", question=text, **button_choices(tracker, buttons))
    offered_ids = {v.id for v in offered}
    question = {"product_id": product.id, "message_id": tracker.latest_message.get("message_id"),
                "variants": [[v.id, [list(pair) for pair in v.options], v.id in offered_ids]
                             for v in product.variants]}
    return [SlotSet(slots.VARIANT_QUESTION, question), SlotSet(slots.FOCUS, product.id)]


def options_text(product: Product, language: str | None) -> str | None:
    """A product's options for its details: "Options: S, M (out of stock), L, XL (€42.00)."; None without."""
    if not product.variants:
        return None
    names, priced = varying(product.variants), product.prices_differ
    shown = [_choice(v, names, priced, language, stock=True) for v in product.variants]
    return translate("Options: {options}.", language).format(options=", ".join(shown))
