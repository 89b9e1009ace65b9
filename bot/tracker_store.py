"""Rasa's SQL tracker store, plus what it lacks: forgetting a conversation when the shopper asks.

`endpoints.yml` names it (`type: bot.tracker_store.ForgettingSQLTrackerStore`, SQLite by default), so
conversations survive a restart of the servers. It stores turns exactly as Rasa's `SQLTrackerStore`
does, except one: when a turn ran `action_forget_me` and that action restarted the conversation (it
does only after deleting the shopper's cart, orders, likes and events), saving the turn deletes every
stored event of that sender, in every session, and stores nothing of the turn (on SQLite with
`secure_delete`, so the bytes are zeroed, and the write-ahead log emptied after the commit). The
sender's next message starts a new conversation.

It also keeps conversations for the retention period only ($SHOPBOT_RETENTION_DAYS, default 90 days,
`bot.settings.retention_days`): when Rasa opens the store at start, and on `shopbot retention apply`,
a conversation silent for longer is deleted whole; of one still going, the sessions older than the
period are deleted (Rasa reads only the current session, which stays whole). Deleted as forget
deletes: bytes zeroed, the write-ahead log emptied; the log counts them, never a sender or a text.

On SQLite the file is in WAL mode with `synchronous = NORMAL`: a commit appends to the log without an
fsync (~0.05 ms instead of ~4 ms here, and the commit blocks the Rasa server's event loop); a power cut
may lose the last turns, never corrupt the file. Readers do not block the writer (two Rasa servers may
share the file, see docs/deployment.md).

Example (endpoints.yml):

    tracker_store:
      type: bot.tracker_store.ForgettingSQLTrackerStore
      dialect: sqlite
      db: var/conversations.db
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, Event, Restarted, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

from bot import retention, settings
from recommender.wal import empty_write_ahead_log

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

FORGET_ACTION = "action_forget_me"


def forgets(events: Iterable[Event]) -> bool:
    """Whether `events` hold a run of `action_forget_me` followed by the restart it returns on success."""
    ran = False
    for event in events:
        if isinstance(event, ActionExecuted) and event.action_name == FORGET_ACTION:
            ran = True
        elif ran and isinstance(event, Restarted):
            return True
    return False


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Every new SQLite connection: write-ahead log, no fsync per commit, deleted bytes zeroed."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA secure_delete = ON")  # only forget_me and retention delete
    cursor.close()


class ForgettingSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` that deletes a sender's whole conversation when they had themselves forgotten,
    and the conversations past the retention period when it opens.

    Args:
        expire_at_start: apply the retention period now (`expire`); False for `shopbot retention apply`,
            which applies its own.
    """

    def __init__(self, *args: Any, expire_at_start: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            # Rasa's engine opens a new connection per session (SQLAlchemy 1.4's NullPool for SQLite
            # files): each pays the open, and closing the last one checkpoints the log with an fsync.
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(url, poolclass=sa.pool.QueuePool,
                                           connect_args={"check_same_thread": False})
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)
        if expire_at_start:
            self.expire(settings.retention_days())

    def expire(self, days: int | None, *, dry_run: bool = False, now: datetime | None = None) -> dict[str, int]:
        """Delete the conversation events older than `days` (None: keep everything), in one transaction.

        A conversation whose last event is older goes whole; of one still going, the events before its
        current session's start go, and the current session stays whole.

        Returns:
            ``events`` deleted (or that a dry run would delete) and ``conversations`` deleted whole;
            {} when `days` is None.
        """
        if days is None:
            return {}
        before = retention.cutoff(days, now).timestamp()
        with self.session_scope() as session:
            bounds = self._expired(session, before)
            counts = {"events": 0, "conversations": sum(whole for _, _, whole in bounds)}
            for sender, bound, _ in bounds:
                older = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender,
                                                            self.SQLEvent.timestamp < bound)
                counts["events"] += older.count() if dry_run else older.delete(synchronize_session=False)
            if not dry_run:
                session.commit()
        if not dry_run:
            if counts["events"] and self.engine.dialect.name == "sqlite":
                self._empty_the_log(session)
            logger.info("Retention (%d days): deleted %s", days, counts)  # counts only, never a sender
        return counts

    def _expired(self, session: Session, before: float) -> list[tuple[str, float, bool]]:
        """(sender, the time before which their events go, whether that is all of them) for each
        conversation with an event older than `before` and not a single session still going."""
        event = self.SQLEvent
        started = sa.func.max(sa.case((event.type_name == SessionStarted.type_name, event.timestamp)))
        senders = (session.query(event.sender_id, sa.func.max(event.timestamp), started)
                   .group_by(event.sender_id).having(sa.func.min(event.timestamp) < before))
        return [(sender, before, True) if last < before else (sender, min(before, session_start), False)
                for sender, last, session_start in senders if last < before or session_start is not None]

    def _additional_events(self, session: Session, tracker: DialogueStateTracker) -> Iterator[Event]:
        new = list(super()._additional_events(session, tracker))
        if not forgets(new):
            return iter(new)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(session, "after_commit", self._empty_the_log, once=True)
        deleted = (session.query(self.SQLEvent)
                   .filter(self.SQLEvent.sender_id == tracker.sender_id)
                   .delete(synchronize_session=False))
        logger.info("forget_me: deleted the %d stored events of a conversation", deleted)
        return iter(())

    def _empty_the_log(self, _session: Session) -> None:
        """Checkpoint and truncate SQLite's write-ahead log: the forgotten events' bytes leave it too."""
        with self.engine.connect() as conn:
            empty_write_ahead_log(conn.connection.dbapi_connection, "events")
