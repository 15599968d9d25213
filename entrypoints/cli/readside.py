"""Read-side subcommands of the `jejak` CLI (project, audit, verify), registered by entrypoints.cli.main.

    jejak project [--rebuild [--chain]] [--follow [--poll-interval SECONDS]]
    jejak audit NAME [--json | --csv] [--by COLUMN ...] [--as-of DATE ...] [--now DATETIME] [--threshold DAYS]
    jejak verify [--digest HEX@POSITION] [--json]

Exit codes: 0 fine, 1 tampering found by verify, JejakError codes for user errors.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import datetime

from entrypoints.bootstrap import open_jejak
from workflow.errors import InvalidField

AUDIT_NAMES = ("responsiveness", "funnel", "stage_durations", "stage_stints", "overdue", "backdating", "portfolio")


def register(subparsers) -> None:
    """Add read-side subcommands. Each sets ``func(args) -> int``; ``args.db`` and ``args.json`` exist."""
    p = subparsers.add_parser("project", help="bring the read models up to date (or rebuild, or follow)",
                              description="Apply new events to the read models (case_summary, case_event, "
                                          "event_chain), exactly once.")
    p.add_argument("--rebuild", action="store_true", help="drop and rebuild every read model from the events")
    p.add_argument("--chain", action="store_true",
                   help="with --rebuild, also rebuild the hash chain (erases tamper evidence: verify first)")
    p.add_argument("--follow", action="store_true",
                   help="keep catching up until interrupted (LISTEN/NOTIFY on PostgreSQL, plus polling)")
    p.add_argument("--poll-interval", type=float, default=5.0, metavar="SECONDS",
                   help="with --follow, catch up at least this often (default 5)")
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
    a.set_defaults(func=cmd_audit)

    v = subparsers.add_parser("verify", help="check the events against the hash chain (tamper evidence)",
                              description="Recompute the SHA-256 chain over the stored events and report any "
                                          "edited, deleted, inserted or reordered event; prints the head digest "
                                          "HEX@POSITION to publish.")
    v.add_argument("--digest", metavar="HEX@POSITION", help="also check a previously published digest")
    _json_flag(v)
    v.set_defaults(func=cmd_verify)


def _json_flag(parser) -> None:
    # SUPPRESS: do not overwrite a --json given before the subcommand (the main parser has one too)
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="write JSON")


def _open(args):
    return open_jejak(getattr(args, "db", None))


def cmd_project(args) -> int:
    from projections.readside import ReadSide

    if args.chain and not args.rebuild:
        raise InvalidField("--chain", "only with --rebuild")
    if args.poll_interval <= 0:
        raise InvalidField("--poll-interval", "must be positive")
    with _open(args) as app:
        read_side = ReadSide(app)
        applied = read_side.rebuild(chain=args.chain) if args.rebuild else read_side.catch_up()
        _say(args, {"applied": applied, "rebuilt": bool(args.rebuild)},
             f"{'rebuilt from' if args.rebuild else 'applied'} {applied} event(s)")
        if args.follow:
            stop = threading.Event()
            previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
            print(f"following (poll every {args.poll_interval:g}s); Ctrl-C to stop", file=sys.stderr)
            try:
                read_side.follow(stop, args.poll_interval,
                                 on_catch_up=lambda n: print(f"applied {n} event(s)", file=sys.stderr, flush=True))
            except KeyboardInterrupt:
                pass
            finally:
                signal.signal(signal.SIGTERM, previous)
    return 0


def _parse_now(text: str | None):
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidField("--now", f"cannot read {text!r}", allowed="an ISO datetime, e.g. 2024-11-01T00:00+07:00") \
            from None
    return value


def cmd_audit(args) -> int:
    from projections import audits

    options: dict = {}
    name = args.name
    if args.by:
        if name not in ("funnel", "responsiveness", "stage_durations"):
            raise InvalidField("--by", f"not an option of {name}")
        options["by"] = args.by
    if args.as_of:
        if name not in ("funnel", "portfolio"):
            raise InvalidField("--as-of", f"not an option of {name}")
        options["as_of" if name == "funnel" else "dates"] = args.as_of
    elif name == "portfolio":
        raise InvalidField("--as-of", "portfolio needs at least one date")
    if args.recorded:
        if name not in ("funnel", "portfolio"):
            raise InvalidField("--recorded", f"not an option of {name}")
        options["recorded"] = True
    if args.now:
        if name not in ("responsiveness", "stage_durations", "stage_stints", "overdue"):
            raise InvalidField("--now", f"not an option of {name}")
        options["now"] = _parse_now(args.now)
    if args.threshold is not None:
        if name != "backdating":
            raise InvalidField("--threshold", "only for backdating")
        options["threshold_days"] = args.threshold
    if args.include_open:
        if name != "stage_durations":
            raise InvalidField("--include-open", "only for stage_durations")
        options["include_open"] = True
    if getattr(args, "json", False) and args.csv:
        raise InvalidField("--json/--csv", "choose one")
    with _open(args) as app:
        frame = getattr(audits, name)(app, **options)
    if getattr(args, "json", False):
        print(frame.to_json(orient="records", date_format="iso", indent=2))
    elif args.csv:
        from projections.export import safe_frame  # text a spreadsheet would evaluate gets a leading '

        safe_frame(frame).to_csv(sys.stdout, index=False)
    elif frame.empty:
        print(f"{name}: nothing to report")
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
            print(frame.to_string(index=False))
    return 0


def cmd_verify(args) -> int:
    from projections.integrity import verify

    with _open(args) as app:
        report = verify(app, args.digest)
    if getattr(args, "json", False):
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(report)
    return 0 if report.ok else 1


def _say(args, data: dict, text: str) -> None:
    print(json.dumps(data) if getattr(args, "json", False) else text)
