"""Retention (issue 17, item 3): conversations, events and silent anonymous carts older than the period
are deleted for good, at server start and by `shopbot retention apply`; orders stay."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import identity, retention, settings
from bot.cli import cli
from bot.servers import rasa_env
from bot.tracker_store import ForgettingSQLTrackerStore
from recommender.catalog.products import Catalog
from recommender.config import REPO_ROOT
from recommender.store import ShopStore
from tests.stores import all_rows, mentions, sql

NOW = datetime.now(timezone.utc)
OLD = NOW - timedelta(days=100)  # past the default 90 days
RECENT = NOW - timedelta(days=1)
SECRET = "send it to 12 Secret Lane"
KEY = "k" * 32
ANON_SILENT = identity.shopper(identity.issue(KEY), KEY)  # an anonymous widget visitor's id
ANON_ACTIVE = identity.shopper(identity.issue(KEY), KEY)
ANON_ORDERED = identity.shopper(identity.issue(KEY), KEY)
SIGNED_IN = "shopper-42"  # an id the shop itself signs: not anonymous


@pytest.fixture(autouse=True)
def _default_period(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOPBOT_RETENTION_DAYS", raising=False)


def on_disk(path: Path) -> bytes:
    """The bytes of a SQLite file and of its write-ahead log."""
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


# -- the setting and who is anonymous --------------------------------------------------------------


@pytest.mark.parametrize(("value", "days"), [(None, 90), ("30", 30), (" 7 ", 7), ("0", None), ("never", None),
                                             ("Never", None)])
def test_the_period_comes_from_one_variable(monkeypatch: pytest.MonkeyPatch, value: str | None,
                                            days: int | None) -> None:
    if value is not None:
        monkeypatch.setenv("SHOPBOT_RETENTION_DAYS", value)
    assert settings.retention_days() == days


@pytest.mark.parametrize("value", ["-5", "90d", "1.5", "soon", "36501"])
def test_a_bad_period_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SHOPBOT_RETENTION_DAYS", value)
    with pytest.raises(settings.InvalidSetting, match=rf"^SHOPBOT_RETENTION_DAYS='{value}' is not a number of "
                                                      r"days: set a whole number from 1 to 36500"):
        settings.retention_days()


def test_a_bad_period_stops_the_rasa_server_at_start_with_that_line(tmp_path: Path) -> None:
    """Its tracker store applies the period at start: the bad value is one line, before Rasa runs."""
    env = {**rasa_env(), "SHOPBOT_RETENTION_DAYS": "soon", "SHOPBOT_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "bot.rasa_server", "run"], env=env, capture_output=True,
                          text=True, timeout=60, cwd=REPO_ROOT)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("Error: SHOPBOT_RETENTION_DAYS='soon' is not a number of days")
    assert len(done.stderr.strip().splitlines()) == 1


def test_anonymous_ids_are_the_widget_visitors() -> None:
    key = "k" * 32
    assert identity.is_anonymous(identity.shopper(identity.issue(key), key))   # the id a new visitor is given
    assert not identity.is_anonymous(identity.shopper(identity.issue(key, "customer-42"), key))
    assert identity.is_anonymous(ANON_SILENT)
    assert identity.is_anonymous(f"web:{ANON_SILENT}")  # under the widget channel's sender prefix
    for shop_id in (SIGNED_IN, "A1YJEY40YUW4SE", f"rest:{ANON_SILENT}", f"{ANON_SILENT}x", "web-1234"):
        assert not identity.is_anonymous(shop_id), shop_id


# -- the shopper store: events and anonymous carts ---------------------------------------------------


class Clock:
    """A clock the test sets."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def filled(target: Path | str, catalog: Catalog) -> Iterator[ShopStore]:
    """A store holding 100-day-old rows of four shoppers, and a few recent ones."""
    clock = Clock(OLD)
    with ShopStore.open(target, clock=clock) as store:
        store.log_events(ANON_SILENT, "shown", ["p1", "p2"], "search")
        store.add_to_cart(ANON_SILENT, "p1", source="search", message_id="m1")
        store.like(ANON_SILENT, "p5")
        store.add_to_cart(ANON_ACTIVE, "p2", message_id="m1")
        for shopper in (ANON_ORDERED, SIGNED_IN):
            store.add_to_cart(shopper, "p1", message_id="m1")
            store.checkout(shopper, catalog)
            store.add_to_cart(shopper, "p2", message_id="m2")
        store.like(SIGNED_IN, "p6")
        store.watch(SIGNED_IN, "p4", "in_stock", "callback", days=1)  # expired 99 days ago
        clock.now = RECENT
        store.watch(SIGNED_IN, "p3", "in_stock", "callback", days=30)
        store.log_events(ANON_ACTIVE, "shown", ["p3"], "search")  # came back yesterday
        store.log_events(SIGNED_IN, "shown", ["p3"], "recommend")
        yield store


@pytest.fixture
def shop(store_target: Path | str, tiny_catalog: Catalog) -> Iterator[tuple[ShopStore, Path | str]]:
    """``filled`` on either engine, and where it is."""
    with filled(store_target, tiny_catalog) as store:
        yield store, store_target


# events: 3 + 1 + 3 + 3 old ones; cart changes: 1 + 1 + 2 + 2; a watch that expired; the silent visitor's cart
# line and like
EXPIRED = {"events": 10, "cart_changes": 6, "watches": 1, "cart": 1, "feedback": 1, "shoppers": 1}


def test_old_events_and_silent_anonymous_carts_go_orders_stay(shop: tuple[ShopStore, Path | str],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    store, target = shop
    assert mentions(all_rows(target), ANON_SILENT)
    kept = {s: (store.cart_lines(s), store.feedback(s), store.orders(s))
            for s in (ANON_ACTIVE, ANON_ORDERED, SIGNED_IN)}
    with caplog.at_level(logging.INFO):
        assert retention.expire_store(store, 90) == EXPIRED
    assert mentions(all_rows(target), ANON_SILENT) == []  # cart, like, cart change, events
    assert store.cart_lines(ANON_SILENT) == [] and store.feedback(ANON_SILENT).liked == []
    assert {s: (store.cart_lines(s), store.feedback(s), store.orders(s)) for s in kept} == kept
    assert len(store.orders(SIGNED_IN)) == 1 and len(store.orders(ANON_ORDERED)) == 1
    assert sql(target, "SELECT shopper_id, source FROM events ORDER BY shopper_id") == sorted(
        [(ANON_ACTIVE, "search"), (SIGNED_IN, "recommend")])
    assert sql(target, "SELECT count(*) FROM cart_changes") == [(0,)]
    assert "Retention: deleted" in caplog.text
    for shopper in (ANON_SILENT, ANON_ACTIVE, SIGNED_IN):
        assert shopper not in caplog.text  # counts only
    assert retention.expire_store(store, 90) == dict.fromkeys(EXPIRED, 0)


def test_expired_rows_are_zeroed_in_the_sqlite_file_and_leave_its_log(tmp_path: Path, tiny_catalog: Catalog) -> None:
    path = tmp_path / "shop.db"
    with filled(path, tiny_catalog) as store:
        assert ANON_SILENT.encode() in on_disk(path)
        assert retention.expire_store(store, 90) == EXPIRED
        assert ANON_SILENT.encode() not in on_disk(path)


def test_a_dry_run_counts_what_expire_deletes(shop: tuple[ShopStore, Path | str]) -> None:
    store, target = shop
    before = all_rows(target)
    assert retention.expire_store(store, 90, dry_run=True) == EXPIRED
    assert all_rows(target) == before
    assert retention.expire_store(store, 120, dry_run=True) == dict.fromkeys(EXPIRED, 0)  # nothing that old
    assert retention.expire_store(store, None) == {}  # kept forever
    assert all_rows(target) == before


def test_the_action_server_start_applies_the_configured_period(shop: tuple[ShopStore, Path | str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # bot.action_server.load runs exactly this call on the store it opens
    store, _ = shop
    monkeypatch.setenv("SHOPBOT_RETENTION_DAYS", "never")
    assert retention.expire_store(store, settings.retention_days()) == {}
    monkeypatch.setenv("SHOPBOT_RETENTION_DAYS", "120")
    assert retention.expire_store(store, settings.retention_days()) == dict.fromkeys(EXPIRED, 0)
    monkeypatch.delenv("SHOPBOT_RETENTION_DAYS")
    assert retention.expire_store(store, settings.retention_days()) == EXPIRED


# -- conversations ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(REPO_ROOT / "domain.yml")


def dated(when: datetime, *events: Event) -> list[Event]:
    for event in events:
        event.timestamp = when.timestamp()
    return list(events)


def session(when: datetime, text: str) -> list[Event]:
    """A session started at `when` with one turn."""
    return dated(when, ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
                 UserUttered(text, {"name": "search_products", "confidence": 1.0}), SlotSet("category", text),
                 ActionExecuted("action_listen"))


def save(store: ForgettingSQLTrackerStore, sender: str, events: list[Event], domain: Domain) -> None:
    tracker = asyncio.run(store.retrieve(sender)) or DialogueStateTracker(sender, domain.slots)
    for event in events:
        tracker.update(event, domain)
    asyncio.run(store.save(tracker))


def stored(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        counts = dict(db.execute("SELECT sender_id, count(*) FROM events GROUP BY sender_id"))
    db.close()
    return counts


@pytest.fixture
def conversations(tmp_path: Path, domain: Domain) -> Path:
    """ann: silent 100 days; bob: yesterday; carol: a session 100 days ago and one yesterday;
    dave: one session, begun 100 days ago and still going (kept whole: Rasa reads all of it)."""
    path = tmp_path / "conversations.db"
    store = ForgettingSQLTrackerStore(dialect="sqlite", db=str(path), expire_at_start=False)
    save(store, "ann", session(OLD, SECRET), domain)
    save(store, "bob", session(RECENT, "shampoo"), domain)
    save(store, "carol", session(OLD, f"carol {SECRET}") + session(RECENT, "lipstick"), domain)
    still_going = dated(RECENT, UserUttered("cheaper"), ActionExecuted("action_listen"))
    save(store, "dave", session(OLD, "perfume") + still_going, domain)
    store.engine.dispose()
    assert stored(path) == {"ann": 6, "bob": 6, "carol": 12, "dave": 8}
    return path


def test_conversations_older_than_the_period_are_gone(conversations: Path, domain: Domain,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    store = ForgettingSQLTrackerStore(domain=domain, dialect="sqlite", db=str(conversations), expire_at_start=False)
    carol = asyncio.run(store.retrieve("carol")).current_state()
    with caplog.at_level(logging.INFO, logger="bot.tracker_store"):
        assert store.expire(90) == {"events": 12, "conversations": 1}
    assert stored(conversations) == {"bob": 6, "carol": 6, "dave": 8}
    assert SECRET.encode() not in on_disk(conversations)  # zeroed in the file, and the log emptied
    assert asyncio.run(store.retrieve("ann")) is None  # the next message starts anew
    assert asyncio.run(store.retrieve("carol")).current_state() == carol  # what Rasa reads is unchanged
    assert asyncio.run(store.retrieve("dave")).latest_message.text == "cheaper"
    assert "Retention (90 days): deleted {'events': 12, 'conversations': 1}" in caplog.text
    assert "ann" not in caplog.text and "carol" not in caplog.text
    assert store.expire(90) == {"events": 0, "conversations": 0}


def test_rasa_opening_the_tracker_store_applies_the_period(conversations: Path, domain: Domain,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = EndpointConfig(type="bot.tracker_store.ForgettingSQLTrackerStore", dialect="sqlite",
                              db=str(conversations))
    monkeypatch.setenv("SHOPBOT_RETENTION_DAYS", "never")
    TrackerStore.create(endpoint, domain=domain).engine.dispose()
    assert stored(conversations) == {"ann": 6, "bob": 6, "carol": 12, "dave": 8}
    monkeypatch.delenv("SHOPBOT_RETENTION_DAYS")
    store = TrackerStore.create(endpoint, domain=domain)  # as `rasa run` does with endpoints.yml
    assert isinstance(store, ForgettingSQLTrackerStore)
    assert stored(conversations) == {"bob": 6, "carol": 6, "dave": 8}
    assert SECRET.encode() not in on_disk(conversations)


# -- the command line -----------------------------------------------------------------------------------


def test_the_cli_dry_run_deletes_nothing_and_prints_counts(conversations: Path,
                                                           shop: tuple[ShopStore, Path | str]) -> None:
    _, store_target = shop
    files = ["--store", str(store_target), "--tracker", str(conversations)]
    before = (stored(conversations), all_rows(store_target))
    result = CliRunner().invoke(cli, ["retention", "apply", "--dry-run", *files])
    assert result.exit_code == 0, result.output
    assert "Keeping 90 days: what is older than " in result.output
    assert f"conversations ({conversations}): would delete events 12, conversations 1\n" in result.output
    assert (f"shopper store ({store_target}): would delete events 10, cart changes 6, watches 1, cart 1, feedback 1, "
            "shoppers 1\n") in result.output
    assert result.output.endswith("Dry run: nothing was deleted.\n")
    assert (stored(conversations), all_rows(store_target)) == before

    result = CliRunner().invoke(cli, ["retention", "apply", *files])
    assert result.exit_code == 0, result.output
    assert "conversations" in result.output and "deleted events 12, conversations 1" in result.output
    assert "deleted events 10, cart changes 6, watches 1, cart 1, feedback 1, shoppers 1" in result.output
    assert stored(conversations) == {"bob": 6, "carol": 6, "dave": 8}
    assert mentions(all_rows(store_target), ANON_SILENT) == [] and SECRET.encode() not in on_disk(conversations)


def test_the_cli_period_option_env_and_missing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = ["--store", str(tmp_path / "shop.db"), "--tracker", str(tmp_path / "conversations.db")]
    result = CliRunner().invoke(cli, ["retention", "apply", "--days", "30", *files])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Keeping 30 days")
    assert "no file yet" in result.output and not list(tmp_path.iterdir())  # nothing created
    monkeypatch.setenv("SHOPBOT_RETENTION_DAYS", "never")
    result = CliRunner().invoke(cli, ["retention", "apply", *files])
    assert result.output.startswith("Retention is off (SHOPBOT_RETENTION_DAYS is 0 or never): nothing deleted.")
    monkeypatch.setenv("SHOPBOT_RETENTION_DAYS", "soon")
    result = CliRunner().invoke(cli, ["retention", "apply", *files])
    assert result.exit_code == 1
    assert result.output.startswith("Error: SHOPBOT_RETENTION_DAYS='soon' is not a number of days")
    result = CliRunner().invoke(cli, ["retention", "apply", "--days", "0", *files])
    assert result.exit_code == 2 and "Invalid value for '--days'" in result.output
