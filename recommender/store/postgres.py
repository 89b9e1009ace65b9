"""Connecting the shopper store to PostgreSQL, which several servers share (docs/deployment.md).

The store's URL comes from the environment (``SHOPBOT_STORE=postgresql://shopbot@db.internal:5432/shop``);
its password had better come from ``$PGPASSWORD`` or ``~/.pgpass`` than from the URL, and it is never
written in a message or a log line (``redacted``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from recommender.errors import StoreError

CONNECT_TIMEOUT_S = 10


def redacted(url: str) -> str:
    """The URL without its password: ``postgresql://shop:secret@h/db`` -> ``postgresql://shop@h/db``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=user + host))


def connect(url: str) -> tuple[Any, str]:
    """A psycopg2 connection in autocommit mode (the store begins its own transactions), and the URL to name
    it by. Raises StoreError when the database cannot be reached."""
    import psycopg2

    where = redacted(url)
    try:
        conn = psycopg2.connect(url, connect_timeout=CONNECT_TIMEOUT_S, application_name="shopbot")
    except psycopg2.Error as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StoreError(f"Cannot reach the shopper store at {where}: {reason}. "
                         "Check SHOPBOT_STORE and the database's password ($PGPASSWORD).") from e
    conn.autocommit = True
    return conn, where
