"""`jejak --server URL --token TOKEN …`: the CLI as a client of `jejak serve`, with the same output and exit
codes as on a local store. The token says who acts: ``--as`` is refused. ``JEJAK_SERVER`` and ``JEJAK_TOKEN``
stand for the options (``--db`` on the command line wins over ``JEJAK_SERVER``)."""

from __future__ import annotations

import json
import os
from datetime import datetime

from entrypoints.cli.arguments import read_json_object, trigger_fields
from entrypoints.cli.output import print_history, print_json, print_marked, print_table
from entrypoints.views import parse_when
from workflow.errors import InvalidField

REMOTE_COMMANDS = ("report", "advance", "show", "cases", "triggers", "audit", "verify", "tick")


def remote_mode(argv: list[str]) -> bool:
    """Whether this command line runs against a server: --server given, or JEJAK_SERVER set and no --db."""
    given = any(word == "--server" or word.startswith("--server=") for word in argv)
    local = any(word == "--db" or word.startswith("--db=") for word in argv)
    return given or (bool(os.environ.get("JEJAK_SERVER")) and not local)


def run(args) -> int:
    from entrypoints.client import Client

    server = getattr(args, "server", None) or os.environ.get("JEJAK_SERVER")
    token = getattr(args, "token", None) or os.environ.get("JEJAK_TOKEN")
    if getattr(args, "db", None):
        raise InvalidField("--db", "not with --server: the server has the store", allowed="--server or --db")
    if args.command not in REMOTE_COMMANDS:
        raise InvalidField("--server", f"'{args.command}' runs on a local store only (--db)",
                           allowed=", ".join(REMOTE_COMMANDS))
    if getattr(args, "actor", None) is not None:
        raise InvalidField("--as", "refused with --server: the token says who you are")
    if not token:
        raise InvalidField("--token", "required with --server (or JEJAK_TOKEN)",
                           allowed="a token from 'jejak token issue'")
    with Client(server, token) as client:
        return COMMANDS[args.command](client, args)


def _times(row: dict) -> dict:
    """ISO times back to datetimes (keys ending in _at), as the local commands print them."""
    out = {}
    for key, value in row.items():
        if isinstance(value, dict):
            value = _times(value)
        elif key.endswith("_at") and isinstance(value, str):
            value = datetime.fromisoformat(value)
        out[key] = value
    return out


def cmd_report(client, args) -> int:
    from workflow.fields import REPORT_FIELDS

    fields = read_json_object(args.source) if args.source else {}
    fields.update({key: getattr(args, key) for key in REPORT_FIELDS if getattr(args, key) is not None})
    stated = fields.pop("occurred_at", None)
    occurred_at = parse_when(args.at if stated is None else stated, "occurred_at")
    era, note = fields.pop("era", None) or args.era, fields.pop("note", None) or args.note
    print(client.report(fields.pop("actor", None), occurred_at=occurred_at, era=era, note=note, **fields))
    return 0


def cmd_advance(client, args) -> int:
    case = client.advance(args.case, args.trigger, occurred_at=parse_when(args.at), note=args.note,
                          expected_version=args.expect_version, retries=args.retries, **trigger_fields(args.set))
    print(case.state)
    return 0


def cmd_show(client, args) -> int:
    as_of = args.as_of  # a date goes as it is (the server reads it as the end of that local day)
    if as_of is not None and len(as_of.strip()) != 10:
        as_of = parse_when(as_of, "--as-of")
    rows = client.case_events(args.case, as_of=as_of)
    print_history(rows if args.json else [_times(r) for r in rows], args.json)
    return 0


def cmd_cases(client, args) -> int:
    rows = client.cases(state=args.state)
    if args.json:
        print_json(rows)
    else:
        print_table([_times(r) for r in rows], ["case_id", "state", "election", "province", "regency", "agency",
                                                "reported_at", "due_at"])
    return 0


def cmd_triggers(client, args) -> int:
    triggers = client.triggers(args.case)
    print_json(triggers) if args.json else print("\n".join(triggers))
    return 0


def cmd_tick(client, args) -> int:
    return print_marked(client.tick(now=parse_when(args.now, "--now")), args.json)


def cmd_audit(client, args) -> int:
    from entrypoints.audit import audit_options
    from entrypoints.cli.readside import print_frame

    audit_options(args.name, by=args.by, as_of=args.as_of, recorded=args.recorded, now=args.now,
                  threshold=args.threshold, include_open=args.include_open,
                  include_imported=args.include_imported)  # refused here as locally
    if getattr(args, "json", False) and args.csv:
        raise InvalidField("--json/--csv", "choose one")
    frame = client.audit(args.name, by=args.by, as_of=args.as_of, recorded=args.recorded, now=args.now,
                         threshold=args.threshold, include_open=args.include_open,
                         include_imported=args.include_imported)
    print_frame(frame, args)
    return 0


def cmd_verify(client, args) -> int:
    from projections.integrity import Problem, VerifyReport

    local = [flag for flag in ("proof", "checkpoint", "writer_key", "trusted_keys") if getattr(args, flag, None)]
    if local:
        raise InvalidField("--" + local[0].replace("_", "-"), "is checked on this machine, not by the server",
                           allowed="jejak verify without --server (a proof needs no database at all)")
    data = client.verify(args.digest)
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2))
    else:
        fields = {k: v for k, v in data.items() if k not in ("ok", "problems")}
        print(VerifyReport(**fields, problems=[Problem(**p) for p in data["problems"]]))
    return 0 if data["ok"] else 1


COMMANDS = {"report": cmd_report, "advance": cmd_advance, "show": cmd_show, "cases": cmd_cases,
            "triggers": cmd_triggers, "tick": cmd_tick, "audit": cmd_audit, "verify": cmd_verify}
