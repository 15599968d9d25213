"""`jejak import FILE.csv|FILE.xlsx`: cases with their history from a spreadsheet (workflow.importer)."""

from __future__ import annotations

import argparse
import json
import sys

from entrypoints.bootstrap import open_jejak
from workflow.errors import InvalidField
from workflow.importer import BATCH_SIZE, COLUMNS, MAX_WORKERS, default_workers, import_file


def register(subparsers) -> None:
    p = subparsers.add_parser("import", help="import cases with their history from a CSV or XLSX file",
                              description="Import cases, one row each, validated by the same rules as live "
                                          "commands. Re-running a file adds nothing. Columns: README, "
                                          "'Bulk import and export', or --columns.")
    p.add_argument("file", nargs="?", metavar="FILE.csv|FILE.xlsx")
    # SUPPRESS: do not overwrite a --db/--json given before the subcommand (the main parser has them too)
    p.add_argument("--db", default=argparse.SUPPRESS, help="store URL (default: $JEJAK_DB or jejak.db)")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="the summary as JSON")
    p.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    p.add_argument("--strict", action="store_true", help="write nothing at all if any row is bad")
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE, metavar="N", help="cases per transaction")
    p.add_argument("--workers", type=int, default=default_workers(), metavar="N",
                   help="build and check cases in N processes while this one writes "
                        f"(default: one per core, at most {MAX_WORKERS}; 1: all in this process)")
    p.add_argument("--columns", action="store_true", help="list the columns and exit")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar on stderr (default: when stderr is a terminal)")
    p.set_defaults(func=cmd_import)


def cmd_import(args) -> int:
    if args.columns:
        for column, description in COLUMNS.items():
            print(f"{column:26} {description}")
        return 0
    if not args.file:
        raise InvalidField("FILE", "which file to import?", allowed="a .csv or .xlsx file")
    if args.batch_size < 1:
        raise InvalidField("--batch-size", "must be at least 1")
    if args.workers < 1:
        raise InvalidField("--workers", "must be at least 1")
    with open_jejak(args.db) as app:
        result = import_file(app, args.file, dry_run=args.dry_run, strict=args.strict,
                             batch_size=args.batch_size, progress=args.progress, workers=args.workers)
    for error in result.bad:
        print(f"{args.file}:{error.line}: {error.message}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(result.summary())
    return 0 if result.ok else 2
