"""The shopper store for the commands that read or change it: the shared ``--store`` option, and opening an
existing store (never creating one)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from recommender import ShopStore, config
from recommender.store import exists


def store_option(func: Any) -> Any:
    """``--store FILE|URL``: the shopper store, a SQLite file or a PostgreSQL URL (its password in $PGPASSWORD)."""
    return click.option(
        "--store", "store", metavar="FILE|URL", default=None,
        help="Shopper store: a SQLite file or a postgresql:// URL. Default: $SHOPBOT_STORE or var/shop.db.",
    )(func)


@contextmanager
def opened(store: str | None) -> Iterator[ShopStore]:
    """The shopper store ``--store`` names (default: the configured one); a missing file is an error, not
    created."""
    where = config.store_target(store)
    if not exists(where):
        raise click.ClickException(f"No shopper store at {where}; the assistant creates it on first use. "
                                   "Pass --store or set SHOPBOT_STORE.")
    with ShopStore.open(where) as shop:
        yield shop
