"""bot.tracker_store: Rasa conversations in a SQLite file that survive a restart and can be forgotten."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (ActionExecuted, BotUttered, Event, Restarted, SessionStarted, SlotSet,
                                     UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import ForgettingSQLTrackerStore
from recommender.config import REPO_ROOT

SECRET = "send it to 12 Secret Lane"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(REPO_ROOT / "domain.yml")


def open_store(path: Path, domain: Domain) -> ForgettingSQLTrackerStore:
    return ForgettingSQLTrackerStore(domain=domain, dialect="sqlite", db=str(path))


def save(store: ForgettingSQLTrackerStore, sender: str, events: list[Event], domain: Domain) -> None:
    """Append `events` to the sender's stored conversation, as the Rasa server does after a turn."""
    tracker = asyncio.run(store.retrieve(sender)) or DialogueStateTracker(sender, domain.slots)
    for event in events:
        tracker.update(event, domain)
    asyncio.run(store.save(tracker))


def turn(text: str, intent: str, *bot: Event) -> list[Event]:
    return [UserUttered(text, {"name": intent, "confidence": 1.0}), *bot, ActionExecuted("action_listen")]


def on_disk(path: Path) -> bytes:
    """The bytes of the database file and of its write-ahead log."""
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def stored_senders(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT sender_id, count(*) FROM events GROUP BY sender_id"))


START = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
FORGET = turn("yes", "affirm", ActionExecuted("action_forget_me"), BotUttered("Done. I deleted ..."), Restarted())


def test_conversations_survive_a_new_store_on_the_same_file(tmp_path: Path, domain: Domain) -> None:
    path = tmp_path / "conversations.db"
    save(open_store(path, domain), "ann", START + turn("shampoo", "search_products", SlotSet("category", "Shampoos")),
         domain)
    tracker = asyncio.run(open_store(path, domain).retrieve("ann"))      # as after a restart
    assert tracker.get_slot("category") == "Shampoos"
    assert tracker.latest_message.text == "shampoo"


def test_sqlite_file_is_a_write_ahead_log_without_fsync_per_commit(tmp_path: Path, domain: Domain) -> None:
    path = tmp_path / "conversations.db"
    store = open_store(path, domain)
    save(store, "ann", START, domain)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    assert stored_senders(path) == {"ann": 3}


def test_forget_me_deletes_every_session_of_that_sender_only(tmp_path: Path, domain: Domain) -> None:
    path = tmp_path / "conversations.db"
    store = open_store(path, domain)
    for sender in ("ann", "bob"):
        save(store, sender, START + turn(SECRET, "search_products"), domain)
        save(store, sender, START + turn("forget me", "forget_me"), domain)  # a second session
    assert stored_senders(path) == {"ann": 10, "bob": 10}                # 2 sessions x (3 + 2) events

    save(store, "ann", FORGET, domain)

    assert stored_senders(path) == {"bob": 10}
    assert asyncio.run(store.retrieve("ann")) is None                   # the next message starts anew
    assert asyncio.run(store.retrieve_full_tracker("bob")).events[3].text == SECRET
    assert SECRET.encode() in on_disk(path)                               # bob's copy ...
    save(store, "bob", turn("also ring 555-0199", "search_products"), domain)
    assert b"555-0199" in path.with_name(path.name + "-wal").read_bytes()  # (a turn not yet copied from the log)
    save(store, "bob", FORGET, domain)
    assert SECRET.encode() not in on_disk(path)                           # ... zeroed on disk once forgotten
    assert b"555-0199" not in on_disk(path)                               # the log emptied too


@pytest.mark.parametrize("events", [
    turn("yes", "affirm", ActionExecuted("action_forget_me"), BotUttered("Sorry, that failed")),  # no restart
    turn("/restart", "restart", ActionExecuted("action_restart"), Restarted()),                    # not forget_me
])
def test_a_turn_that_did_not_forget_keeps_the_conversation(tmp_path: Path, domain: Domain,
                                                           events: list[Event]) -> None:
    path = tmp_path / "conversations.db"
    store = open_store(path, domain)
    save(store, "ann", START + turn(SECRET, "search_products"), domain)
    save(store, "ann", events, domain)
    assert stored_senders(path) == {"ann": 5 + len(events)}
