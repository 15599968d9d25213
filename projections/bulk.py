"""Bulk inserts for the projections: one round trip per page, not per row, and no per-row SQL compilation.

SQLAlchemy's ``conn.execute(table.insert(), rows)`` builds a parameter dict per row through every column's
type processors (most of a catch-up's time, measured). Here the INSERT is compiled once per table and the
rows go to the driver as tuples: ``executemany`` on SQLite (times in SQLAlchemy's own SQLite text format, so
reads through SQLAlchemy see the same values), ``COPY … FROM STDIN`` on PostgreSQL, in the caller's
transaction.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache
from operator import itemgetter

from sqlalchemy import Connection, Table

from projections.tables import UTCDateTime

UTC = timezone.utc


def _sqlite_datetime(value: datetime | None) -> str | None:
    # == SQLAlchemy's SQLite DATETIME storage format ("%Y-%m-%d %H:%M:%S.%f"), in UTC, as UTCDateTime stores it
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


@cache
def _sqlite_plan(table: Table, dialect) -> tuple[str, list[str], list[tuple[int, object]]]:
    names = [c.name for c in table.columns]
    processors = []  # (index, function) for the columns whose values need converting
    for i, column in enumerate(table.columns):
        proc = _sqlite_datetime if isinstance(column.type, UTCDateTime) else \
            column.type._cached_bind_processor(dialect)
        if proc is not None:
            processors.append((i, proc))
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
    sql = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({quoted}) " \
          f"VALUES ({', '.join('?' * len(names))})"
    return sql, names, processors


def _values(rows: list[dict], names: list[str]) -> list[list]:
    get = itemgetter(*names)
    try:
        return [list(get(row)) for row in rows]
    except KeyError:  # a row without some column: NULL there
        return [[row.get(name) for name in names] for row in rows]


def insert_rows(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Insert these rows (dicts by column name; a missing column is NULL) in one round trip."""
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name == "sqlite":
        sql, names, processors = _sqlite_plan(table, dialect)
        params = _values(rows, names)
        for values in params:
            for i, proc in processors:
                values[i] = proc(values[i])
        conn.connection.driver_connection.executemany(sql, params)  # the sqlite3 connection of this transaction
    elif dialect.name == "postgresql" and dialect.driver == "psycopg":
        from psycopg import sql as pgsql

        names = [c.name for c in table.columns]
        copy_sql = pgsql.SQL("COPY {} ({}) FROM STDIN").format(
            pgsql.Identifier(table.name), pgsql.SQL(", ").join(map(pgsql.Identifier, names)))
        raw = conn.connection.driver_connection  # the psycopg connection of this transaction
        with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for values in _values(rows, names):
                copy.write_row(values)
    else:  # any other driver: SQLAlchemy's executemany
        conn.execute(table.insert(), rows)


def read_frame(read_side, table: Table, query=None):
    """A query on a read-model table as a pandas DataFrame, like building it from ``read_side.rows(query)`` but
    without SQLAlchemy's per-row result processing (measured: most of an audit's time on 20k cases): the
    driver's rows are transposed into columns and times parsed per column, vectorised."""
    import pandas as pd
    from sqlalchemy import Boolean, select

    query = query if query is not None else select(table)
    read_side.catch_up()
    names = [c.name for c in table.columns]
    with read_side.engine.connect() as conn:
        dialect = conn.dialect
        compiled = query.compile(dialect=dialect)
        params = compiled.params
        plain = all(v is None or isinstance(v, (str, int, float)) for v in params.values())
        if not plain or [c.name for c in query.selected_columns] != names:
            rows = [dict(row._mapping) for row in conn.execute(query)]  # the general path
            frame = pd.DataFrame(rows, columns=names)
            for column in table.columns:
                if isinstance(column.type, UTCDateTime):
                    frame[column.name] = pd.to_datetime(frame[column.name], utc=True)
            return frame
        if compiled.positiontup is not None:
            params = tuple(params[k] for k in compiled.positiontup)
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(compiled.string, params)
            rows = cursor.fetchall()
        finally:
            cursor.close()
    if not rows:
        frame = pd.DataFrame([], columns=names)
        for column in table.columns:
            if isinstance(column.type, UTCDateTime):
                frame[column.name] = pd.to_datetime(frame[column.name], utc=True)
        return frame
    data = {}
    for name, column, values in zip(names, table.columns, zip(*rows)):
        if isinstance(column.type, UTCDateTime):
            parsed = pd.to_datetime(pd.Series(values, dtype=object), utc=True,
                                    format="ISO8601" if dialect.name == "sqlite" else None)
            data[name] = parsed.dt.as_unit("us")
        elif isinstance(column.type, Boolean) and dialect.name == "sqlite":
            data[name] = [None if v is None else bool(v) for v in values]
        else:
            data[name] = list(values)
    return pd.DataFrame(data, columns=names)
