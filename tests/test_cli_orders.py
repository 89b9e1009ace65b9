"""``shopbot orders ...`` (bot/cli_orders.py, issue 21 item 3): list, show and set-status on a temporary
store, run in-process with click's CliRunner."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from recommender.catalog.products import Catalog
from recommender.store import ShopStore

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def store_path(tmp_path: Path, tiny_catalog: Catalog) -> Path:
    """A store with three orders: #1 (s1, delivered, line 1 returned), #2 (s2, placed), #3 (s1, placed);
    each write an hour after the one before, from 09:00."""
    path = tmp_path / "shop.db"
    times = iter(T0 + timedelta(hours=h) for h in range(100))
    with ShopStore.open(path, clock=lambda: next(times)) as store:
        for shopper, products in (("s1", ("p2", "p1")), ("s2", ("p5",)), ("s1", ("p6",))):
            for product in products:
                store.add_to_cart(shopper, product, 3 if product == "p2" else 1)
            store.checkout(shopper, tiny_catalog)
        store.set_order_status(1, "shipped", "UPS 1Z999")
        store.set_order_status(1, "delivered")
    with ShopStore.open(path, clock=lambda: T0 + timedelta(days=2)) as store:
        store.return_lines("s1", 1, [1], 30)
    return path


def run(runner: CliRunner, store_path: Path, *args: str) -> str:
    result = runner.invoke(cli, ["orders", *args, "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    return result.output


def test_list_shows_the_latest_orders_without_shopper_ids(runner: CliRunner, store_path: Path) -> None:
    assert run(runner, store_path, "list").splitlines() == [
        "order  created           status     items  total",
        "#3     2024-05-01 15:00  placed         1   4.25",
        "#2     2024-05-01 13:00  placed         1  65.86",
        "#1     2024-05-01 11:00  delivered      4  39.47",
    ]
    assert run(runner, store_path, "list", "--status", "placed", "-n", "1").splitlines()[1:] == [
        "#3     2024-05-01 15:00  placed      1   4.25"]
    result = runner.invoke(cli, ["orders", "list", "--status", "cancelled", "--store", str(store_path)])
    assert result.exit_code == 0 and result.stderr == "No cancelled orders.\n"
    assert "s1" not in run(runner, store_path, "list") + run(runner, store_path, "show", "1")


def test_show_lists_lines_history_and_returns(runner: CliRunner, store_path: Path) -> None:
    assert run(runner, store_path, "show", "1").splitlines() == [
        "Order #1, created 2024-05-01 11:00 UTC: delivered",
        "  1. 3 x Matte Lipstick Red (p2)  8.99 each  26.97",
        "  2. 1 x Gentle Shampoo for Dry Hair (p1)  12.50 each  12.50  returned 1",
        "Total 39.47",
        "History:",
        "  2024-05-01 11:00  placed",
        "  2024-05-01 16:00  shipped  UPS 1Z999",
        "  2024-05-01 17:00  delivered",
    ]


def test_set_status_prints_the_new_status(runner: CliRunner, store_path: Path) -> None:
    output = run(runner, store_path, "set-status", "2", "shipped", "--note", " DHL 42 ")
    assert re.fullmatch(r"Order #2: shipped at \d{4}-\d\d-\d\d \d\d:\d\d UTC \(DHL 42\)\n", output)
    with ShopStore.open(store_path) as store:
        assert store.order("s2", 2).history[-1].note == "DHL 42"
    assert run(runner, store_path, "set-status", "2", "delivered").startswith("Order #2: delivered at ")


def test_a_refused_move_is_one_error_line(runner: CliRunner, store_path: Path) -> None:
    result = runner.invoke(cli, ["orders", "set-status", "1", "cancelled", "--store", str(store_path)])
    assert result.exit_code == 1
    assert result.output == "Error: Order #1 has been delivered: it can only become returned, not cancelled\n"
    result = runner.invoke(cli, ["orders", "set-status", "9", "shipped", "--store", str(store_path)])
    assert (result.exit_code, result.output) == (1, "Error: There is no order #9\n")
    result = runner.invoke(cli, ["orders", "set-status", "2", "shipped", "--note", "x" * 501, "--store",
                                 str(store_path)])
    assert (result.exit_code, result.output) == (1, "Error: A note must be at most 500 characters, got 501\n")
    result = runner.invoke(cli, ["orders", "show", "9", "--store", str(store_path)])
    assert (result.exit_code, result.output) == (1, "Error: There is no order #9\n")


def test_an_unknown_status_is_a_usage_error(runner: CliRunner, store_path: Path) -> None:
    result = runner.invoke(cli, ["orders", "set-status", "2", "lost", "--store", str(store_path)])
    assert result.exit_code == 2
    assert "'lost' is not one of 'placed', 'shipped', 'delivered', 'cancelled', 'returned'" in result.output


def test_a_missing_store_is_not_created(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    result = runner.invoke(cli, ["orders", "list", "--store", str(missing)])
    assert result.exit_code == 1 and result.output.startswith(f"Error: No shopper store at {missing};")
    assert not missing.exists()


def test_the_default_store_is_the_configured_one(runner: CliRunner, store_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SHOPBOT_STORE", str(store_path))
    result = runner.invoke(cli, ["orders", "list", "-n", "1"])
    assert result.exit_code == 0 and result.output.splitlines()[1].startswith("#3 ")


@pytest.mark.parametrize("command", ["list", "show", "set-status"])
def test_help_has_examples(runner: CliRunner, command: str) -> None:
    result = runner.invoke(cli, ["orders", command, "-h"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output and f"shopbot orders {command}" in result.output
