"""A message handled twice (Rasa crashed after the action wrote the cart, before it saved the turn, and
the same message runs again) changes the cart once and gets the same reply (issue 17, item 11).

The actions run as the action server runs them, on trackers shaped as Rasa sends them: the latest
message carries Rasa's ``message_id``. The shop and the shopper store are real files.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.cart import ActionAddToCart, ActionRemoveFromCart
from tests.test_actions import DOMAIN, EMPTY_SLOTS, search, shop  # noqa: F401  (fixtures)


def message(intent: str, message_id: str | None, **entities: str) -> Tracker:
    """The tracker Rasa sends for a shopper's message with this id (None: a tracker without one)."""
    latest = {"text": f"/{intent}", "intent": {"name": intent, "confidence": 1.0}, "message_id": message_id,
              "entities": [{"entity": name, "value": value} for name, value in entities.items()]}
    return Tracker("shopper", dict(EMPTY_SLOTS), latest, [], False, None, {}, "action_listen")


def reply(action: ActionAddToCart | ActionRemoveFromCart, tracker: Tracker) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, tracker, DOMAIN)
    return dispatcher.messages, events


def cart() -> list[tuple[str, int]]:
    return [(line.product_id, line.quantity) for line in services.store().cart_lines("shopper")]


def test_the_same_message_adds_once_and_a_new_message_adds_again(search) -> None:
    add = message("add_to_cart", "4b1f0c6e9a", product_id="m1")
    first = reply(ActionAddToCart(), add)
    assert cart() == [("m1", 1)] and first[0][0]["response"] == "utter_added_to_cart"
    assert reply(ActionAddToCart(), add) == first                      # the replay: same reply, same events
    assert cart() == [("m1", 1)]
    reply(ActionAddToCart(), message("add_to_cart", "9d27e3a511", product_id="m1"))
    assert cart() == [("m1", 2)]


def test_a_tracker_without_a_message_id_adds_every_time(search) -> None:
    for _ in range(2):
        reply(ActionAddToCart(), message("add_to_cart", None, product_id="m1"))
    assert cart() == [("m1", 2)]


def test_the_same_removal_removes_once_and_never_the_next_product(search) -> None:
    for pid in ("m1", "m2", "o1"):
        services.store().add_to_cart("shopper", pid)
    remove_first = message("remove_from_cart", "c0ffee0001", ordinal="first")
    first = reply(ActionRemoveFromCart(), remove_first)
    assert cart() == [("m2", 1), ("o1", 1)] and first[0][0]["response"] == "utter_removed_from_cart"
    # handled again, "the first item" would now be m2: the replay removes nothing and says the same
    assert reply(ActionRemoveFromCart(), remove_first) == first
    assert cart() == [("m2", 1), ("o1", 1)]
    reply(ActionRemoveFromCart(), message("remove_from_cart", "c0ffee0002", ordinal="first"))
    assert cart() == [("o1", 1)]
    last = message("remove_from_cart", "c0ffee0003", product_id="o1")
    emptied = reply(ActionRemoveFromCart(), last)
    assert cart() == [] and reply(ActionRemoveFromCart(), last) == emptied   # not "your cart is empty"
