"""`jejak export TABLE`: a read model or an audit as CSV, Parquet or XLSX (projections.export)."""

from __future__ import annotations

import argparse
import sys

from entrypoints.bootstrap import open_jejak
from projections.export import FORMATS, TABLES, export
from workflow.errors import InvalidField


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a read model or an audit as CSV, Parquet or XLSX",
                              description="Tables: " + ", ".join(TABLES) + ". Times are UTC.")
    p.add_argument("table", choices=TABLES, metavar="TABLE", help=", ".join(TABLES))
    p.add_argument("--db", default=argparse.SUPPRESS, help="store URL (default: $JEJAK_DB or jejak.db)")
    p.add_argument("--format", choices=FORMATS, default="csv", help="default csv")
    p.add_argument("--output", "-o", metavar="FILE",
                   help="where to write ('-' = stdout); default: stdout for csv, TABLE.parquet / TABLE.xlsx")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    output = args.output or ("-" if args.format == "csv" else f"{args.table}.{args.format}")
    if output == "-" and args.format != "csv" and sys.stdout.isatty():
        raise InvalidField("--output", f"{args.format} is binary: name a file", allowed=f"e.g. {args.table}.{args.format}")
    with open_jejak(getattr(args, "db", None)) as app:
        count = export(app, args.table, args.format, output)
    where = "stdout" if output == "-" else output
    print(f"exported {count} row(s) of {args.table} to {where}", file=sys.stderr)
    return 0
