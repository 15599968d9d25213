"""Read-side subcommands of the `jejak` CLI (project, audit), registered by entrypoints.cli.main.

    jejak project [--rebuild [--chain]] [--follow [--poll-interval SECONDS]] [--batch-rows N] [--batch-seconds S]
                  [--[no-]in-database]
                  [--[no-]progress]
    jejak audit NAME [--json | --csv] [--by COLUMN ...] [--as-of DATE ...] [--now DATETIME] [--threshold DAYS]

Exit codes: 0 fine, JejakError codes for user errors. (`verify` is in entrypoints.cli.integrity.)
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from entrypoints.audit import AUDIT_NAMES
from entrypoints.bootstrap import open_jejak
from projections.catchup import BATCH_ROWS
from workflow.errors import InvalidField


def register(subparsers) -> None:
    """Add read-side subcommands. Each sets ``func(args) -> int``; ``args.db`` and ``args.json`` exist."""
    p = subparsers.add_parser("project", help="bring the read models up to date (or rebuild, or follow)",
                              description="Apply new events to the read models (case_summary, case_event, "
                                          "event_chain), exactly once.")
    p.add_argument("--rebuild", action="store_true", help="drop and rebuild every read model from the events")
    p.add_argument("--chain", action="store_true",
                   help="with --rebuild, also rebuild event_chain, the readers' copy of the hash chain (it vouches "
                        "for nothing: verify checks the write side's signed chain, which no command rebuilds)")
    p.add_argument("--follow", action="store_true",
                   help="keep catching up until interrupted (LISTEN/NOTIFY on PostgreSQL, plus polling); on "
                        "PostgreSQL only the elected follower among all such processes and servers does")
    p.add_argument("--poll-interval", type=float, default=5.0, metavar="SECONDS",
                   help="with --follow, catch up at least this often (default 5)")
    p.add_argument("--batch-rows", type=int, default=BATCH_ROWS, metavar="N",
                   help=f"case rows a catch-up holds in memory (~4 KB each) before it writes them (default "
                        f"{BATCH_ROWS:,}; 0: write and commit every page of 20,000 events, slower on a long backlog)")
    p.add_argument("--batch-seconds", type=float, metavar="SECONDS",
                   help="commit a catch-up's batch after this long at most (default 60 on PostgreSQL, 10 on SQLite, "
                        "whose writers wait for it and give up after 30 s: longer only when nothing else writes); "
                        "the case rows held are kept past such a commit, up to --batch-rows")
    p.add_argument("--in-database", action=argparse.BooleanOptionalAction, default=None,
                   help="let PostgreSQL make case_event and the chain copy from the stored events, beside this "
                        "process's case_summary (default: when it can read them: PostgreSQL, not ciphered); "
                        "--no-in-database projects everything here, in Python")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar on stderr (default: when stderr is a terminal)")
    _json_flag(p)
    p.set_defaults(func=cmd_project)

    a = subparsers.add_parser("audit", help="run an accountability audit (a table, --json or --csv)",
                              description="Audits: " + ", ".join(AUDIT_NAMES))
    a.add_argument("name", choices=AUDIT_NAMES, metavar="NAME", help=", ".join(AUDIT_NAMES))
    _json_flag(a)
    a.add_argument("--csv", action="store_true", help="write CSV")
    a.add_argument("--by", action="append", metavar="COLUMN",
                   help="group by (funnel, responsiveness, stage_durations): election, province, agency_type, "
                        "category, position_group, …; repeatable")
    a.add_argument("--as-of", action="append", metavar="DATE",
                   help="funnel: cumulative counts as of this date (repeatable); portfolio: the date(s)")
    a.add_argument("--recorded", action="store_true",
                   help="funnel/portfolio: by when steps were recorded, not when they happened")
    a.add_argument("--now", metavar="DATETIME", help="the moment to judge deadlines at (default: now)")
    a.add_argument("--threshold", type=float, metavar="DAYS", help="backdating: lag threshold in days (default 7)")
    a.add_argument("--include-open", action="store_true", help="stage_durations: count open stints up to now")
    a.add_argument("--include-imported", action="store_true",
                   help="backdating: also list history brought in by `jejak import` (apart, as imported_…)")
    a.set_defaults(func=cmd_audit)


def _progress_bar(args, app, read_side):
    """A tqdm bar of the events to apply (on stderr; by default only on a terminal)."""
    from tqdm import tqdm

    behind = app.recorder.max_notification_id() or 0
    if not args.rebuild:
        behind -= read_side.position()
    return tqdm(total=max(behind, 0), desc="jejak project", unit="event", file=sys.stderr, leave=False,
                disable=args.progress is False if args.progress is not None else None, dynamic_ncols=True)


def _json_flag(parser) -> None:
    # SUPPRESS: do not overwrite a --json given before the subcommand (the main parser has one too)
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="write JSON")


def _open(args):
    return open_jejak(getattr(args, "db", None))


def cmd_project(args) -> int:
    from projections.leader import follow
    from projections.readside import ReadSide

    if args.chain and not args.rebuild:
        raise InvalidField("--chain", "only with --rebuild")
    if args.poll_interval <= 0:
        raise InvalidField("--poll-interval", "must be positive")
    if args.batch_rows < 0:
        raise InvalidField("--batch-rows", f"must be 0 or more, not {args.batch_rows}")
    if args.batch_seconds is not None and not 0 < args.batch_seconds < float("inf"):
        raise InvalidField("--batch-seconds", f"must be a positive number of seconds, not {args.batch_seconds:g}")
    with _open(args) as app:
        read_side = ReadSide(app, batch_rows=args.batch_rows, batch_seconds=args.batch_seconds,
                             in_database=args.in_database)
        with _progress_bar(args, app, read_side) as bar:
            applied = read_side.rebuild(chain=args.chain, on_page=bar.update) if args.rebuild \
                else read_side.catch_up(on_page=bar.update)
        in_database = [p.name for p in read_side.projectors if getattr(p, "in_database", False)]
        _say(args, {"applied": applied, "rebuilt": bool(args.rebuild), "in_database": in_database},
             f"{'rebuilt from' if args.rebuild else 'applied'} {applied} event(s)"
             + (f" ({' and '.join(in_database)} made by PostgreSQL)" if in_database and applied else ""))
        if args.follow:
            stop = threading.Event()
            previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
            print(f"following (poll every {args.poll_interval:g}s); Ctrl-C to stop", file=sys.stderr)
            try:  # on PostgreSQL, one follower among all processes: the elected one (projections.leader)
                follow(read_side, stop, args.poll_interval,
                       on_catch_up=lambda n: print(f"applied {n} event(s)", file=sys.stderr, flush=True),
                       on_elected=lambda: print("elected the projection follower", file=sys.stderr, flush=True))
            except KeyboardInterrupt:
                pass
            finally:
                signal.signal(signal.SIGTERM, previous)
    return 0


def cmd_audit(args) -> int:
    from entrypoints.audit import audit_options, run_audit

    options = audit_options(args.name, by=args.by, as_of=args.as_of, recorded=args.recorded, now=args.now,
                            threshold=args.threshold, include_open=args.include_open,
                            include_imported=args.include_imported)
    if getattr(args, "json", False) and args.csv:
        raise InvalidField("--json/--csv", "choose one")
    if args.name == "personal_data_access":
        from entrypoints.auth.tokens import engine_for_tokens

        frame = run_audit(None, args.name, options, engine_for_tokens(getattr(args, "db", None)))
    else:
        with _open(args) as app:
            frame = run_audit(app, args.name, options)
    print_frame(frame, args)
    return 0


def print_frame(frame, args) -> None:
    """An audit's table as `jejak audit` prints it: --json records, --csv, or aligned text."""
    if getattr(args, "json", False):
        print(frame.to_json(orient="records", date_format="iso", indent=2))
    elif args.csv:
        from projections.export import safe_frame  # text a spreadsheet would evaluate gets a leading '

        safe_frame(frame).to_csv(sys.stdout, index=False)
    elif frame.empty:
        print(f"{args.name}: nothing to report")
    else:
        import pandas as pd

        from projections.formatting import for_people  # counts, rates, days and local times for people
        from workflow.settings import Settings

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
            print(for_people(frame, Settings.from_env().zone).to_string(index=False))


def _say(args, data: dict, text: str) -> None:
    print(json.dumps(data) if getattr(args, "json", False) else text)
