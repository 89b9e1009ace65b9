"""``shopbot orders ...``: the shop's side of orders after checkout: list them, show one, set its status.

The shopper cancels and returns in the conversation; the shop ships, delivers and takes returns back
here or over HTTP (`bot/orders_api.py`). The allowed moves are in docs/store.md.
"""

from __future__ import annotations

from datetime import datetime

import click

from bot.cli_store import opened, store_option
from recommender import ORDER_STATUSES, Order


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M}"


def _change_line(order: Order) -> str:
    """ "Order #12: shipped at 2024-05-02 10:00 UTC (tracking 1Z999)" """
    change = order.history[-1]
    return f"Order #{order.order_id}: {change.status} at {_when(change.at)} UTC" + (
        f" ({change.note})" if change.note else "")


@click.group("orders")
def orders() -> None:
    """See the shoppers' orders and move them along: shipped, delivered, cancelled, returned.

    A placed order can become shipped, delivered or cancelled; a shipped one delivered; a delivered
    one returned. Shoppers cancel (before shipping) and return (within the return window) in the chat.

    Example:

        shopbot orders list --status placed
    """


@orders.command("list")
@click.option("--status", type=click.Choice(ORDER_STATUSES), default=None, help="Only the orders now in this status.")
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Number of orders, newest first.")
@store_option
def list_orders(status: str | None, limit: int, store: str | None) -> None:
    """List the latest orders: number, date (UTC), status, items and total.

    Examples:

    \b
        shopbot orders list
        shopbot orders list --status shipped -n 50
    """
    with opened(store) as shop:
        found = shop.recent_orders(limit, status)
    if not found:
        click.echo(f"No {status + ' ' if status else ''}orders.", err=True)
        return
    table = [("order", "created", "status", "items", "total")]
    table += [(f"#{o.order_id}", _when(o.created_at), o.status, str(sum(line.quantity for line in o.lines)),
               f"{o.total:.2f}") for o in found]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        left = [cell.ljust(w) for cell, w in zip(row[:3], widths)]
        click.echo("  ".join(left + [cell.rjust(w) for cell, w in zip(row[3:], widths[3:])]))


@orders.command("show")
@click.argument("order_id", metavar="ORDER", type=click.IntRange(min=1))
@store_option
def show(order_id: int, store: str | None) -> None:
    """Show an order: its lines, total, status history with notes, and the lines returned.

    Example:

        shopbot orders show 12
    """
    with opened(store) as shop:
        order = shop.shop_order(order_id)
    if order is None:
        raise click.ClickException(f"There is no order #{order_id}")
    click.echo(f"Order #{order.order_id}, created {_when(order.created_at)} UTC: {order.status}")
    for position, line in enumerate(order.lines):
        returned = f"  returned {order.returned[position]}" if position in order.returned else ""
        click.echo(f"  {position + 1}. {line.quantity} x {line.title} ({line.product_id})  "
                   f"{line.unit_price:.2f} each  {line.line_total:.2f}{returned}")
    click.echo(f"Total {order.total:.2f}")
    click.echo("History:")
    for change in order.history:
        click.echo(f"  {_when(change.at)}  {change.status}" + (f"  {change.note}" if change.note else ""))


@orders.command("set-status")
@click.argument("order_id", metavar="ORDER", type=click.IntRange(min=1))
@click.argument("status", type=click.Choice(ORDER_STATUSES))
@click.option("--note", help="A note kept with the change, e.g. a tracking number (at most 500 characters).")
@store_option
def set_status(order_id: int, status: str, note: str | None, store: str | None) -> None:
    """Move an order to STATUS, e.g. when it ships; prints its new status.

    Returned records every line not returned yet as returned.

    Examples:

    \b
        shopbot orders set-status 12 shipped --note "UPS 1Z999AA10123456784"
        shopbot orders set-status 12 delivered
    """
    with opened(store) as shop:
        click.echo(_change_line(shop.set_order_status(order_id, status, note)))
