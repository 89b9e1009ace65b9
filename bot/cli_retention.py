"""``shopbot retention ...``: delete now what is older than the retention period (the servers also do at start)."""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from pathlib import Path

import click

from bot import retention as policy
from bot import settings
from bot.cli_store import store_option
from recommender import config
from recommender.store import exists as store_exists


def _counts(counts: dict[str, int], dry_run: bool) -> str:
    """``{"cart_changes": 2}`` -> "deleted cart changes 2"."""
    verb = "would delete" if dry_run else "deleted"
    return f"{verb} " + ", ".join(f"{name.replace('_', ' ')} {n:,}" for name, n in counts.items())


def _conversations(path: Path, days: int, dry_run: bool, now: datetime) -> str:
    if not path.is_file():
        return "no file yet"
    with warnings.catch_warnings():  # Rasa's notes on SQLAlchemy 2.0 say nothing to an operator
        warnings.simplefilter("ignore", DeprecationWarning)
        from bot.tracker_store import ForgettingSQLTrackerStore  # loads Rasa: only when there is a file

        tracker = ForgettingSQLTrackerStore(dialect="sqlite", db=str(path), expire_at_start=False)
    try:
        return _counts(tracker.expire(days, dry_run=dry_run, now=now), dry_run)
    finally:
        tracker.engine.dispose()


def _store(where: Path | str, days: int, dry_run: bool, now: datetime) -> str:
    if not store_exists(where):
        return "no file yet"
    from recommender import ShopStore

    with ShopStore.open(where) as store:
        return _counts(policy.expire_store(store, days, dry_run=dry_run, now=now), dry_run)


@click.group("retention")
def retention() -> None:
    """Keep conversations, events and anonymous carts for the retention period only.

    The period is $SHOPBOT_RETENTION_DAYS (default 90 days; 0 or never keeps everything); the
    servers apply it when they start. What is kept and for how long: README.md.

    Example:

        shopbot retention apply --dry-run
    """


@retention.command("apply")
@click.option("--days", type=click.IntRange(1, settings.MAX_RETENTION_DAYS), default=None, metavar="N",
              help="Keep N days. Default: $SHOPBOT_RETENTION_DAYS, or 90.")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@store_option
@click.option("--tracker", "tracker_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Conversations file (SQLite). Default: $SHOPBOT_TRACKER or var/conversations.db.")
def apply(days: int | None, dry_run: bool, store: str | None, tracker_path: Path | None) -> None:
    """Delete the conversations, events and anonymous carts older than the retention period.

    Deleted as forget deletes (rows zeroed on disk, the write-ahead log emptied). A conversation
    silent for the period goes whole, an older session of a running one goes; events older than
    the period go; the carts and likes of anonymous shoppers silent that long who never ordered go.
    Orders stay. Prints the counts per file, never an id.

    Examples:

    \b
        shopbot retention apply --dry-run       # what would go, with the configured period
        shopbot retention apply                 # delete it
        shopbot retention apply --days 30 --store var/shop.db --tracker var/conversations.db
    """
    days = days or settings.retention_days()
    if days is None:
        click.echo("Retention is off (SHOPBOT_RETENTION_DAYS is 0 or never): nothing deleted. "
                   "Pass --days N to delete what is older than N days.")
        return
    now = datetime.now(timezone.utc)
    tracker_path, where = tracker_path or settings.tracker_path(), config.store_target(store)
    click.echo(f"Keeping {days} days: what is older than {policy.cutoff(days, now):%Y-%m-%d %H:%M} UTC goes.")
    click.echo(f"conversations ({tracker_path}): {_conversations(tracker_path, days, dry_run, now)}")
    click.echo(f"shopper store ({where}): {_store(where, days, dry_run, now)}")
    if dry_run:
        click.echo("Dry run: nothing was deleted.")
