"""Firing watches after the catalog changed: each due watch once, through a sender the caller gives.

A watch is due when its product is in stock again (``in_stock``) or costs its target or less
(``price``). ``fire_due`` claims each due watch in the store before sending (so two processes never
both send it) and gives it back when the sender fails, so it fires at the next change or the next
``shopbot watches fire``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from recommender.catalog.products import Catalog, Product
from recommender.errors import ShopbotError
from recommender.store import ShopStore, to_money
from recommender.store.watches import Watch

logger = logging.getLogger(__name__)

# The Rasa channels whose output can reach a shopper who is not writing (Rasa's trigger_intent); a watch
# asked on the web widget is sent when the shopper next connects (ON_RETURN_CHANNELS), one asked on REST never:
# "what am I watching?" says it came true. Messenger is both: it takes a push within 24 hours of the shopper's
# last message, and a watch it refused is sent when they next write.
PUSH_CHANNELS = ("callback", "telegram", "slack", "facebook")
ON_RETURN_CHANNELS = ("socketio", "facebook")


class WatchNotSent(ShopbotError):
    """The message of a due watch could not be delivered (the assistant is down, the channel refused it)."""


@dataclass
class Fired:
    """What ``fire_due`` did: the watches sent, and those due but not sent, with why."""

    sent: list[Watch] = field(default_factory=list)
    failed: list[tuple[Watch, str]] = field(default_factory=list)


def is_due(watch: Watch, product: Product) -> bool:
    """Whether the product now meets the watch's condition."""
    if watch.kind == "in_stock":
        return product.in_stock
    return product.price is not None and product.in_stock and to_money(product.price) <= watch.target


def fire_due(store: ShopStore, catalog: Catalog, send: Callable[[Watch, Product], None],
             channels: Sequence[str] = PUSH_CHANNELS, shopper_id: str | None = None) -> Fired:
    """Send every pending watch asked on one of ``channels`` (of one shopper, or of all) that is due, each
    once; ``send`` raises WatchNotSent when it cannot."""
    fired = Fired()
    pending = store.watches(shopper_id) if shopper_id is not None else store.pending_watches()
    pending = [w for w in pending if w.channel in channels]
    products = {p.id: p for p in catalog.get_products([w.product_id for w in pending])}
    for watch in pending:
        product = products.get(watch.product_id)
        if product is None or not is_due(watch, product) or not store.claim_watch(watch.watch_id):
            continue  # gone from the catalog, not yet, or another process is sending it
        try:
            send(watch, product)
        except WatchNotSent as e:
            store.release_watch(watch.watch_id)
            fired.failed.append((watch, str(e)))
        else:
            fired.sent.append(watch)
    if fired.sent or fired.failed:
        logger.info("watches: %d sent, %d due but not sent", len(fired.sent), len(fired.failed))
    return fired
