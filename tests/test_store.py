"""recommender.store: carts, orders, feedback, events, metrics and forget, on temp SQLite files and (slow)
on a throwaway PostgreSQL server's databases."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from recommender import config
from recommender.catalog.products import Catalog
from recommender.errors import CheckoutRefused, EmptyCart, InvalidStoreValue, NotInCart, PricesChanged, StoreError
from recommender.store import MetricsRow, ShopStore, price_cart
from tests.postgres_server import PostgresServer
from tests.stores import all_rows, columns, failing, mentions, sql

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)


class FakeClock:
    """Starts at T0 and moves one minute per call, so every write has its own time."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A SQLite store's file, for what only SQLite has (a file's bytes, its upgrade from older versions)."""
    return tmp_path / "shop.db"


@pytest.fixture
def open_store(store_target: Path | str) -> Iterator[Callable[..., ShopStore]]:
    """Open stores on the same file or database (each with its own fake clock); all closed at the end."""
    opened: list[ShopStore] = []

    def open_(clock: Callable[[], datetime] | None = None) -> ShopStore:
        opened.append(ShopStore.open(store_target, clock=clock or FakeClock()))
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., ShopStore]) -> ShopStore:
    return open_store()


# -- cart -------------------------------------------------------------------------------------


def test_add_and_remove_quantities(store: ShopStore) -> None:
    assert store.add_to_cart("s1", "p2") == 1
    assert store.add_to_cart("s1", "p1", 2) == 2
    assert store.add_to_cart("s1", "p2", 2) == 3
    assert [(line.product_id, line.quantity) for line in store.cart_lines("s1")] == [("p2", 3), ("p1", 2)]
    assert store.remove_from_cart("s1", "p2", 1) == 2
    assert store.remove_from_cart("s1", "p2", 5) == 0
    assert store.remove_from_cart("s1", "p1") == 0
    assert store.cart_lines("s1") == []
    with pytest.raises(NotInCart, match="Product 'p1' is not in the cart of shopper 's1'"):
        store.remove_from_cart("s1", "p1")


def test_cart_keeps_first_added_order_and_source(store: ShopStore) -> None:
    store.add_to_cart("s1", "p5", source="search")
    store.add_to_cart("s1", "p1", source="recommend")
    store.add_to_cart("s1", "p5", source="similar")
    lines = store.cart_lines("s1")
    assert [(line.product_id, line.source) for line in lines] == [("p5", "search"), ("p1", "recommend")]
    assert lines[0].added_at == T0 + timedelta(minutes=1)
    assert store.clear_cart("s1") == 2
    assert store.cart_lines("s1") == []


@pytest.mark.parametrize("quantity", [0, -1, 1000, 1.5, True, "2"])
def test_bad_quantities_are_refused(store: ShopStore, quantity: object) -> None:
    with pytest.raises(InvalidStoreValue, match="must be a whole number from 1 to 999"):
        store.add_to_cart("s1", "p1", quantity)  # type: ignore[arg-type]
    assert store.cart_lines("s1") == []


def test_line_quantity_is_capped(store: ShopStore) -> None:
    store.add_to_cart("s1", "p1", 999)
    with pytest.raises(InvalidStoreValue, match="At most 999 of product 'p1'"):
        store.add_to_cart("s1", "p1")
    assert store.cart_lines("s1")[0].quantity == 999


def test_totals_are_exact_to_the_cent(store: ShopStore, tiny_catalog: Catalog) -> None:
    store.add_to_cart("s1", "p2", 3)  # 3 x $8.99
    store.add_to_cart("s1", "p1")  # $12.50
    summary = price_cart(store.cart_lines("s1"), tiny_catalog)
    assert [(p.product.id, p.unit_price, p.line_total) for p in summary.lines] == [
        ("p2", Decimal("8.99"), Decimal("26.97")), ("p1", Decimal("12.50"), Decimal("12.50"))]
    assert summary.total == Decimal("39.47")
    assert summary.complete


def test_many_cents_add_up_exactly(store: ShopStore, tiny_catalog: Catalog) -> None:
    # float arithmetic gives 10 * 0.1-ish errors; 7 x $4.25 + 11 x $65.86 = 29.75 + 724.46
    store.add_to_cart("s1", "p6", 7)
    store.add_to_cart("s1", "p5", 11)
    assert price_cart(store.cart_lines("s1"), tiny_catalog).total == Decimal("754.21")


def test_unknown_price_and_removed_products_are_reported(store: ShopStore, tiny_catalog: Catalog) -> None:
    store.add_to_cart("s1", "p3")  # no price in the tiny catalog
    store.add_to_cart("s1", "gone")  # removed from the catalog since
    store.add_to_cart("s1", "p6", 2)
    summary = price_cart(store.cart_lines("s1"), tiny_catalog)
    assert [p.product.id for p in summary.lines] == ["p3", "p6"]
    assert summary.lines[0].unit_price is None and summary.lines[0].line_total is None
    assert [p.id for p in summary.unpriced] == ["p3"]
    assert summary.missing == ["gone"]
    assert summary.total == Decimal("8.50")
    assert not summary.complete


def test_cart_survives_a_restart(open_store: Callable[..., ShopStore], store_target: Path | str) -> None:
    first = open_store()
    first.add_to_cart("s1", "p1", 2)
    first.like("s1", "p5")
    first.close()
    with ShopStore.open(store_target) as again:
        assert [(line.product_id, line.quantity) for line in again.cart_lines("s1")] == [("p1", 2)]
        assert again.feedback("s1").liked == ["p5"]


# -- checkout ---------------------------------------------------------------------------------


def test_checkout_writes_the_order_and_empties_the_cart(store: ShopStore, tiny_catalog: Catalog,
                                                        store_target: Path | str) -> None:
    store.add_to_cart("s1", "p2", 3, source="search")
    store.add_to_cart("s1", "p1", source="recommend")
    order = store.checkout("s1", tiny_catalog)
    assert order.total == Decimal("39.47")
    assert [(o.product_id, o.title, o.quantity, o.unit_price, o.line_total) for o in order.lines] == [
        ("p2", "Matte Lipstick Red", 3, Decimal("8.99"), Decimal("26.97")),
        ("p1", "Gentle Shampoo for Dry Hair", 1, Decimal("12.50"), Decimal("12.50"))]
    assert order.created_at == T0 + timedelta(minutes=3)
    assert store.cart_lines("s1") == []
    assert store.orders("s1") == [order]
    rows = all_rows(store_target)
    assert rows["orders"] == [(order.order_id, "s1", "2024-05-01T09:03:00.000000+00:00", 3947)]
    assert [r[2:] for r in rows["order_items"]] == [("p2", "Matte Lipstick Red", 3, 899),
                                                    ("p1", "Gentle Shampoo for Dry Hair", 1, 1250)]
    ordered = [(r[3], r[4], r[5]) for r in rows["events"] if r[3] == "ordered"]
    assert ordered == [("ordered", "search", "p2"), ("ordered", "recommend", "p1")]


def test_empty_cart_cannot_be_checked_out(store: ShopStore, tiny_catalog: Catalog) -> None:
    with pytest.raises(EmptyCart, match="The cart of shopper 's1' is empty; add a product before checkout"):
        store.checkout("s1", tiny_catalog)
    assert store.orders("s1") == []


def test_checkout_refuses_unpriced_and_missing_products(store: ShopStore, tiny_catalog: Catalog) -> None:
    store.add_to_cart("s1", "p1")
    store.add_to_cart("s1", "p3")
    store.add_to_cart("s1", "gone")
    with pytest.raises(CheckoutRefused) as info:
        store.checkout("s1", tiny_catalog)
    assert str(info.value) == ("Cannot check out: Hydrating Face Cream for Dry Skin (p3) has no price; "
                               "product 'gone' is no longer in the catalog. Remove them first.")
    assert [line.product_id for line in store.cart_lines("s1")] == ["p1", "p3", "gone"]
    assert store.orders("s1") == []


def test_checkout_orders_only_at_prices_the_shopper_was_shown(store: ShopStore, tiny_catalog: Catalog,
                                                             store_target: Path | str) -> None:
    store.add_to_cart("s1", "p2", 2, price=Decimal("7.99"))  # the catalog says 8.99 now
    store.add_to_cart("s1", "p1", price=Decimal("12.50"))     # unchanged
    store.add_to_cart("s1", "p5")                             # shown price not known: not compared
    with pytest.raises(PricesChanged) as info:
        store.checkout("s1", tiny_catalog)
    assert str(info.value) == "Prices changed since they were added to the cart: p2 7.99 -> 8.99"
    assert [(line.product.id, line.shown_price, line.unit_price) for line in info.value.cart.repriced] == [
        ("p2", Decimal("7.99"), Decimal("8.99"))]
    assert store.orders("s1") == [] and all_rows(store_target)["orders"] == []
    assert [(line.product_id, line.price) for line in store.cart_lines("s1")] == [
        ("p2", Decimal("8.99")), ("p1", Decimal("12.50")), ("p5", None)]  # today's price, now shown
    order = store.checkout("s1", tiny_catalog)
    assert [(o.product_id, o.unit_price) for o in order.lines][:2] == [("p2", Decimal("8.99")), ("p1", Decimal("12.50"))]


def test_adding_again_keeps_the_latest_price_shown(store: ShopStore, store_target: Path | str) -> None:
    store.add_to_cart("s1", "p2", price=Decimal("7.99"))
    store.add_to_cart("s1", "p2", price=Decimal("8.99"))
    assert [(line.quantity, line.price) for line in store.cart_lines("s1")] == [(2, Decimal("8.99"))]
    assert [row[-1] for row in all_rows(store_target)["cart"]] == [899]


@pytest.mark.parametrize("trigger", [
    ("BEFORE DELETE", "cart", None),  # the last step: order and items written, then the cart cannot be emptied
    ("BEFORE INSERT", "order_items", "NEW.position = 1"),  # halfway through the items
])
def test_failed_checkout_writes_nothing(store: ShopStore, tiny_catalog: Catalog, store_target: Path | str,
                                        trigger: tuple[str, str, str | None]) -> None:
    store.add_to_cart("s1", "p2", 3)
    store.add_to_cart("s1", "p1")
    before = all_rows(store_target)
    with failing(store_target, *trigger) as error, pytest.raises(error, match="disk full"):
        store.checkout("s1", tiny_catalog)
    assert all_rows(store_target) == before
    assert not store.in_transaction
    assert store.checkout("s1", tiny_catalog).total == Decimal("39.47")


def test_order_ids_are_not_reused_after_forget(store: ShopStore, tiny_catalog: Catalog) -> None:
    store.add_to_cart("s1", "p1")
    first = store.checkout("s1", tiny_catalog)
    store.forget("s1")
    store.add_to_cart("s2", "p1")
    assert store.checkout("s2", tiny_catalog).order_id == first.order_id + 1


# -- feedback and session items ---------------------------------------------------------------


def test_latest_opinion_wins(store: ShopStore) -> None:
    store.like("s1", "p1")
    store.dislike("s1", "p2")
    store.like("s1", "p3")
    store.dislike("s1", "p1")
    store.like("s1", "p2")
    feedback = store.feedback("s1")
    assert feedback.liked == ["p3", "p2"]
    assert feedback.disliked == ["p1"]


def test_session_items_are_liked_cart_and_ordered_minus_disliked(store: ShopStore, tiny_catalog: Catalog) -> None:
    store.add_to_cart("s1", "p6")  # 09:01, then ordered at 09:02
    store.checkout("s1", tiny_catalog)
    store.like("s1", "p2")  # 09:03
    store.add_to_cart("s1", "p1")  # 09:04
    store.add_to_cart("s1", "p5")  # 09:05, disliked below
    store.like("s1", "p6")  # already ordered: keeps its earlier place
    store.dislike("s1", "p5")
    store.like("s2", "p3")
    assert store.session_items("s1") == ["p6", "p2", "p1"]
    assert store.session_items("nobody") == []


# -- events and metrics -----------------------------------------------------------------------


def test_event_kind_and_source_are_validated(store: ShopStore) -> None:
    with pytest.raises(InvalidStoreValue, match="Event kind 'viewed' is not one of shown, clicked, added, ordered"):
        store.log_events("s1", "viewed", ["p1"], "search")
    for source in ["", "Search", "free text here", "x" * 21, "search;drop"]:
        with pytest.raises(InvalidStoreValue, match="is not a short label of 1-20 letters"):
            store.log_events("s1", "shown", ["p1"], source)
    with pytest.raises(InvalidStoreValue, match="must be a list of ids, not the string 'p1'"):
        store.log_events("s1", "shown", "p1", "search")
    with pytest.raises(InvalidStoreValue, match="Product id must be a non-empty string of at most 200"):
        store.log_events("s1", "shown", ["p1", "x" * 201], "search")
    with pytest.raises(InvalidStoreValue, match="has no time zone"):
        store.log_events("s1", "shown", ["p1"], "search", at=datetime(2024, 5, 1))
    assert store.log_events("s1", "shown", [], "search") == 0
    assert store.metrics() == []


def test_events_table_holds_no_text(store_target: Path | str, store: ShopStore) -> None:
    assert columns(store_target)["events"] == ["event_id", "at", "shopper_id", "kind", "source", "product_id"]
    with pytest.raises(store.dialect.database_error, match="(?i)check constraint"):
        store._execute("INSERT INTO events (at, shopper_id, kind, source, product_id)"
                       " VALUES ('2024', 's1', 'message', 'search', 'p1')")


def test_metrics_per_day_and_per_source(store: ShopStore) -> None:
    day1, day2 = T0, T0 + timedelta(days=1)
    store.log_events("s1", "shown", ["p1", "p2", "p3", "p4"], "search", at=day1)
    store.log_events("s1", "shown", ["p5", "p6"], "recommend", at=day1)
    store.log_events("s1", "clicked", ["p1"], "search", at=day1)
    store.log_events("s1", "clicked", ["p5"], "recommend", at=day1)
    store.log_events("s2", "shown", ["p1", "p2", "p3", "p4", "p5"], "recommend", at=day2)
    store.log_events("s2", "clicked", ["p2", "p3"], "recommend", at=day2)
    store.log_events("s2", "added", ["p2"], "recommend", at=day2)
    store.log_events("s2", "ordered", ["p2"], "recommend", at=day2)
    store.log_events("s3", "clicked", ["p9"], "compare", at=day2)  # clicked, never shown

    assert store.metrics(by="day") == [
        MetricsRow("2024-05-01", 6, 2, 0, 0, 2 / 6, 0.0, 0.0),
        MetricsRow("2024-05-02", 5, 3, 1, 1, 3 / 5, 1 / 5, 1 / 5),
    ]
    assert store.metrics(by="source") == [
        MetricsRow("compare", 0, 1, 0, 0, None, None, None),
        MetricsRow("recommend", 7, 3, 1, 1, 3 / 7, 1 / 7, 1 / 7),
        MetricsRow("search", 4, 1, 0, 0, 1 / 4, 0.0, 0.0),
    ]
    assert [r.key for r in store.metrics(by="day", since=date(2024, 5, 2))] == ["2024-05-02"]
    with pytest.raises(InvalidStoreValue, match="Metrics grouping 'week' is not one of day, source"):
        store.metrics(by="week")  # type: ignore[arg-type]


def test_cart_and_checkout_log_added_and_ordered(store: ShopStore, tiny_catalog: Catalog) -> None:
    store.log_events("s1", "shown", ["p1", "p2"], "search")
    store.add_to_cart("s1", "p1", 2, source="search")
    store.checkout("s1", tiny_catalog)
    assert store.metrics(by="source") == [MetricsRow("search", 2, 0, 1, 1, 0.0, 0.5, 0.5)]


# -- once per message ------------------------------------------------------------------------


def test_a_replayed_message_adds_once_and_a_new_message_adds_again(store: ShopStore) -> None:
    assert store.add_to_cart("s1", "p1", source="search", message_id="msg-1") == 1
    assert store.add_to_cart("s1", "p1", source="search", message_id="msg-1") == 1   # the retry: no change
    assert store.add_to_cart("s2", "p1", message_id="msg-1") == 1                    # another shopper's message
    assert store.add_to_cart("s1", "p1", source="search", message_id="msg-2") == 2
    assert store.add_to_cart("s1", "p2", message_id="msg-2") == 1                    # one message, two products
    assert store.add_to_cart("s1", "p1") == 3 and store.add_to_cart("s1", "p1") == 4  # no message id: each adds
    assert [(line.product_id, line.quantity) for line in store.cart_lines("s1")] == [("p1", 4), ("p2", 1)]
    assert sum(row.added for row in store.metrics()) == 5 + 1   # s1's five adds and s2's one: a replay logs none


def test_a_replayed_removal_removes_nothing_more(store: ShopStore) -> None:
    store.add_to_cart("s1", "p1", 3)
    store.add_to_cart("s1", "p2")
    assert store.remove_from_cart("s1", "p1", 1, message_id="msg-1") == 2
    assert store.remove_from_cart("s1", "p1", 1, message_id="msg-1") == 2          # the retry: still 2
    assert store.remove_from_cart("s1", "p2", message_id="msg-2") == 0
    assert store.remove_from_cart("s1", "p2", message_id="msg-2") == 0              # gone, and no NotInCart
    with pytest.raises(NotInCart):
        store.remove_from_cart("s1", "p2", message_id="msg-3")                      # a new message: not in cart
    assert store.removed_by("s1", "msg-2") == ["p2"] and store.removed_by("s1", "msg-3") == []
    assert store.removed_by("s2", "msg-2") == []
    assert [(line.product_id, line.quantity) for line in store.cart_lines("s1")] == [("p1", 2)]


def test_a_refused_add_is_not_remembered(store: ShopStore) -> None:
    store.add_to_cart("s1", "p1", 999)
    with pytest.raises(InvalidStoreValue, match="At most 999"):
        store.add_to_cart("s1", "p1", message_id="msg-1")
    store.remove_from_cart("s1", "p1", 1)
    assert store.add_to_cart("s1", "p1", message_id="msg-1") == 999                 # the retry now adds
    with pytest.raises(InvalidStoreValue, match="Message id"):
        store.add_to_cart("s1", "p1", message_id="x" * 201)


def test_message_records_are_dropped_after_the_replay_window(store: ShopStore, store_target: Path | str) -> None:
    clock = store.clock
    store.add_to_cart("s1", "p1", message_id="msg-1")
    store.add_to_cart("s2", "p1", message_id="msg-1")
    store.clock = lambda: clock() + timedelta(days=1, minutes=1)
    store.add_to_cart("s1", "p2", message_id="msg-2")          # prunes s1's older records, not s2's
    assert sorted(row[:2] for row in all_rows(store_target)["cart_changes"]) == [("s1", "msg-2"), ("s2", "msg-1")]


def test_a_version_1_store_is_upgraded_in_place(store_path: Path, tiny_catalog: Catalog) -> None:
    with ShopStore.open(store_path, clock=FakeClock()) as store:  # then made into a file as version 1 left it
        fill(store, "s1", tiny_catalog)
    with sqlite3.connect(store_path) as conn:
        conn.execute("DROP TABLE cart_changes")
        conn.execute("DROP TABLE order_returns")
        conn.execute("DROP TABLE order_status")
        conn.execute("ALTER TABLE cart DROP COLUMN price_cents")
        conn.execute("DROP TABLE watches")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'store_schema_version'")
    conn.close()
    before = all_rows(store_path)
    with ShopStore.open(store_path, clock=FakeClock()) as store:
        assert store.add_to_cart("s1", "p2", message_id="msg-9") == 2
        assert store.add_to_cart("s1", "p2", message_id="msg-9") == 2
    after = all_rows(store_path)
    assert after["meta"] == [("store_schema_version", "5")] and after["watches"] == []
    assert after["orders"] == before["orders"] and after["feedback"] == before["feedback"]
    assert [row[:4] for row in after["cart_changes"]] == [("s1", "msg-9", "p2", "add")]
    assert [row[-1] for row in after["cart"]] == [None]  # the price shown before the upgrade is not known


# -- forget and isolation ---------------------------------------------------------------------


def fill(store: ShopStore, shopper: str, catalog: Catalog) -> None:
    store.log_events(shopper, "shown", ["p1", "p2"], "search")
    store.add_to_cart(shopper, "p1", source="search", message_id="msg-1")
    store.checkout(shopper, catalog)
    store.add_to_cart(shopper, "p2", message_id="msg-2")
    store.like(shopper, "p5")
    store.dislike(shopper, "p6")
    store.watch(shopper, "p3", "in_stock", "callback", days=30)


def test_one_opinion_is_forgotten_and_what_is_kept_is_counted(store: ShopStore, tiny_catalog: Catalog) -> None:
    fill(store, "s1", tiny_catalog)
    fill(store, "s2", tiny_catalog)
    kept = store.kept("s1")
    assert kept == {"cart": 1, "orders": 1, "feedback": 2, "watches": 1, "events": kept["events"]}
    assert kept["events"] > 0
    liked = store.feedback("s1").liked[0]
    assert store.forget_opinion("s1", liked) == "like"
    assert store.forget_opinion("s1", liked) is None
    assert liked not in store.feedback("s1").liked and liked in store.feedback("s2").liked
    assert store.kept("s1")["feedback"] == 1 and store.kept("nobody") == dict.fromkeys(kept, 0)


def test_forget_leaves_no_row_about_the_shopper(store: ShopStore, tiny_catalog: Catalog,
                                               store_target: Path | str) -> None:
    fill(store, "s1", tiny_catalog)
    fill(store, "s2", tiny_catalog)
    s2_before = mentions(all_rows(store_target), "s2")
    s2_orders = store.orders("s2")
    assert store.forget("s1") == {"cart": 1, "cart_changes": 2, "order_returns": 0, "order_status": 1,
                                  "order_items": 1, "orders": 1, "feedback": 2, "watches": 1, "events": 5}
    rows = all_rows(store_target)
    assert mentions(rows, "s1") == []
    s1_order = store.orders("s2")[0].order_id - 1  # order_items rows name the order, not the shopper
    assert [r for r in rows["order_items"] if r[0] == s1_order] == []
    assert mentions(rows, "s2") == s2_before
    assert store.orders("s2") == s2_orders
    assert store.forget("s1") == {"cart": 0, "cart_changes": 0, "order_returns": 0, "order_status": 0,
                                  "order_items": 0, "orders": 0, "feedback": 0, "watches": 0, "events": 0}


def test_forget_leaves_no_byte_of_the_shopper_in_the_file_or_its_log(tiny_catalog: Catalog, store_path: Path) -> None:
    shopper = "shopper-7f3c9e-private"
    store = ShopStore.open(store_path, clock=FakeClock())
    fill(store, shopper, tiny_catalog)
    fill(store, "s2", tiny_catalog)
    wal = store_path.with_name(store_path.name + "-wal")
    assert shopper.encode() in wal.read_bytes()  # the rows are still in the write-ahead log
    store.forget(shopper)
    on_disk = store_path.read_bytes() + wal.read_bytes()
    assert shopper.encode() not in on_disk
    assert b"s2" in on_disk and len(store.orders("s2")) == 1
    store.close()


def test_injection_looking_ids_are_plain_text(store: ShopStore, tiny_catalog: Catalog) -> None:
    evil = "s1'; DROP TABLE cart; --"
    store.add_to_cart(evil, "p1' OR '1'='1")
    store.add_to_cart("s2", "p1")
    assert [line.product_id for line in store.cart_lines(evil)] == ["p1' OR '1'='1"]
    assert [line.product_id for line in store.cart_lines("s2")] == ["p1"]
    assert store.forget("' OR 1=1 --")["cart"] == 0
    assert store.forget(evil)["cart"] == 1
    assert [line.product_id for line in store.cart_lines("s2")] == ["p1"]


def test_two_stores_on_one_store_see_each_other(open_store: Callable[..., ShopStore], tiny_catalog: Catalog) -> None:
    actions, cli = open_store(), open_store()
    actions.add_to_cart("s1", "p1")
    cli.add_to_cart("s1", "p1")
    assert [line.quantity for line in actions.cart_lines("s1")] == [2]
    cli.checkout("s1", tiny_catalog)
    assert actions.cart_lines("s1") == []
    assert actions.orders("s1")[0].total == Decimal("25.00")
    if actions.dialect.name == "sqlite":  # readers never wait for the writer
        assert actions.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_catalog_or_foreign_file_is_not_a_store(tiny_catalog_path: Path, tmp_path: Path) -> None:
    before = tiny_catalog_path.read_bytes()
    with pytest.raises(StoreError, match=r"is not a shopbot store \(is it the catalog\?\)"):
        ShopStore.open(tiny_catalog_path)
    assert tiny_catalog_path.read_bytes() == before
    junk = tmp_path / "junk.db"
    junk.write_text("not a database at all, just text" * 10)
    with pytest.raises(StoreError, match="junk.db is not a shopbot store"):
        ShopStore.open(junk)


def test_newer_schema_is_refused(store_target: Path | str) -> None:
    ShopStore.open(store_target).close()
    sql(store_target, "UPDATE meta SET value = '6' WHERE key = 'store_schema_version'")
    with pytest.raises(StoreError, match="has store schema version 6; this shopbot reads version 5"):
        ShopStore.open(store_target)


@pytest.mark.slow
def test_a_postgresql_database_of_other_tables_or_out_of_reach_is_one_clear_error(postgres: PostgresServer) -> None:
    taken = postgres.database()
    sql(taken, "CREATE TABLE events (id INTEGER)")  # the tracker store's database, say
    with pytest.raises(StoreError, match="it holds other tables: give the store a database of its own"):
        ShopStore.open(taken)
    assert [table for (table,) in sql(taken, "SELECT table_name FROM information_schema.tables"
                                             " WHERE table_schema = current_schema()")] == ["events"]
    wrong = f"postgresql://shopbot:not-the-password@127.0.0.1:{postgres.port}/postgres"
    with pytest.raises(StoreError, match=r"^Cannot reach the shopper store at postgresql://shopbot@127\.0\.0\.1:") \
            as info:
        ShopStore.open(wrong)
    assert "not-the-password" not in str(info.value) and "password authentication failed" in str(info.value)
    with pytest.raises(StoreError, match="Cannot reach the shopper store at postgresql://shopbot@127.0.0.1:1/shop"):
        ShopStore.open("postgresql://shopbot@127.0.0.1:1/shop")


@pytest.mark.slow
def test_a_postgresql_restart_drops_the_connection_and_the_store_connects_again(postgres: PostgresServer,
                                                                               tiny_catalog: Catalog) -> None:
    with ShopStore.open(postgres.database(), clock=FakeClock()) as store:
        store.add_to_cart("s1", "p1")
        postgres.restart()  # every connection dropped
        assert [line.product_id for line in store.cart_lines("s1")] == ["p1"]  # a read: on a new connection
        postgres.restart()
        store.add_to_cart("s1", "p2")  # a write transaction: its BEGIN on a new connection
        assert store.checkout("s1", tiny_catalog).total == Decimal("21.49")


def test_the_configured_store(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SHOPBOT_STORE", raising=False)
    monkeypatch.setenv("SHOPBOT_CACHE", str(tmp_path))
    assert config.store_target() == tmp_path / "shop.db"
    assert config.forgotten_path(config.store_target()) == tmp_path / "shop.forgotten.db"
    monkeypatch.setenv("SHOPBOT_STORE", str(tmp_path / "elsewhere.db"))
    assert config.store_target() == tmp_path / "elsewhere.db"
    assert config.forgotten_path(config.store_target()) == tmp_path / "elsewhere.forgotten.db"
    assert config.forgotten_path(str(tmp_path / "elsewhere.db")) == tmp_path / "elsewhere.forgotten.db"  # a str path
    assert config.store_target(str(tmp_path / "given.db")) == tmp_path / "given.db"  # a command's --store first
    monkeypatch.setenv("SHOPBOT_STORE", "postgresql://shopbot@db.internal:5432/shop")
    assert config.store_target() == "postgresql://shopbot@db.internal:5432/shop"  # a URL, not a path
    assert config.forgotten_path(config.store_target()) == config.store_target()  # a table of that database


# -- shopbot metrics --------------------------------------------------------------------------


def test_metrics_command(store: ShopStore, store_target: Path | str, monkeypatch) -> None:

    store.log_events("s1", "shown", ["p1", "p2", "p3"], "search", at=T0)
    store.log_events("s1", "clicked", ["p1"], "search", at=T0)
    store.log_events("s1", "shown", ["p4"], "recommend", at=T0 + timedelta(days=1))
    store.log_events("s1", "added", ["p4"], "recommend", at=T0 + timedelta(days=1))
    runner = CliRunner()
    result = runner.invoke(cli, ["metrics", "--store", str(store_target)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "day         shown  clicked  added  ordered    CTR  add-to-cart  conversion",
        "2024-05-01      3        1      0        0  33.3%         0.0%        0.0%",
        "2024-05-02      1        0      1        0   0.0%       100.0%        0.0%",
    ]
    monkeypatch.setenv("SHOPBOT_STORE", str(store_target))
    result = runner.invoke(cli, ["metrics", "--by", "source", "--since", "2024-05-02", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"key": "recommend", "shown": 1, "clicked": 0, "added": 1, "ordered": 0,
                                          "ctr": 0.0, "add_to_cart_rate": 1.0, "conversion": 0.0}]
    result = runner.invoke(cli, ["metrics", "--since", "2030-01-01"])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "No events since 2030-01-01.\n")


def test_metrics_command_errors_are_one_line(tmp_path: Path, tiny_catalog_path: Path) -> None:

    missing = tmp_path / "none.db"
    result = CliRunner().invoke(cli, ["metrics", "--store", str(missing)])
    assert result.exit_code == 1
    assert result.output == (f"Error: No shopper store at {missing}; the assistant creates it on first use. "
                             "Pass --store or set SHOPBOT_STORE.\n")
    result = CliRunner().invoke(cli, ["metrics", "--store", str(tiny_catalog_path)])
    assert result.exit_code == 1
    assert result.output == (f"Error: {tiny_catalog_path} is not a shopbot store (is it the catalog?). "
                             "Set SHOPBOT_STORE to another file or database URL.\n")
    result = CliRunner().invoke(cli, ["metrics", "--by", "week", "--store", str(missing)])
    assert result.exit_code == 2
    assert "Invalid value for '--by': 'week' is not one of 'day', 'source'." in result.output


# -- watches ----------------------------------------------------------------------------------


def test_a_watch_replaces_the_same_one_fires_once_and_expires(store_target: Path | str) -> None:
    clock = FakeClock()
    with ShopStore.open(store_target, clock=clock) as store, ShopStore.open(store_target, clock=clock) as other:
        first = store.watch("s1", "p1", "price", "telegram", days=30, target=Decimal("20"))
        again = store.watch("s1", "p1", "price", "telegram", days=30, target=Decimal("15.50"))
        store.watch("s1", "p2", "in_stock", "callback", days=1)
        store.watch("s2", "p1", "in_stock", "callback", days=30)
        assert again.watch_id == first.watch_id and again.target == Decimal("15.50")  # renewed
        assert again.created_at > first.created_at
        assert [(w.product_id, w.kind) for w in store.watches("s1")] == [("p1", "price"), ("p2", "in_stock")]
        assert store.claim_watch(again.watch_id) and not other.claim_watch(again.watch_id)  # one process wins
        assert [w.product_id for w in store.watches("s1")] == ["p2"]  # fired: no longer listed
        store.release_watch(again.watch_id)  # the message could not be sent: it fires at the next change
        assert other.claim_watch(again.watch_id)
        assert not store.cancel_watch("s2", store.watches("s1")[0].watch_id)  # only the shopper's own
        clock.now += timedelta(days=2)
        assert [w.shopper_id for w in store.pending_watches()] == ["s2"]  # s1's one-day watch expired
        assert store.expire(clock.now, lambda s: False)["watches"] == 2  # the expired one and the fired one
        assert store.cancel_watch("s2", store.watches("s2")[0].watch_id) and store.pending_watches() == []


def test_a_watch_needs_a_known_kind_and_a_target_for_a_price(store: ShopStore) -> None:
    with pytest.raises(InvalidStoreValue):
        store.watch("s1", "p1", "price", "rest", days=30)
    with pytest.raises(InvalidStoreValue):
        store.watch("s1", "p1", "back", "rest", days=30)
