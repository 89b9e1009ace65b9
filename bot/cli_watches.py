"""``shopbot watches fire``: message the shoppers whose watches are due ("back in stock", "under 20").

``shopbot catalog build`` and ``shopbot catalog update`` fire them too, after the catalog changed.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.watch_delivery import fire_watches
from recommender import Catalog, ShopStore, config, plural
from recommender.store import exists as store_exists


def fire_after_change(db_path: Path) -> None:
    """Fire the watches the changed catalog at ``db_path`` makes due and say what happened (nothing
    without a shopper store: no shopper has asked for anything yet)."""
    where = config.store_target()
    if not store_exists(where):
        return
    with Catalog.open(db_path) as catalog, ShopStore.open(where) as store:
        fired = fire_watches(catalog, store)
    if fired.sent:
        click.echo(f"Sent {plural(len(fired.sent), 'message')} of watches that came true.")
    if fired.failed:
        click.echo(f"{plural(len(fired.failed), 'message')} of watches that came true could not be sent: "
                   f"{fired.failed[0][1]}. They are sent at the next change or by 'shopbot watches fire'.", err=True)


@click.group("watches")
def watches() -> None:
    """What shoppers asked to be told about: "tell me when it's back in stock", "... under 20".

    Example:

        shopbot watches fire
    """


@click.command("fire")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Catalog file. Default: $SHOPBOT_CATALOG or var/catalog.db.")
def fire(db_path: Path | None) -> None:
    """Message every shopper whose watch the catalog now meets, each watch once, through the running
    assistant (shopbot serve --enable-api; $SHOPBOT_RASA_URL, default http://127.0.0.1:5005).

    Example:

        shopbot watches fire
    """
    fire_after_change(db_path or config.catalog_path())


watches.add_command(fire)
