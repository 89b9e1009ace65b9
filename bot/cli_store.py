"""The shopper store for the commands that read or change it: the shared ``--store`` option, and opening an
existing store (never creating one)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from recommender import ShopStore, config
from recommender.store import exists
from recommender.store.dialects import is_database_url


def store_option(func: Any) -> Any:
    """``--store FILE|URL``: the shopper store, a SQLite file or a PostgreSQL URL (its password in $PGPASSWORD)."""
    return click.option(
        "--store", "store", metavar="FILE|URL", default=None,
        help="Shopper store: a SQLite file or a postgresql:// URL. Default: $SHOPBOT_STORE or var/shop.db.",
    )(func)


def target(store: str | None) -> Path | str:
    """The store ``--store`` names (a URL stays a URL), or the configured one."""
    if store is None:
        return config.store_target()
    return store if is_database_url(store) else Path(store)


@contextmanager
def opened(store: str | None) -> Iterator[ShopStore]:
    """The shopper store ``--store`` names (default: the configured one); a missing file is an error, not
    created."""
    where = target(store)
    if not exists(where):
        raise click.ClickException(f"No shopper store at {where}; the assistant creates it on first use. "
                                   "Pass --store or set SHOPBOT_STORE.")
    with ShopStore.open(where) as shop:
        yield shop
