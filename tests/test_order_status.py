"""recommender.store after checkout (issue 21, item 3): an order's status history, the shop's moves, the
shopper's cancellation and returns, the version 2 -> 3 upgrade and forget; real SQLite files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from recommender import ORDER_STATUSES, InvalidOrderChange, InvalidStoreValue, OrderNotFound
from recommender.catalog.products import Catalog
from recommender.store import MOVES, SCHEMA_VERSION, Order, ShopStore, StatusChange
from tests.stores import all_rows, sql

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
WINDOW = 30  # days to return a delivered order's lines


class Clock:
    """The store's clock, set by the test: every call returns ``now``."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "shop.db"


@pytest.fixture
def store(store_target: Path | str, clock: Clock) -> Iterator[ShopStore]:
    with ShopStore.open(store_target, clock=clock) as opened:
        yield opened


def place(store: ShopStore, catalog: Catalog, shopper: str = "s1", products: tuple[str, ...] = ("p2", "p1")) -> Order:
    """Check out a cart of these products (p2 x 3, then one of each other)."""
    for product in products:
        store.add_to_cart(shopper, product, 3 if product == "p2" else 1)
    return store.checkout(shopper, catalog)


def statuses(order: Order) -> list[str]:
    return [change.status for change in order.history]


def move(store: ShopStore, order: Order, *path: str) -> Order:
    for status in path:
        order = store.set_order_status(order.order_id, status)
    return order


# -- reading orders ---------------------------------------------------------------------------


def test_checkout_writes_the_placed_row_in_its_history(store: ShopStore, tiny_catalog: Catalog,
                                                       store_target: Path | str) -> None:
    order = place(store, tiny_catalog)
    assert order.history == [StatusChange("placed", T0, None)]
    assert (order.status, order.returned, order.delivered_at) == ("placed", {}, None)
    assert all_rows(store_target)["order_status"] == [(1, order.order_id, "placed", "2024-05-01T09:00:00.000000+00:00",
                                                     None)]
    assert store.orders("s1") == [order] and store.order("s1", order.order_id) == order


def test_another_shoppers_order_is_none_like_a_missing_one(store: ShopStore, tiny_catalog: Catalog) -> None:
    order = place(store, tiny_catalog)
    assert store.order("s2", order.order_id) is None
    assert store.order("s1", order.order_id + 1) is None
    assert store.order("s1", 0) is None and store.order("s1", 2**70) is None
    with pytest.raises(InvalidStoreValue, match="Order id must be a whole number, got '1'"):
        store.order("s1", "1")  # type: ignore[arg-type]


def test_recent_orders_are_newest_first_and_filter_by_status(store: ShopStore, tiny_catalog: Catalog) -> None:
    first, second, third = (place(store, tiny_catalog, shopper) for shopper in ("s1", "s2", "s1"))
    store.set_order_status(second.order_id, "shipped")
    assert [o.order_id for o in store.recent_orders()] == [third.order_id, second.order_id, first.order_id]
    assert [o.order_id for o in store.recent_orders(2)] == [third.order_id, second.order_id]
    assert [o.order_id for o in store.recent_orders(status="placed")] == [third.order_id, first.order_id]
    assert [o.status for o in store.recent_orders(status="shipped")] == ["shipped"]
    assert store.recent_orders(status="returned") == []
    with pytest.raises(InvalidStoreValue, match="Order status 'lost' is not one of placed, shipped, delivered"):
        store.recent_orders(status="lost")


# -- the shop's moves -------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    ["shipped"], ["delivered"], ["cancelled"], ["shipped", "delivered"], ["delivered", "returned"],
    ["shipped", "delivered", "returned"],
])
def test_allowed_moves(store: ShopStore, tiny_catalog: Catalog, clock: Clock, path: list[str]) -> None:
    order = place(store, tiny_catalog)
    for day, status in enumerate(path, start=1):
        clock.now = T0 + timedelta(days=day)
        order = store.set_order_status(order.order_id, status, note=f" step {day} ")
    assert statuses(order) == ["placed", *path]
    assert order.history[1:] == [StatusChange(s, T0 + timedelta(days=d), f"step {d}") for d, s in enumerate(path, 1)]
    assert store.order("s1", order.order_id) == order
    if "delivered" in path:
        assert order.delivered_at == T0 + timedelta(days=path.index("delivered") + 1)


@pytest.mark.parametrize(("path", "status"), [
    ([], "placed"), ([], "returned"),
    (["shipped"], "placed"), (["shipped"], "shipped"), (["shipped"], "cancelled"), (["shipped"], "returned"),
    (["delivered"], "placed"), (["delivered"], "shipped"), (["delivered"], "cancelled"),
    (["cancelled"], "placed"), (["cancelled"], "shipped"), (["cancelled"], "delivered"),
    (["delivered", "returned"], "delivered"), (["delivered", "returned"], "returned"),
])
def test_refused_moves_change_nothing(store: ShopStore, tiny_catalog: Catalog, store_target: Path | str,
                                      path: list[str], status: str) -> None:
    order = move(store, place(store, tiny_catalog), *path)
    before = all_rows(store_target)
    with pytest.raises(InvalidOrderChange, match=f"^Order #{order.order_id} "):
        store.set_order_status(order.order_id, status)
    assert all_rows(store_target) == before
    assert status not in MOVES[order.status]


@pytest.mark.parametrize(("path", "status", "message"), [
    (["shipped"], "cancelled", "Order #1 has shipped: it can only become delivered, not cancelled"),
    ([], "returned", "Order #1 is placed: it can only become shipped, delivered or cancelled, not returned"),
    (["cancelled"], "shipped", "Order #1 has been cancelled: its status can no longer change"),
])
def test_a_refusal_says_the_status_and_the_moves_left(store: ShopStore, tiny_catalog: Catalog, path: list[str],
                                                      status: str, message: str) -> None:
    order = move(store, place(store, tiny_catalog), *path)
    with pytest.raises(InvalidOrderChange) as refused:
        store.set_order_status(order.order_id, status)
    assert str(refused.value) == message


def test_unknown_order_status_and_long_notes_are_refused(store: ShopStore, tiny_catalog: Catalog) -> None:
    order = place(store, tiny_catalog)
    with pytest.raises(OrderNotFound, match="^There is no order #99$"):
        store.set_order_status(99, "shipped")
    with pytest.raises(InvalidStoreValue) as unknown:
        store.set_order_status(order.order_id, "lost")
    assert str(unknown.value) == "Order status 'lost' is not one of placed, shipped, delivered, cancelled, returned"
    assert ", ".join(ORDER_STATUSES) in str(unknown.value)
    with pytest.raises(InvalidStoreValue, match="A note must be at most 500 characters, got 501"):
        store.set_order_status(order.order_id, "shipped", "x" * 501)
    assert store.set_order_status(order.order_id, "shipped", "  " + "x" * 500 + "\n").history[-1].note == "x" * 500
    assert store.set_order_status(order.order_id, "delivered", "   ").history[-1].note is None


def test_the_shop_returning_an_order_returns_the_lines_left(store: ShopStore, tiny_catalog: Catalog) -> None:
    order = move(store, place(store, tiny_catalog, products=("p2", "p1", "p6")), "delivered")
    store.return_lines("s1", order.order_id, [1], WINDOW)
    order = store.set_order_status(order.order_id, "returned", "back in stock")
    assert order.returned == {0: 3, 1: 1, 2: 1}
    assert order.history[-1].note == "back in stock" and statuses(order) == ["placed", "delivered", "returned"]


# -- the shopper's cancellation ---------------------------------------------------------------


def test_the_shopper_cancels_a_placed_order(store: ShopStore, tiny_catalog: Catalog) -> None:
    order = store.cancel_order("s1", place(store, tiny_catalog).order_id)
    assert order.status == "cancelled" and order.history[-1] == StatusChange("cancelled", T0, "by the shopper")


@pytest.mark.parametrize(("path", "message"), [
    (["shipped"], "Order #1 has shipped: it can no longer be cancelled"),
    (["delivered"], "Order #1 has been delivered: it can no longer be cancelled"),
    (["delivered", "returned"], "Order #1 has been returned: it can no longer be cancelled"),
    (["cancelled"], "Order #1 has been cancelled already"),
])
def test_a_shipped_order_can_no_longer_be_cancelled(store: ShopStore, tiny_catalog: Catalog, path: list[str],
                                                    message: str) -> None:
    order = move(store, place(store, tiny_catalog), *path)
    with pytest.raises(InvalidOrderChange) as refused:
        store.cancel_order("s1", order.order_id)
    assert str(refused.value) == message


def test_another_shopper_can_neither_cancel_nor_return(store: ShopStore, tiny_catalog: Catalog,
                                                       store_target: Path | str) -> None:
    placed = place(store, tiny_catalog)
    delivered = move(store, place(store, tiny_catalog), "delivered")
    before = all_rows(store_target)
    for attempt in (lambda: store.cancel_order("s2", placed.order_id),
                    lambda: store.return_lines("s2", delivered.order_id, [0], WINDOW),
                    lambda: store.cancel_order("s2", 99)):
        with pytest.raises(OrderNotFound, match=r"^There is no order #\d+ of this shopper$"):
            attempt()
    assert all_rows(store_target) == before


# -- the shopper's returns --------------------------------------------------------------------


def test_returns_close_at_the_end_of_the_window(store: ShopStore, tiny_catalog: Catalog, clock: Clock) -> None:
    clock.now = delivered = T0 + timedelta(days=2)
    order = move(store, place(store, tiny_catalog), "delivered")
    clock.now = delivered + timedelta(days=WINDOW)  # the last moment
    order = store.return_lines("s1", order.order_id, [0], WINDOW)
    assert order.returned == {0: 3} and order.status == "delivered"
    clock.now += timedelta(microseconds=1)
    with pytest.raises(InvalidOrderChange) as refused:
        store.return_lines("s1", order.order_id, [1], WINDOW)
    assert str(refused.value) == ("Order #1 was delivered on 2024-05-03: the last day to return it was 2024-06-02 "
                                  "(30 days, until 09:00 UTC)")
    assert store.order("s1", order.order_id) == order


def test_returning_every_line_returns_the_order(store: ShopStore, tiny_catalog: Catalog, clock: Clock,
                                                store_target: Path | str) -> None:
    order = move(store, place(store, tiny_catalog, products=("p2", "p1", "p6")), "shipped", "delivered")
    clock.now = T0 + timedelta(days=5)
    order = store.return_lines("s1", order.order_id, [2, 0, 2], WINDOW)  # a position named twice counts once
    assert order.returned == {0: 3, 2: 1} and order.status == "delivered"
    order = store.return_lines("s1", order.order_id, [1], WINDOW)
    assert order.returned == {0: 3, 1: 1, 2: 1}
    assert order.history[-1] == StatusChange("returned", clock.now, "every line returned by the shopper")
    assert [row[1:] for row in all_rows(store_target)["order_returns"]] == [
        (1, 2, 1, "2024-05-06T09:00:00.000000+00:00"), (1, 0, 3, "2024-05-06T09:00:00.000000+00:00"),
        (1, 1, 1, "2024-05-06T09:00:00.000000+00:00")]


@pytest.mark.parametrize(("path", "message"), [
    ([], "Order #1 has not been delivered yet: its lines can be returned once it is"),
    (["shipped"], "Order #1 has not been delivered yet: its lines can be returned once it is"),
    (["cancelled"], "Order #1 has been cancelled: there is nothing to return"),
    (["delivered", "returned"], "Order #1 has been returned: every line of it is back already"),
])
def test_only_a_delivered_order_has_lines_to_return(store: ShopStore, tiny_catalog: Catalog, path: list[str],
                                                    message: str) -> None:
    order = move(store, place(store, tiny_catalog), *path)
    with pytest.raises(InvalidOrderChange) as refused:
        store.return_lines("s1", order.order_id, [0], WINDOW)
    assert str(refused.value) == message


def test_a_line_is_returned_once_and_must_be_in_the_order(store: ShopStore, tiny_catalog: Catalog,
                                                          store_target: Path | str) -> None:
    order = move(store, place(store, tiny_catalog), "delivered")
    store.return_lines("s1", order.order_id, [1], WINDOW)
    before = all_rows(store_target)
    with pytest.raises(InvalidOrderChange, match=r"^Line 1 of order #1 \(Gentle Shampoo for Dry Hair\) has been "
                                                 "returned already$"):
        store.return_lines("s1", order.order_id, [0, 1], WINDOW)
    with pytest.raises(InvalidStoreValue, match="^Order #1 has no line at position 2; its lines are at 0 to 1$"):
        store.return_lines("s1", order.order_id, [0, 2], WINDOW)
    for positions in ([], [True], ["0"]):
        with pytest.raises(InvalidStoreValue, match="Name the lines to return by their positions"):
            store.return_lines("s1", order.order_id, positions, WINDOW)  # type: ignore[arg-type]
    with pytest.raises(InvalidStoreValue, match="The return window must be a whole number of days"):
        store.return_lines("s1", order.order_id, [0], -1)
    assert all_rows(store_target) == before


# -- the schema: upgrade and forget -----------------------------------------------------------

# The version 2 schema as it was shipped, to make a file as a version 2 shopbot left it.
V2_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE cart (shopper_id TEXT NOT NULL, product_id TEXT NOT NULL,
        quantity INTEGER NOT NULL CHECK (quantity > 0), source TEXT NOT NULL, added_at TEXT NOT NULL,
        PRIMARY KEY (shopper_id, product_id))""",
    """CREATE TABLE orders (order_id INTEGER PRIMARY KEY AUTOINCREMENT, shopper_id TEXT NOT NULL,
        created_at TEXT NOT NULL, total_cents INTEGER NOT NULL)""",
    "CREATE INDEX orders_shopper ON orders (shopper_id)",
    """CREATE TABLE order_items (order_id INTEGER NOT NULL REFERENCES orders (order_id), position INTEGER NOT NULL,
        product_id TEXT NOT NULL, title TEXT NOT NULL, quantity INTEGER NOT NULL CHECK (quantity > 0),
        unit_price_cents INTEGER NOT NULL, PRIMARY KEY (order_id, position))""",
    """CREATE TABLE feedback (shopper_id TEXT NOT NULL, product_id TEXT NOT NULL,
        opinion TEXT NOT NULL CHECK (opinion IN ('like', 'dislike')), at TEXT NOT NULL,
        PRIMARY KEY (shopper_id, product_id))""",
    """CREATE TABLE events (event_id INTEGER PRIMARY KEY, at TEXT NOT NULL, shopper_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('shown', 'clicked', 'added', 'ordered')),
        source TEXT NOT NULL, product_id TEXT NOT NULL)""",
    "CREATE INDEX events_shopper ON events (shopper_id)",
    "CREATE INDEX events_at ON events (at)",
    """CREATE TABLE cart_changes (shopper_id TEXT NOT NULL, message_id TEXT NOT NULL, product_id TEXT NOT NULL,
        change TEXT NOT NULL CHECK (change IN ('add', 'remove')), at TEXT NOT NULL,
        PRIMARY KEY (shopper_id, message_id, product_id, change))""",
    "INSERT INTO meta VALUES ('store_schema_version', '2')",
    "INSERT INTO orders VALUES (1, 's1', '2024-04-01T10:00:00.000000+00:00', 1250)",
    "INSERT INTO orders VALUES (2, 's2', '2024-04-02T11:00:00.000000+00:00', 2697)",
    "INSERT INTO order_items VALUES (1, 0, 'p1', 'Gentle Shampoo for Dry Hair', 1, 1250)",
    "INSERT INTO order_items VALUES (2, 0, 'p2', 'Matte Lipstick Red', 3, 899)",
)


def test_a_version_2_store_is_upgraded_with_placed_orders(store_path: Path, clock: Clock) -> None:
    with sqlite3.connect(store_path) as conn:
        for statement in V2_SCHEMA:
            conn.execute(statement)
    conn.close()
    with ShopStore.open(store_path, clock=clock) as store:
        (old,) = store.orders("s1")
        assert old.history == [StatusChange("placed", datetime(2024, 4, 1, 10, tzinfo=timezone.utc), None)]
        assert store.set_order_status(2, "shipped").status == "shipped"
    rows = all_rows(store_path)
    assert rows["meta"] == [("store_schema_version", SCHEMA_VERSION)]
    assert [row[1:3] for row in rows["order_status"]] == [(1, "placed"), (2, "placed"), (2, "shipped")]
    assert rows["order_returns"] == []


def test_forget_deletes_the_shoppers_status_and_return_rows(store: ShopStore, tiny_catalog: Catalog,
                                                            store_target: Path | str) -> None:
    ids: dict[str, list[int]] = {}
    for shopper in ("s1", "s2"):
        delivered = move(store, place(store, tiny_catalog, shopper), "shipped", "delivered")
        store.return_lines(shopper, delivered.order_id, [0], WINDOW)
        ids[shopper] = [delivered.order_id, place(store, tiny_catalog, shopper).order_id]
    deleted = store.forget("s1")
    assert {table: deleted[table] for table in ("order_returns", "order_status", "order_items", "orders")} == {
        "order_returns": 1, "order_status": 4, "order_items": 4, "orders": 2}

    def count(table: str, shopper: str) -> int:  # table: one of the fixed names below
        return sql(store_target, f"SELECT count(*) FROM {table} WHERE order_id IN (?, ?)", ids[shopper])[0][0]

    assert [count(table, "s1") for table in ("order_status", "order_returns")] == [0, 0]
    assert [count(table, "s2") for table in ("order_status", "order_returns")] == [4, 1]
    assert store.orders("s1") == [] and [statuses(o) for o in store.orders("s2")] == [
        ["placed", "shipped", "delivered"], ["placed"]]
