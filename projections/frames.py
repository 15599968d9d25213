"""Reading a read model into a pandas DataFrame column-wise (`read_frame`), without SQLAlchemy's per-row
result processing: the driver's rows turned into typed columns, or, for large stores, Arrow straight from the
database (ADBC: PostgreSQL's binary COPY; SQLite in a helper process, `projections/arrow_reader.py`)."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache
from typing import Literal

from sqlalchemy import Connection, Table

from projections.tables import UTCDateTime

from projections.row_writer import _sqlite_datetime, paused_gc

UTC = timezone.utc


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
    """The query's SQL and parameters for the driver (of `dialect`, default the connection's), converted as
    `row_writer`'s inserts convert values."""
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
