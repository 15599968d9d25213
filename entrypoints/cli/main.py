"""`jejak`: the command line, thin over the Python API.

Errors go to stderr with a non-zero exit and no traceback (set JEJAK_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import os
import sys

from entrypoints.cli.arguments import read_json_object, trigger_fields
from entrypoints.cli.output import print_history, print_json, print_marked, print_table
from entrypoints.views import event_row, parse_when
from workflow.definitions import ERAS, STATES, TRIGGERS
from workflow.errors import JejakError
from workflow.fields import REPORT_FIELDS

# --- helpers ----------------------------------------------------------------------------------------------

# One command needs one connection: eventsourcing's PostgreSQL pool would open five at start-up (measured: ~30 ms
# of a `jejak advance`). Its overflow still opens more if asked; POSTGRES_POOL_SIZE in the environment wins.
CLI_STORE_ENV = {"POSTGRES_POOL_SIZE": "1"}


def open_app(args):
    from entrypoints.bootstrap import open_jejak

    return open_jejak(args.db, env={key: value for key, value in CLI_STORE_ENV.items() if key not in os.environ})


# --- commands ---------------------------------------------------------------------------------------------

def cmd_report(args) -> int:
    fields = {}
    if args.source:
        fields = read_json_object(args.source)
    for key in REPORT_FIELDS:
        value = getattr(args, key)
        if value is not None:
            fields[key] = value
    actor = fields.pop("actor", None) or args.actor
    stated = fields.pop("occurred_at", None)
    occurred_at = parse_when(args.at if stated is None else stated, "occurred_at")
    era, note = fields.pop("era", None) or args.era, fields.pop("note", None) or args.note
    era_reason = fields.pop("era_reason", None) or args.era_reason
    with open_app(args) as app:
        case_id = app.report(actor, occurred_at=occurred_at, era=era, note=note, era_reason=era_reason, **fields)
    print(case_id)
    return 0


def cmd_advance(args) -> int:
    with open_app(args) as app:
        case = app.advance(args.case, args.trigger, args.actor, occurred_at=parse_when(args.at), note=args.note,
                           expected_version=args.expect_version, retries=args.retries,
                           **trigger_fields(args.set))
    print(case.state)
    return 0


def cmd_erase_reporter(args) -> int:
    with open_app(args) as app:
        # the key is destroyed before the record of it is saved: retry so a racing writer cannot leave it unrecorded
        case = app.advance(args.case, "erase_reporter", args.actor, occurred_at=parse_when(args.at), note=args.note,
                           retries=5)
    print(f"reporter data of case {case.id} erased (its key is destroyed; the history is kept)")
    return 0


def cmd_show(args) -> int:
    with open_app(args) as app:
        events = app.case_events(args.case)
        if args.as_of is not None:  # a date: the whole of that local day, as the audits read it
            from projections.cutoffs import happened_by

            events = happened_by(events, args.as_of, app, "--as-of")
    print_history([event_row(e) for e in events], args.json)
    return 0


def cmd_cases(args) -> int:
    from projections.readside import ReadSide

    with open_app(args) as app:
        rows = ReadSide(app).cases(state=args.state)
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["case_id", "state", "election", "province", "regency", "agency", "reported_at",
                           "due_at"])
    return 0


def cmd_triggers(args) -> int:
    with open_app(args) as app:
        triggers = app.triggers(args.case, args.actor)
    if args.json:
        print_json(triggers)
    else:
        print("\n".join(triggers))
    return 0


def cmd_tick(args) -> int:
    with open_app(args) as app:
        marked = app.tick(now=parse_when(args.now, "--now"))
    return print_marked(marked, args.json)


def cmd_workflow(args) -> int:
    from workflow import diagram
    from workflow.definitions import get_era
    from workflow.settings import Settings

    if args.era is None and not args.mermaid:
        rows = [{"era": e.id, "version": e.version, "from": e.effective_from, "commission": e.commission,
                 "title": e.title} for e in ERAS.values()]
        print_json(rows) if args.json else print_table(rows, ["era", "version", "from", "commission", "title"])
        return 0
    era = get_era(args.era or max(ERAS.values(), key=lambda e: e.effective_from).id)
    if args.mermaid:
        print(diagram.mermaid(era))
        return 0
    settings = Settings.from_env()
    rows = [{"trigger": t["trigger"], "to": t["dest"] or "(same state)", "roles": ", ".join(t["roles"]),
             "from": ", ".join(t["source"]) if isinstance(t["source"], list) else t["source"]}
            for t in era.transitions]
    deadlines = [{"deadline": name, "due": (settings.deadline(era, name) or d).describe(), "party": d.party,
                  "basis": d.basis, "verified": d.verified} for name, d in era.deadlines.items()]
    handovers = [{"role": h.role, "to": h.to, "on": settings.handover_day(h), "basis": h.basis}
                 for h in era.handovers if h.role in {r for row in era.transitions for r in row["roles"]}]
    if args.json:
        print_json({"era": era.id, "version": era.version, "transitions": rows, "deadlines": deadlines,
                    "handovers": handovers, "sanctions": {code: vars(s) for code, s in era.all_sanctions.items()},
                    "source": era.source})
    else:
        print(f"{era.version}: {era.title}\n")
        print_table(rows, ["trigger", "to", "roles", "from"])
        print()
        print_table(deadlines, ["deadline", "due", "party", "verified", "basis"])
        if handovers:  # bodies that ceased to act: by the date of the act, another does what the table says
            print()
            print_table(handovers, ["role", "to", "on", "basis"])
    return 0


# --- parser -----------------------------------------------------------------------------------------------

def build_parser(command: str | None = None, remote: bool = False) -> argparse.ArgumentParser:
    """The parser of every subcommand, or, for one of CORE_COMMANDS, of those alone. With `remote` (--server),
    --as is not required: the token says who acts (and --as is refused)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS,
                        help="store URL: sqlite:///FILE or postgresql://… (default: $JEJAK_DB or jejak.db)")
    common.add_argument("--server", default=argparse.SUPPRESS, metavar="URL",
                        help="run against `jejak serve` at URL instead of a store (default: $JEJAK_SERVER)")
    common.add_argument("--token", default=argparse.SUPPRESS, help="with --server: the API token (or $JEJAK_TOKEN)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")

    parser = argparse.ArgumentParser(prog="jejak", parents=[common],
                                     description="Event-sourced case workflow for ASN neutrality complaints.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("report", parents=[common], help="file a report (or, as bawaslu, a finding)")
    p.add_argument("--from", dest="source", metavar="FILE", help="the fields as one JSON object ('-' = stdin)")
    p.add_argument("--as", dest="actor", default=None if remote else "reporter",
                   help="ROLE[:SCOPE][@ID] (default: reporter)")
    p.add_argument("--at", help="when it was filed (ISO; default now)")
    p.add_argument("--era", choices=list(ERAS),
                   help="a finding's era, if not the one in force on its date (with --era-reason; not for reporters)")
    p.add_argument("--era-reason", help="why the finding is handled under --era")
    p.add_argument("--note")
    for key, (required, description) in REPORT_FIELDS.items():
        p.add_argument("--" + key.replace("_", "-"), dest=key, help=description + (" [required]" if required else ""))
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("advance", parents=[common], help="fire a trigger on a case; prints the new state")
    p.add_argument("case")
    p.add_argument("trigger", metavar="TRIGGER", help="one of: " + ", ".join(TRIGGERS))
    p.add_argument("--as", dest="actor", required=not remote, help="ROLE[:SCOPE][@ID], e.g. bawaslu:kab-bima")
    p.add_argument("--at", help="when it happened (ISO; default now)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a field of the trigger")
    p.add_argument("--note")
    p.add_argument("--expect-version", type=int, help="refuse if the case is no longer at this version")
    p.add_argument("--retries", type=int, default=0, metavar="N",
                   help="on a concurrent update, decide again on the newer case up to N times")
    p.set_defaults(func=cmd_advance)

    p = sub.add_parser("erase-reporter", parents=[common],
                       help="on the reporter's request, destroy the key of their personal data (Bawaslu)")
    p.add_argument("case")
    p.add_argument("--as", dest="actor", required=True, help="the case's Bawaslu, e.g. bawaslu:kab-bima")
    p.add_argument("--at", help="when the request was executed (ISO; default now)")
    p.add_argument("--note")
    p.set_defaults(func=cmd_erase_reporter)

    p = sub.add_parser("show", parents=[common], help="a case's history, one row per event")
    p.add_argument("case")
    p.add_argument("--as-of", help="only what had happened by then: a date means the end of that local day, "
                                   "a time is inclusive (as the audits' --as-of)")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("cases", parents=[common], help="list cases")
    p.add_argument("--state", choices=STATES[1:])
    p.set_defaults(func=cmd_cases)

    p = sub.add_parser("triggers", parents=[common], help="what an actor may do next on a case")
    p.add_argument("case")
    p.add_argument("--as", dest="actor", required=not remote, help="ROLE[:SCOPE][@ID]")
    p.set_defaults(func=cmd_triggers)

    p = sub.add_parser("tick", parents=[common], help="mark cases whose deadline passed as overdue (once each)")
    p.add_argument("--now", help="the time to judge deadlines at (ISO; default now)")
    p.set_defaults(func=cmd_tick)

    p = sub.add_parser("workflow", parents=[common], help="eras, rule tables, deadlines; --mermaid for a diagram")
    p.add_argument("--era", choices=list(ERAS))
    p.add_argument("--mermaid", action="store_true", help="print the state diagram (mermaid stateDiagram-v2)")
    p.set_defaults(func=cmd_workflow)

    if command not in CORE_COMMANDS:
        from entrypoints.cli import db, demo, export, importing, integrity, readside, serve

        demo.register(sub)
        readside.register(sub)
        integrity.register(sub)
        importing.register(sub)
        export.register(sub)
        db.register(sub)
        serve.register(sub)
    return parser


# The commands above, whose modules a write command needs anyway. The others (demo, import, the read side) are
# registered only when the command is not one of these: importing them costs a `jejak advance` ~30 ms.
CORE_COMMANDS = frozenset({"report", "advance", "erase-reporter", "show", "cases", "triggers", "tick", "workflow"})


def command_word(argv: list[str]) -> str | None:
    """The subcommand named in argv (skipping the options that may precede it), or None."""
    words = iter(argv)
    for word in words:
        if word in ("--db", "--server", "--token"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: list[str] | None = None) -> int:
    from entrypoints.cli.remote import remote_mode

    argv = sys.argv[1:] if argv is None else argv
    remote = remote_mode(argv)
    parser = build_parser(command_word(argv), remote)
    args = parser.parse_args(argv)
    args.db = getattr(args, "db", None)
    args.json = getattr(args, "json", False)
    from entrypoints.cli.notices import database_refusal, run_with_notices

    try:
        if remote:
            from entrypoints.cli.remote import run

            return run(args)
        return run_with_notices(args.func, args)
    except JejakError as error:
        print(f"jejak: error: {error}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError:  # the reader (head, less) went away
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt:
        print("jejak: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the CLI never shows a traceback unless asked
        if os.environ.get("JEJAK_DEBUG"):
            raise
        if refusal := database_refusal(error):
            print(f"jejak: error: {refusal}", file=sys.stderr)
            return 4
        print(f"jejak: unexpected error: {type(error).__name__}: {error} (JEJAK_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
