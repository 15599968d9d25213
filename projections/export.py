"""`jejak export TABLE --format csv|parquet|xlsx [--output FILE]`: the read models and audits as files.

Tables: ``case_summary`` (one row per case), ``case_event`` (the audit trail, one row per event, in log order;
``audit_trail`` is the same), ``event_chain`` (the tamper-evidence hash chain), and every audit of
``projections.audits`` (``responsiveness``, ``funnel``, …) as computed now. The read models are caught up
first. Read-model tables stream in pages (no DataFrame, bounded memory); times are UTC (ISO 8601 in CSV,
timestamps in Parquet, UTC date-times without an offset in XLSX, which has none). No table holds the
reporter's personal data.
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


def export(app, name: str, fmt: str, output: str | Path | Any) -> int:
    """Write a table to `output` (a path, or a binary/text stream for '-'); returns the number of rows."""
    if name not in TABLES:
        raise InvalidField("TABLE", f"unknown table {name!r}", allowed=TABLES)
    if fmt not in FORMATS:
        raise InvalidField("--format", f"unknown format {fmt!r}", allowed=FORMATS)
    from projections.readside import ReadSide

    read_side = ReadSide(app)
    if name in AUDIT_NAMES:
        return _export_frame(read_side, name, fmt, output)
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
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return value


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


def _write_xlsx(table, columns, pages, output) -> int:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(table.name[:31])
    sheet.append(columns)
    count = 0
    for page in pages:
        count += len(page)
        if count > XLSX_MAX_ROWS:
            raise InvalidField("--format", f"{table.name} has more than {XLSX_MAX_ROWS} rows, an Excel sheet's "
                                           "limit", allowed="csv or parquet")
        for row in page:
            sheet.append([_excel_cell(v) for v in row])
    book.save(sys.stdout.buffer if output in ("-", None) else output)
    return count


def _export_frame(read_side, name: str, fmt: str, output) -> int:
    from projections import audits

    frame = getattr(audits, name)(read_side)
    target = (sys.stdout if fmt == "csv" else sys.stdout.buffer) if output in ("-", None) else output
    if fmt == "csv":
        frame.to_csv(target, index=False)
    elif fmt == "parquet":
        frame.to_parquet(target, index=False)
    else:
        for column in frame.columns:
            if getattr(frame[column].dtype, "tz", None) is not None:
                frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
        frame.to_excel(target, index=False, sheet_name=name[:31])
    return len(frame)
