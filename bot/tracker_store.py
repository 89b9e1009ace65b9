"""Rasa's SQL tracker store, plus what it lacks: forgetting a conversation when the shopper asks.

`endpoints.yml` names it (`type: bot.tracker_store.ForgettingSQLTrackerStore`, SQLite by default), so
conversations survive a restart of the servers. It stores turns exactly as Rasa's `SQLTrackerStore`
does, except one: when a turn ran `action_forget_me` and that action restarted the conversation (it
does only after deleting the shopper's cart, orders, likes and events), saving the turn deletes every
stored event of that sender, in every session, and stores nothing of the turn (on SQLite with
`secure_delete`, so the bytes are zeroed). The sender's next message starts a new conversation.

Example (endpoints.yml):

    tracker_store:
      type: bot.tracker_store.ForgettingSQLTrackerStore
      dialect: sqlite
      db: var/conversations.db
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, Event, Restarted
from rasa.shared.core.trackers import DialogueStateTracker

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


class ForgettingSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` that deletes a sender's whole conversation when they had themselves forgotten."""

    def _additional_events(self, session: Session, tracker: DialogueStateTracker) -> Iterator[Event]:
        new = list(super()._additional_events(session, tracker))
        if not forgets(new):
            return iter(new)
        if self.engine.dialect.name == "sqlite":
            session.execute(sa.text("PRAGMA secure_delete = ON"))  # zero the deleted rows' bytes on disk
        deleted = (session.query(self.SQLEvent)
                   .filter(self.SQLEvent.sender_id == tracker.sender_id)
                   .delete(synchronize_session=False))
        logger.info("forget_me: deleted the %d stored events of a conversation", deleted)
        return iter(())
