"""Rasa's SQL tracker store, plus what it lacks: forgetting a conversation when the shopper asks.

`endpoints.yml` names it (`type: bot.tracker_store.ForgettingSQLTrackerStore`, SQLite by default), so
conversations survive a restart of the servers. It stores turns exactly as Rasa's `SQLTrackerStore`
does, except one: when a turn ran `action_forget_me` and that action restarted the conversation (it
does only after deleting the shopper's cart, orders, likes and events), saving the turn deletes every
stored event of that sender, in every session, and stores nothing of the turn (on SQLite with
`secure_delete`, so the bytes are zeroed, and the write-ahead log emptied after the commit). The
sender's next message starts a new conversation.

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
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, Event, Restarted
from rasa.shared.core.trackers import DialogueStateTracker

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
    cursor.execute("PRAGMA secure_delete = ON")  # only forget_me deletes
    cursor.close()


class ForgettingSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` that deletes a sender's whole conversation when they had themselves forgotten."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
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
