"""SQLite's write-ahead log emptied after a forget or a retention deletion, for the shop store and the
bot's tracker store.

Plain `sqlite3`, nothing else: the Rasa server's tracker store imports it without the store's sqlite-utils.
"""

from __future__ import annotations

import logging
import sqlite3

logger = logging.getLogger(__name__)


def empty_write_ahead_log(db: sqlite3.Connection, deleted: str) -> None:
    """Checkpoint and truncate the SQLite file's write-ahead log, so that the `deleted` rows (e.g.
    "events") leave it too; warn if another connection kept it in use beyond the busy timeout."""
    busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    if busy:
        logger.warning("The write-ahead log was in use and was not emptied: the deleted %s' bytes stay in it "
                       "until later writes overwrite them", deleted)
