"""Bulk inserts for the projections: one round trip per page, not per row, and no per-row SQL compilation; and
SQLite rows read back the same way (`sqlite_rows`).

SQLAlchemy's ``conn.execute(table.insert(), rows)`` builds a parameter dict per row through every column's
type processors (most of a catch-up's time, measured). Here the INSERT is compiled once per table and the
rows go to the driver as tuples of values: ``executemany`` on SQLite (times in SQLAlchemy's own SQLite text
format, so reads through SQLAlchemy see the same values), ``COPY … FROM STDIN`` on PostgreSQL, in the caller's
transaction.
"""
from __future__ import annotations

import gc
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import cache, lru_cache

from sqlalchemy import Boolean, ColumnElement, Connection, Table, column, select

from projections.tables import UTCDateTime

UTC = timezone.utc

# sqlite3 binds None and bool only after failing to find an adapter for them (a missed dict lookup, then
# ``__adapt__`` and ``__conform__`` looked up and not found): 0.4 µs a value, half of a wide row's insert
# (measured: 28 NULLs 13.9 -> 5.9 µs a row). Registered adapters give the same values, bound as before.
sqlite3.register_adapter(type(None), lambda value: None)
sqlite3.register_adapter(bool, int)


# a page repeats many times (dates of imported steps, deadlines); bounded, as a flush of 120,000 summary rows holds
# ~2 million distinct ones (kept in a dict, they were a third of a 50× SQLite rebuild's peak memory)
@lru_cache(maxsize=2**16)
def _sqlite_datetime(value: datetime | None) -> str | None:
    # == SQLAlchemy's SQLite DATETIME storage format ("%Y-%m-%d %H:%M:%S.%f"), in UTC, as UTCDateTime stores it;
    # cutting the "+00:00" off is cheaper than a naive copy (measured: ~4 µs an event in catch-up)
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")[:26]


@cache
def _plan(table: Table, dialect) -> tuple[str, tuple]:
    """The statement (SQLite: INSERT; PostgreSQL: binary COPY) and the positions of the columns holding times
    (SQLite) or the columns' PostgreSQL types (binary COPY: psycopg's C dumpers, ~3x less CPU than the text format)."""
    names = [c.name for c in table.columns]
    if dialect.name == "sqlite":
        quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
        sql = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({quoted}) " \
              f"VALUES ({', '.join('?' * len(names))})"
        return sql, _time_positions(table)
    from psycopg import sql as pgsql

    copy = pgsql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        pgsql.Identifier(table.name), pgsql.SQL(", ").join(map(pgsql.Identifier, names)))
    return copy, tuple(_postgres_type(c.type) for c in table.columns)


def _time_positions(table: Table) -> tuple[int, ...]:
    return tuple(i for i, c in enumerate(table.columns) if isinstance(c.type, UTCDateTime))


def _postgres_type(kind) -> str:
    from sqlalchemy import BigInteger, Boolean, Float, Integer, String

    for sql_type, name in ((UTCDateTime, "timestamptz"), (BigInteger, "int8"), (Integer, "int4"),
                           (Float, "float8"), (Boolean, "bool"), (String, "text")):
        if isinstance(kind, sql_type):
            return name
    raise TypeError(f"no binary COPY type for {kind!r}")


def new_row(table: Table) -> dict:
    """A row of `table` with every column NULL, in the table's column order (its values as `insert_rows` wants
    them)."""
    return dict.fromkeys(c.name for c in table.columns)


def insert_rows(conn: Connection, table: Table, rows: Iterable[Sequence], texts: dict[datetime, str] | None = None) \
        -> None:
    """Insert these rows in one round trip. Each row is the values of every column of `table`, in the table's order
    (a tuple; `tuple(row.values())` of a row from `new_row`): they go to the driver as they are, but on SQLite its
    times become SQLAlchemy's UTC text for them (`texts`: the text of times already known, as `sqlite_rows` gives
    them). (sqlite3 binds booleans as 0/1 and floats as REAL, as SQLAlchemy's own processors would.) `rows` may be
    an iterator: each row is made as it is sent (a catch-up's 100,000 summary rows need not exist twice)."""
    rows = _of_width(rows, table)
    dialect = conn.dialect
    if dialect.name == "sqlite":
        sql, times = _plan(table, dialect)
        texts = {} if texts is None else texts
        if times:
            rows = (_with_time_texts(row, times, texts) for row in rows)
        # the sqlite3 connection of this transaction
        conn.connection.driver_connection.executemany(sql, rows)
    elif dialect.name == "postgresql" and dialect.driver == "psycopg":
        copy_sql, types = _plan(table, dialect)
        raw = conn.connection.driver_connection  # the psycopg connection of this transaction
        with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
    else:  # any other driver: SQLAlchemy's executemany
        names = [c.name for c in table.columns]
        values = [dict(zip(names, row)) for row in rows]
        if values:
            conn.execute(table.insert(), values)


def _of_width(rows: Iterable[Sequence], table: Table) -> Iterator[Sequence]:
    width = len(table.columns)
    for row in rows:
        if len(row) != width:
            raise ValueError(f"{table.name}: a row does not have exactly the table's {width} columns")
        yield row


def _with_time_texts(row: Sequence, times: tuple[int, ...], texts: dict[datetime, str]) -> list:
    values = list(row)
    for i in times:
        value = values[i]
        if value is not None:
            values[i] = texts.get(value) or _sqlite_datetime(value)
    return values


def sqlite_rows(conn: Connection, table: Table, where: ColumnElement[bool],
                texts: dict[datetime, str] | None = None) -> list[list]:
    """The rows of `table` matching `where`, each as the values of every column in the table's order, as
    ``select(table)`` gives them, read in the driver's form (untyped columns) and converted here: SQLAlchemy's
    processors parse each time with a regular expression (2 µs a time against 0.1 here; a summary row has 17).
    `texts` is told each time's stored text, so that writing the row back need not format it again."""
    columns = [c.name for c in table.columns]
    times = _time_positions(table)
    flags = [i for i, c in enumerate(table.columns) if isinstance(c.type, Boolean)]
    result = conn.execute(select(*(column(name) for name in columns)).select_from(table).where(where))
    parse, remember = datetime.fromisoformat, texts is not None
    rows = []
    for stored in result:
        values = list(stored)
        for i in times:
            text = values[i]
            if text is not None:
                values[i] = value = parse(text + "+00:00")  # SQLAlchemy's UTC text, as UTCDateTime gives it back
                if remember:
                    texts[value] = text
        for i in flags:
            if values[i] is not None:
                values[i] = bool(values[i])
        rows.append(values)
    return rows


@contextmanager
def paused_gc():
    """Pause the cyclic garbage collector (tuples of plain values hold no cycles): transposing 600k rows
    takes 2.5x less time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
