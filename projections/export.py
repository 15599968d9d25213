"""`jejak export TABLE --format csv|parquet|xlsx [--output FILE]`: the read models and audits as files.

Tables: ``case_summary`` (one row per case), ``case_event`` (the audit trail, one row per event, in log order;
``audit_trail`` is the same), ``event_chain`` (the tamper-evidence hash chain), and every audit of
``projections.audits`` (``responsiveness``, ``funnel``, …) as computed now. The read models are caught up
first. Read-model tables stream in pages (no DataFrame, bounded memory); times are UTC (ISO 8601 in CSV,
timestamps in Parquet, UTC date-times without an offset in XLSX, which has none). No table holds the
reporter's personal data.

Files meant for a spreadsheet are safe to open: anyone who files a report writes text that ends up here (a
note, an external reference), and a spreadsheet evaluates a cell that starts like a formula. CSV follows
OWASP's rule for CSV injection: a text value starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading ``'``; numbers (negative ones too) and times are written as they are. XLSX writes every
text value as a text cell, never a formula (or an error value), so it shows exactly as stated. Parquet keeps
every value as it is (the raw values, for tools that never evaluate cells).
"""

from __future__ import annotations

import csv
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workflow.errors import InvalidField

FORMATS = ("csv", "parquet", "xlsx")
ALIASES = {"audit_trail": "case_event"}
READ_MODEL_NAMES = ("case_summary", "case_event", "event_chain")
AUDIT_NAMES = ("responsiveness", "funnel", "stage_durations", "stage_stints", "overdue", "backdating")
TABLES = (*READ_MODEL_NAMES, *ALIASES, *AUDIT_NAMES)
PAGE = 10_000
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header


def _table(name: str):
    from projections import tables

    return getattr(tables, ALIASES.get(name, name))


def export(app, name: str, fmt: str, output: str | Path | Any, **options) -> int:
    """Write a table to `output` (a path, or a binary/text stream for '-'); returns the number of rows.
    `options` go to an audit (e.g. ``threshold_days=3`` for backdating)."""
    if name not in TABLES:
        raise InvalidField("TABLE", f"unknown table {name!r}", allowed=TABLES)
    if fmt not in FORMATS:
        raise InvalidField("--format", f"unknown format {fmt!r}", allowed=FORMATS)
    from projections.readside import ReadSide

    read_side = ReadSide(app)
    if name in AUDIT_NAMES:
        return _export_frame(read_side, name, fmt, output, options)
    if options:
        raise InvalidField("options", f"{name} is a read model: it takes none")
    read_side.catch_up()
    table = _table(name)
    columns = [c.name for c in table.columns]
    pages = _pages(read_side, table)
    writer = {"csv": _write_csv, "parquet": _write_parquet, "xlsx": _write_xlsx}[fmt]
    return writer(table, columns, pages, output)


def _pages(read_side, table):
    from sqlalchemy import select

    order = table.c.notification_id if "notification_id" in table.c else table.primary_key.columns.values()[0]
    if table.name == "case_summary":
        order = table.c.reported_at
    query = select(table).order_by(order, *table.primary_key.columns)
    with read_side.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=PAGE).execute(query)
        for part in result.partitions(PAGE):
            yield [tuple(row) for row in part]


def _utc(value):
    return value.astimezone(timezone.utc) if isinstance(value, datetime) else value


def _open_text(output):
    if output == "-" or output is None:
        return sys.stdout, False
    if hasattr(output, "write"):
        return output, False
    return open(output, "w", newline="", encoding="utf-8"), True


def _write_csv(table, columns, pages, output) -> int:
    stream, close = _open_text(output)
    count = 0
    try:
        writer = csv.writer(stream)
        writer.writerow(columns)
        for page in pages:
            writer.writerows([[_csv_cell(v) for v in row] for row in page])
            count += len(page)
    finally:
        if close:
            stream.close()
    return count


def _csv_cell(value):
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: str) -> str:
    """Text as a CSV cell a spreadsheet will not evaluate (OWASP: a leading ``'`` before a formula's start)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def safe_frame(frame):
    """A DataFrame whose text columns are safe for CSV (`safe_text`); numbers and times as they are."""
    import pandas as pd

    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        if pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values.dtype):
            frame[column] = values.map(lambda v: safe_text(v) if isinstance(v, str) else v)
    return frame


def _arrow_schema(table):
    import pyarrow as pa
    from sqlalchemy import BigInteger, Boolean, Float, Integer

    from projections.tables import UTCDateTime

    fields = []
    for column in table.columns:
        kind = column.type
        if isinstance(kind, UTCDateTime):
            arrow = pa.timestamp("us", tz="UTC")
        elif isinstance(kind, Boolean):
            arrow = pa.bool_()
        elif isinstance(kind, (BigInteger, Integer)):
            arrow = pa.int64()
        elif isinstance(kind, Float):
            arrow = pa.float64()
        else:
            arrow = pa.string()
        fields.append(pa.field(column.name, arrow, nullable=column.nullable or column.primary_key))
    return pa.schema(fields)


def _write_parquet(table, columns, pages, output) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema(table)
    sink = sys.stdout.buffer if output in ("-", None) else output
    count = 0
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for page in pages:
            arrays = [pa.array([_utc(row[i]) for row in page], type=schema.field(i).type)
                      for i in range(len(columns))]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            count += len(page)
        if count == 0:
            writer.write_table(schema.empty_table())
    return count


def _excel_cell(value):
    if isinstance(value, datetime):  # Excel has no time zones: UTC, without the offset
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _xlsx_writer(name: str, columns: list[str], output):
    """A write-only sheet: returns (append a row, save). Text that openpyxl would store as a formula (it starts
    with ``=``) or as an error value (``#N/A``…) is written as a text cell instead; a control character XML
    cannot hold (an actor id an earlier version accepted) is shown as U+FFFD."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet(name[:31])

    def cell(text: str):
        return _text_cell(sheet, ILLEGAL_CHARACTERS_RE.sub("\ufffd", text), WriteOnlyCell, ERROR_CODES)

    sheet.append([cell(c) for c in columns])

    def append(row):
        sheet.append([cell(v) if isinstance(v, str) else _excel_cell(v) for v in row])

    def save():
        book.save(sys.stdout.buffer if output in ("-", None) else output)

    return append, save


def _text_cell(sheet, text: str, cell_type, error_codes):
    if not (text.startswith("=") or text in error_codes):
        return text
    cell = cell_type(sheet, text)
    cell.data_type = "s"  # openpyxl made it a formula ('f') or an error ('e')
    return cell


def _write_xlsx(table, columns, pages, output) -> int:
    append, save = _xlsx_writer(table.name, columns, output)
    count = 0
    for page in pages:
        count += len(page)
        if count > XLSX_MAX_ROWS:
            raise InvalidField("--format", f"{table.name} has more than {XLSX_MAX_ROWS} rows, an Excel sheet's "
                                           "limit", allowed="csv or parquet")
        for row in page:
            append(row)
    save()
    return count


def _export_frame(read_side, name: str, fmt: str, output, options: dict) -> int:
    from projections import audits

    frame = getattr(audits, name)(read_side, **options)
    target = (sys.stdout if fmt == "csv" else sys.stdout.buffer) if output in ("-", None) else output
    if fmt == "csv":
        safe_frame(frame).to_csv(target, index=False)
    elif fmt == "parquet":
        frame.to_parquet(target, index=False)
    else:
        append, save = _xlsx_writer(name, [str(c) for c in frame.columns], output)
        for row in _frame_rows(frame):
            append(row)
        save()
    return len(frame)


def _frame_rows(frame):
    """A DataFrame's rows as Python values for openpyxl: times as UTC datetimes, missing values as None."""
    import pandas as pd

    columns = []
    for name in frame.columns:
        values = frame[name]
        if getattr(values.dtype, "tz", None) is not None:
            values = values.dt.tz_convert("UTC")
        columns.append([None if _missing(v) else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else
                                                   v.item() if hasattr(v, "item") else v)
                        for v in values.astype(object)])
    return zip(*columns)


def _missing(value) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array is a value, not a missing one
        return False
