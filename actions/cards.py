"""Drawing the actions' generic payload for the shopper's channel, within each channel's limits.

The actions build one generic payload (``{"listing": kind, "products": [card, ...]}``, ``{"cart": ...}``,
``{"product": card}``, ``{"comparison": [card, ...], "verdict": ...}``, ``{"order": ...}``,
``{"forgotten": true}``) and send it through ``custom_payload``, which draws it for the channel the
shopper wrote from (``tracker.get_latest_input_channel()``), as Rasa's output channel sends custom JSON on:

- REST and unknown channels: the generic payload unchanged (the contract integrators rely on);
- the shell (``cmdline``): nothing, ``rasa shell`` would print JSON raw; its text has the list;
- socket.io: ``{"data": payload}`` (``sio.emit(event, **custom)``; the widget receives the payload);
- Messenger: a generic-template carousel (Bot Send API ``message``);
- Telegram: one text message with an inline keyboard (Bot API ``sendMessage``; there is no carousel);
- Slack: Block Kit blocks with a plain-text fallback (``chat.postMessage``).

A card (``listing.card``) has these keys, every one always present:

- ``id``, ``position`` (its number in the listing, or null), ``title``, ``brand``, ``category`` (leaf);
- ``price`` (a number, null when unknown), ``currency`` (the catalog's ISO 4217 code, "INR"),
  ``price_text`` (the price as shown: "₹1,299", or "price unknown"; "₹1,299, out of stock" when it is);
- ``facets``: ``[{"name": "colour", "value": "black"}, ...]`` (normalised lowercase; [] when none);
- ``image_url`` (null when unknown), ``rating`` (a number, null when unknown), ``in_stock`` (false only for
  a product the shop marked out of stock: its card has no "Add to cart" button);
- ``reasons`` (strings), ``buttons`` (``{"title", "payload"}``);
- a cart line adds ``quantity`` and ``line_total``.

On Messenger, Telegram and Slack the response's text is a heading (``channel:`` variants in
domain.yml) and the cards carry the products, with their facets' values in brief; an order has no
card there: its text says it all.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rasa_sdk import Tracker

logger = logging.getLogger(__name__)

SHELL_CHANNEL = "cmdline"
REASON_CHARS = 90  # reasons after the first are shown while they fit in this many characters

# Channel limits (Messenger generic template, Telegram Bot API, Slack Block Kit).
MESSENGER_ELEMENTS, MESSENGER_TEXT, MESSENGER_BUTTONS, MESSENGER_BUTTON_TITLE = 10, 80, 3, 20
MESSENGER_PAYLOAD_CHARS = 1000
TELEGRAM_TEXT, TELEGRAM_CALLBACK_BYTES = 4096, 64
TELEGRAM_CARDS = 20  # entries in one message, well within its 4096 characters and 100 buttons
SLACK_CARDS = 24  # two blocks per card, at most 50 blocks a message
SLACK_BUTTONS, SLACK_BUTTON_TEXT, SLACK_VALUE, SLACK_SECTION = 5, 75, 2000, 3000
TITLE_CHARS = 90  # a product title in a list or on a card: catalog titles run to 200+ characters
FACET_VALUES = 3  # facet values shown in brief beside a product's price and brand


def clip(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(",;:-· ") + "…"


def reasons_text(reasons: Sequence[str], limit: int = REASON_CHARS) -> str:
    """The first reason, then the next ones while the whole stays within ``limit`` characters."""
    shown = list(reasons[:1])
    for reason in reasons[1:]:
        if len("; ".join([*shown, reason])) > limit:
            break
        shown.append(reason)
    return "; ".join(shown)


def facet_values(values: Iterable[str], limit: int = FACET_VALUES) -> str:
    """A product's facet values in brief: "black, women, cotton" (the first ``limit``)."""
    return ", ".join(list(values)[:limit])


def custom_payload(tracker: Tracker, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The custom JSON to send with a response on the shopper's channel (None: text only)."""
    channel = tracker.get_latest_input_channel()
    if channel == SHELL_CHANNEL:
        return None
    draw = DRAWERS.get(channel or "")
    return payload if draw is None else draw(payload)


def button_choices(tracker: Tracker, buttons: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    """Keyword arguments offering ``buttons``: Messenger shows at most 3 buttons, so more become quick replies."""
    if tracker.get_latest_input_channel() == "facebook" and len(buttons) > MESSENGER_BUTTONS:
        return {"quick_replies": [{"content_type": "text", "title": clip(b["title"], MESSENGER_BUTTON_TITLE),
                                   "payload": b["payload"]} for b in buttons]}
    return {"buttons": buttons}


# ---- the cards of a payload ------------------------------------------------------------------------


def _cards(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The product cards a generic payload carries (an order carries none)."""
    if "listing" in payload:
        return payload["products"]
    if "product" in payload:
        return [payload["product"]]
    if "comparison" in payload:
        return payload["comparison"]
    if "cart" in payload:
        return payload["cart"]["lines"]
    return []


def _label(card: dict[str, Any], index: int, count: int) -> str:
    """ "2. " for the second product shown; nothing for a lone product outside a listing."""
    number = card.get("position") or (index if count > 1 else None)
    return f"{number}. " if number else ""


def _facts(card: dict[str, Any]) -> str:
    """ "$4.99 · Maybelline", "₹1,299 · Puma · black, women", or "2 x $4.99 · Maybelline" for a cart line."""
    price = card["price_text"]
    if card.get("quantity"):
        price = f"{card['quantity']} x {price}"
    facets = facet_values(f["value"] for f in card.get("facets") or ())
    return " · ".join(x for x in (price, card.get("brand"), facets) if x)


def _numbered(payload: dict[str, Any], limit: int, channel: str) -> list[tuple[str, dict[str, Any]]]:
    """(label, card) for the payload's first ``limit`` cards (a page holds listing.PAGE_SIZE = 5)."""
    cards = _cards(payload)
    if len(cards) > limit:
        logger.warning("%s shows %d of %d cards", channel, limit, len(cards))
    return [(_label(card, i, len(cards)), card) for i, card in enumerate(cards[:limit], start=1)]


# ---- one drawer per channel -----------------------------------------------------------------------


def socketio(payload: dict[str, Any]) -> dict[str, Any]:
    """socket.io emits ``custom`` as keyword arguments: the payload goes as the event's data."""
    return {"data": payload}


def facebook(payload: dict[str, Any]) -> dict[str, Any] | None:
    """A generic-template carousel: up to 10 cards, 80-character texts, 3 postback buttons each."""
    elements = []
    for label, card in _numbered(payload, MESSENGER_ELEMENTS, "Messenger"):
        element: dict[str, Any] = {
            "title": clip(label + card["title"], MESSENGER_TEXT),
            "subtitle": clip("\n".join(x for x in (_facts(card), reasons_text(card["reasons"])) if x),
                             MESSENGER_TEXT)}
        buttons = [{"type": "postback", "title": clip(b["title"], MESSENGER_BUTTON_TITLE), "payload": b["payload"]}
                   for b in card["buttons"] if len(b["payload"]) <= MESSENGER_PAYLOAD_CHARS]
        if buttons:
            element["buttons"] = buttons[:MESSENGER_BUTTONS]
        elements.append(element)
    if not elements:
        return None
    return {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": elements}}}


def telegram(payload: dict[str, Any]) -> dict[str, Any] | None:
    """One text listing the cards, and an inline keyboard with one row of buttons per card."""
    numbered = _numbered(payload, TELEGRAM_CARDS, "Telegram")
    if not numbered:
        return None
    entries, keyboard = [], []
    for label, card in numbered:
        why = reasons_text(card["reasons"])
        entries.append(f"{label}{clip(card['title'], TITLE_CHARS)}\n{_facts(card)}" + (f"\nWhy: {why}" if why else ""))
        suffix = f" ({label.rstrip('. ')})" if label else ""
        row = [{"text": b["title"] + suffix, "callback_data": b["payload"]} for b in card["buttons"]
               if len(b["payload"].encode()) <= TELEGRAM_CALLBACK_BYTES]
        if len(row) < len(card["buttons"]):
            logger.warning("a button payload of %s is over Telegram's %d bytes: button left out",
                           card["id"], TELEGRAM_CALLBACK_BYTES)
        if row:
            keyboard.append(row)
    message: dict[str, Any] = {"text": clip("\n\n".join(entries), TELEGRAM_TEXT)}
    if keyboard:
        message["reply_markup"] = {"inline_keyboard": keyboard}
    return message


def slack_escape(text: str) -> str:
    """Slack's three control characters (& < >) escaped."""
    return html.escape(text, quote=False)


def slack(payload: dict[str, Any]) -> dict[str, Any] | None:
    """Block Kit: a section per card (title, price, brand, reasons) and an actions block of its buttons."""
    numbered = _numbered(payload, SLACK_CARDS, "Slack")
    if not numbered:
        return None
    blocks, fallback = [], []
    for n, (label, card) in enumerate(numbered, start=1):
        title = clip(card["title"], TITLE_CHARS)
        why = reasons_text(card["reasons"])
        text = f"*{slack_escape(label + title)}*\n{slack_escape(_facts(card))}" + (f"\n_{slack_escape(why)}_" if why else "")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SLACK_SECTION)}})
        buttons = [{"type": "button", "action_id": f"card-{n}-{i}",
                    "text": {"type": "plain_text", "text": clip(b["title"], SLACK_BUTTON_TEXT)}, "value": b["payload"]}
                   for i, b in enumerate(card["buttons"][:SLACK_BUTTONS]) if len(b["payload"]) <= SLACK_VALUE]
        if buttons:
            blocks.append({"type": "actions", "elements": buttons})
        fallback.append(slack_escape(f"{label}{title} - {_facts(card)}"))
    return {"text": "\n".join(fallback), "blocks": blocks}


DRAWERS: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
    "socketio": socketio, "facebook": facebook, "telegram": telegram, "slack": slack}
