"""Bulk inserts for the projections: one round trip per page, not per row, and no per-row SQL compilation.

SQLAlchemy's ``conn.execute(table.insert(), rows)`` builds a parameter dict per row through every column's
type processors (most of a catch-up's time, measured). Here the INSERT is compiled once per table and the
rows go to the driver as tuples: ``executemany`` on SQLite (times in SQLAlchemy's own SQLite text format, so
reads through SQLAlchemy see the same values), ``COPY … FROM STDIN`` on PostgreSQL, in the caller's
transaction.
"""

from __future__ import annotations

import gc
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import cache
from typing import Literal

from sqlalchemy import Connection, Table

from projections.tables import UTCDateTime

UTC = timezone.utc

# sqlite3 binds None and bool only after failing to find an adapter for them (a missed dict lookup, then
# ``__adapt__`` and ``__conform__`` looked up and not found): 0.4 µs a value, half of a wide row's insert
# (measured: 28 NULLs 13.9 -> 5.9 µs a row). Registered adapters give the same values, bound as before.
sqlite3.register_adapter(type(None), lambda value: None)
sqlite3.register_adapter(bool, int)


def _sqlite_datetime(value: datetime | None) -> str | None:
    # == SQLAlchemy's SQLite DATETIME storage format ("%Y-%m-%d %H:%M:%S.%f"), in UTC, as UTCDateTime stores it;
    # cutting the "+00:00" off is cheaper than a naive copy (measured: ~4 µs an event in catch-up)
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")[:26]


@cache
def _plan(table: Table, dialect) -> tuple[str, tuple[str, ...]]:
    """The statement (SQLite: INSERT; PostgreSQL: binary COPY) and the names of the columns holding times (SQLite)
    or the columns' PostgreSQL types (binary COPY: psycopg's C dumpers, ~3x less CPU than the text format)."""
    names = [c.name for c in table.columns]
    times = tuple(c.name for c in table.columns if isinstance(c.type, UTCDateTime))
    if dialect.name == "sqlite":
        quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
        sql = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({quoted}) " \
              f"VALUES ({', '.join('?' * len(names))})"
        return sql, times
    from psycopg import sql as pgsql

    copy = pgsql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        pgsql.Identifier(table.name), pgsql.SQL(", ").join(map(pgsql.Identifier, names)))
    return copy, tuple(_postgres_type(c.type) for c in table.columns)


def _postgres_type(kind) -> str:
    from sqlalchemy import BigInteger, Boolean, Float, Integer, String

    for sql_type, name in ((UTCDateTime, "timestamptz"), (BigInteger, "int8"), (Integer, "int4"),
                           (Float, "float8"), (Boolean, "bool"), (String, "text")):
        if isinstance(kind, sql_type):
            return name
    raise TypeError(f"no binary COPY type for {kind!r}")


def new_row(table: Table) -> dict:
    """A row of `table` with every column NULL, in the table's column order (as `insert_rows` wants it)."""
    return dict.fromkeys(c.name for c in table.columns)


def insert_rows(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Insert these rows in one round trip. Each row is a dict of every column of `table` in the table's
    order (from `new_row`, or a row read with ``select(table)``): its values go to the driver as they are, but
    on SQLite its times are replaced, in place, by SQLAlchemy's UTC text for them. (sqlite3 binds booleans as
    0/1 and floats as REAL, as SQLAlchemy's own processors would.)"""
    if not rows:
        return
    dialect = conn.dialect
    width = len(table.columns)
    if any(len(row) != width for row in rows):
        raise ValueError(f"{table.name}: a row does not have exactly the table's {width} columns")
    if dialect.name == "sqlite":
        sql, times = _plan(table, dialect)
        texts: dict[datetime, str] = {}  # a page repeats many times (dates of imported steps, deadlines)
        for row in rows:
            for name in times:
                value = row[name]
                if value is not None:
                    text = texts.get(value)
                    if text is None:
                        text = texts[value] = _sqlite_datetime(value)
                    row[name] = text
        # the sqlite3 connection of this transaction
        conn.connection.driver_connection.executemany(sql, [tuple(row.values()) for row in rows])
    elif dialect.name == "postgresql" and dialect.driver == "psycopg":
        copy_sql, types = _plan(table, dialect)
        raw = conn.connection.driver_connection  # the psycopg connection of this transaction
        with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(tuple(row.values()))
    else:  # any other driver: SQLAlchemy's executemany
        conn.execute(table.insert(), rows)


def read_frame(read_side, table: Table, query=None):
    """A query on the read models as a pandas DataFrame, like building it from ``read_side.rows(query)`` but
    without SQLAlchemy's per-row result processing (measured: most of an audit's time on 20k cases): columns
    are read as Arrow arrays through ADBC's drivers, not as Python objects per value (PostgreSQL: in this
    process; an SQLite file of at least `ARROW_READER_MIN_EVENTS` events: in a helper process, see
    `arrow_reader`), else the driver's rows are transposed into columns. The query may select any columns or
    labelled expressions (default: all of `table`); their types decide the conversions."""
    import pandas as pd
    from sqlalchemy import select

    query = query if query is not None else select(table)
    read_side.refresh()
    columns = list(query.selected_columns)
    large = read_side.engine.dialect.name == "sqlite" and \
        (read_side.app.recorder.max_notification_id() or 0) >= ARROW_READER_MIN_EVENTS  # no query on PostgreSQL
    with read_side.engine.connect() as conn:
        data = _adbc_columns(conn, query, columns, large)
        if data is False:
            data = _row_columns(conn, query, columns)
    names = [c.name for c in columns]
    return _empty_frame(columns) if data is None else pd.DataFrame(dict(zip(names, data)), columns=names)


def _empty_frame(columns):
    """No rows: each column with the dtype its values would have (times as UTC)."""
    import pandas as pd
    from sqlalchemy import Boolean, Float, Integer, String

    def dtype(kind):
        if isinstance(kind, UTCDateTime):
            return "datetime64[us, UTC]"
        for sql_type, pandas_type in ((String, "str"), (Integer, "int64"), (Float, "float64"), (Boolean, "bool")):
            if isinstance(kind, sql_type):
                return pandas_type
        return "object"

    return pd.DataFrame({c.name: pd.Series([], dtype=dtype(c.type)) for c in columns})


def _driver_query(conn: Connection, query, dialect=None) -> tuple[str, dict | tuple]:
    """The query's SQL and parameters for the driver (of `dialect`, default the connection's), converted as bulk
    inserts convert values."""
    compiled = query.compile(dialect=dialect or conn.dialect, compile_kwargs={"render_postcompile": True})
    params = {k: _driver_param(v, conn.dialect) for k, v in compiled.params.items()}
    if compiled.positiontup is not None:
        params = tuple(params[k] for k in compiled.positiontup)
    return compiled.string, params


def _driver_param(value, dialect):
    if isinstance(value, datetime):  # SQLite compares times as text: UTCDateTime's text
        return _sqlite_datetime(value) if dialect.name == "sqlite" else value.astimezone(UTC)
    if isinstance(value, bool) and dialect.name == "sqlite":
        return int(value)
    return value


# --- from the driver's rows (SQLite) ------------------------------------------------------------------------

def _row_columns(conn: Connection, query, columns) -> list | None:
    """The driver's rows, transposed into converted columns (None: no rows)."""
    with paused_gc():  # millions of tuples: collections would rescan them all
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(*_driver_query(conn, query))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if not rows:
            return None
        values = list(zip(*rows))
        del rows
    return [_column(c.type, data, conn.dialect) for c, data in zip(columns, values)]


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


def _column(kind, values: tuple, dialect):
    """One column's driver values as pandas would infer them from the processed values (times: UTC, µs),
    built through Arrow or NumPy: pandas' inference is 2-10x slower."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from sqlalchemy import Boolean, Integer, String

    if isinstance(kind, UTCDateTime):
        return _utc_times(values, dialect)
    if isinstance(kind, Boolean) and dialect.name == "sqlite":
        return [None if v is None else bool(v) for v in values]
    if isinstance(kind, String) and any(v is not None for v in values):  # all null: object, as inferred
        return pd.Series(pa.array(values, pa.large_string()), dtype="str")
    if isinstance(kind, Integer) and None not in values:  # with nulls: float64, as inferred
        return np.array(values, dtype=np.int64)
    return list(values)


def _utc_times(values: tuple, dialect):
    """Times converted by Arrow (SQLite's UTC text in SQLAlchemy's format, or the driver's aware datetimes):
    6-8x faster than pandas."""
    import pandas as pd
    import pyarrow as pa

    try:
        if dialect.name == "sqlite":
            array = pa.array(values, pa.string()).cast(pa.timestamp("us"))
        else:
            array = pa.array(values, pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # text in another ISO 8601 form (written by another tool)
        return pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601").dt.as_unit("us")
    return pd.Series(array.to_numpy(zero_copy_only=False)).dt.tz_localize("UTC")


# --- through ADBC ---------------------------------------------------------------------------------------------

# An SQLite store this large is read through the helper process (starting it takes ~0.5 s; reading 600k events
# through it saves ~1 s an audit).
ARROW_READER_MIN_EVENTS = 100_000


def _adbc_columns(conn: Connection, query, columns, large: bool) -> list | None | Literal[False]:
    """The query's columns read by ADBC's PostgreSQL or SQLite driver straight into Arrow: 2-3x faster than the
    drivers' rows (one Python object per value), and on PostgreSQL ~30% faster than parsing ``COPY``'s CSV
    (ADBC reads its binary form). None: no rows; False: a small SQLite store, not an SQLite file or
    PostgreSQL, a store ADBC cannot open, or values that do not have their column's type (an edit by another
    tool): read them from the driver's rows instead."""
    import pyarrow as pa

    if conn.dialect.name == "postgresql":
        result = _adbc_postgres(conn, query)
    elif conn.dialect.name == "sqlite" and large:
        result = _adbc_sqlite(conn, query)
    else:
        return False
    if result is False:
        return False
    if result.num_rows == 0:
        return None
    try:
        return [_arrow_column(c.type, _typed(c.type, data)) for c, data in zip(columns, result.columns)]
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return False


def _adbc_sqlite(conn: Connection, query):
    """Through the file's helper process: never ADBC's SQLite in this process (see `arrow_reader`)."""
    from projections.arrow_reader import ArrowReaderError, reader_for

    database = conn.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return False
    try:
        return reader_for(database).read(*_driver_query(conn, query))
    except ArrowReaderError:
        return False


def _adbc_postgres(conn: Connection, query):
    from adbc_driver_postgresql import dbapi

    sql, params = _driver_query(conn, query, _numbered_postgres_dialect())  # libpq's $1, $2, …
    uri = conn.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        adbc = _adbc_postgres_pool(uri).connect()
    except dbapi.Error:  # e.g. a server that wants a password libpq cannot find
        return False
    try:
        with adbc.cursor() as cursor:
            cursor.execute(sql, params or None)
            return cursor.fetch_arrow_table()
    except dbapi.Error:
        adbc.invalidate()
        return False
    finally:
        adbc.close()  # back to the pool, its transaction rolled back


@cache
def _adbc_postgres_pool(uri: str):
    """ADBC's PostgreSQL connections, kept: opening one reads the server's type catalogue (~40 ms)."""
    from adbc_driver_postgresql import dbapi
    from sqlalchemy.pool import QueuePool

    return QueuePool(lambda: dbapi.connect(uri), pool_size=1, max_overflow=4)


@cache
def _numbered_postgres_dialect():
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    return PGDialect_psycopg(paramstyle="numeric_dollar")


def _typed(kind, data):
    """An ADBC column as the type `_arrow_column` expects (SQLite's times are SQLAlchemy's UTC text, its
    booleans 0/1; PostgreSQL's integers may be int32, its numeric text)."""
    import pyarrow as pa

    arrow_type = _arrow_type(kind)
    if arrow_type == pa.timestamp("us", tz="UTC") and not pa.types.is_timestamp(data.type):
        data = data.cast(pa.string()).cast(pa.timestamp("us"))
    return data.cast(arrow_type)


def _arrow_type(kind):
    """The Arrow type of a column of this SQL type."""
    import pyarrow as pa
    from sqlalchemy import Boolean, Float, Integer

    if isinstance(kind, UTCDateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(kind, Boolean):
        return pa.bool_()
    if isinstance(kind, Integer):
        return pa.int64()
    return pa.float64() if isinstance(kind, Float) else pa.large_string()


def _arrow_column(kind, data):
    """An Arrow column as pandas infers it from the driver's values (all null: None objects; booleans with
    nulls: objects; integers with nulls: float64)."""
    import pandas as pd
    from sqlalchemy import Boolean, String

    if isinstance(kind, UTCDateTime):
        return data.to_pandas()
    if data.null_count == len(data):
        return [None] * len(data)
    if isinstance(kind, String):
        return pd.Series(data, dtype="str")
    return data.to_pylist() if isinstance(kind, Boolean) and data.null_count else data.to_numpy()
