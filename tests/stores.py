"""Looking into a shopper store from outside, through a connection of its own, on either engine: a SQLite
file's path, or a PostgreSQL database's URL (tests/postgres_server.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2

from recommender.store.dialects import POSTGRES, is_database_url


@contextmanager
def connected(target: str | Path) -> Iterator[Any]:
    """A DB-API connection to the store, each statement committed on its own."""
    if is_database_url(target):
        conn = psycopg2.connect(str(target))
        conn.autocommit = True
    else:
        conn = sqlite3.connect(target, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def sql(target: str | Path, statement: str, params: tuple | list = ()) -> list[tuple]:
    """Run one statement (with ``?`` parameters, as the store writes them); its rows, if any."""
    with connected(target) as conn:
        cursor = conn.cursor()
        cursor.execute(POSTGRES.sql(statement) if is_database_url(target) else statement, params)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def columns(target: str | Path) -> dict[str, list[str]]:
    """Each table's columns, in order (on PostgreSQL with the ``rowid`` SQLite keeps out of sight)."""
    if is_database_url(target):
        rows = sql(target, "SELECT table_name, column_name FROM information_schema.columns"
                           " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position")
    else:
        rows = [(t, c) for (t,) in sql(target, "SELECT name FROM sqlite_master WHERE type = 'table'")
                for (c,) in sql(target, "SELECT name FROM pragma_table_info(?)", (t,))]
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    return found


def all_rows(target: str | Path) -> dict[str, list[tuple]]:
    """Every row of every table, in the order written (by SQLite's rowid; on PostgreSQL by the first column,
    its rowid or identity key), without PostgreSQL's rowid."""
    rows = {}
    for table, names in columns(target).items():  # our own table and column names
        order = names[0] if is_database_url(target) else "rowid"
        shown = ", ".join(name for name in names if name != "rowid")
        rows[table] = sql(target, f"SELECT {shown} FROM {table} ORDER BY {order}")
    return rows


def mentions(rows: dict[str, list[tuple]], value: str) -> list[tuple[str, tuple]]:
    """The (table, row) of ``all_rows`` that hold ``value`` in a column."""
    return [(table, row) for table, table_rows in rows.items() for row in table_rows if value in row]


@contextmanager
def failing(target: str | Path, event: str, table: str, when: str | None = None) -> Iterator[type[Exception]]:
    """A trigger that fails every ``event`` ("BEFORE DELETE") on ``table`` (``when``: only the rows where
    this holds, of NEW), as a full disk would; yields the error the store then raises."""
    if is_database_url(target):
        condition = f"WHEN ({when}) " if when else ""
        sql(target, "CREATE FUNCTION fail() RETURNS trigger AS $$"
                    " BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql")
        sql(target, f"CREATE TRIGGER fail {event} ON {table} FOR EACH ROW {condition}EXECUTE FUNCTION fail()")
        error: type[Exception] = psycopg2.Error
    else:
        condition = f"WHEN {when} " if when else ""
        sql(target, f"CREATE TRIGGER fail {event} ON {table} {condition}BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        error = sqlite3.DatabaseError
    try:
        yield error
    finally:
        sql(target, f"DROP TRIGGER fail{' ON ' + table if is_database_url(target) else ''}")
