"""`jejak db secure`: roles, grants and the append-only guard on a PostgreSQL store (entrypoints.db_secure).

    jejak db secure --db OWNER_URL [--app-role NAME] [--reader-role NAME] [--app-password PASSWORD]
                    [--reader-password PASSWORD] [--json]
"""

from __future__ import annotations

import argparse
import json

from entrypoints.db_secure import DEFAULT_APP_ROLE, DEFAULT_READER_ROLE, secure


def register(subparsers) -> None:
    db = subparsers.add_parser("db", help="database administration (PostgreSQL): secure",
                               description="Database administration, run with the owner's URL.")
    commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    p = commands.add_parser(
        "secure", help="create the schema, the application and reader roles, their grants and the append-only guard",
        description="Run once by the database owner, and again after an upgrade or once the server's tables exist "
                    "(idempotent). The server and the CLI then connect as the application role; notebooks and BI "
                    "tools as the reader. Roles are cluster-wide: name them per database if several share a server.")
    # SUPPRESS: do not overwrite a --db/--json given before the subcommand (the main parser has them too)
    p.add_argument("--db", default=argparse.SUPPRESS, help="the owner's postgresql:// URL (default: $JEJAK_DB)")
    p.add_argument("--app-role", default=DEFAULT_APP_ROLE, metavar="NAME",
                   help=f"the role the server and the CLI connect as (default {DEFAULT_APP_ROLE})")
    p.add_argument("--reader-role", default=DEFAULT_READER_ROLE, metavar="NAME",
                   help=f"the role notebooks and BI tools connect as (default {DEFAULT_READER_ROLE})")
    p.add_argument("--app-password", metavar="PASSWORD", help="set the application role's password")
    p.add_argument("--reader-password", metavar="PASSWORD", help="set the reader role's password")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="the result as JSON")
    p.set_defaults(func=cmd_secure)


def cmd_secure(args) -> int:
    done = secure(args.db, app_role=args.app_role, reader_role=args.reader_role, app_password=args.app_password,
                  reader_password=args.reader_password)
    if args.json:
        print(json.dumps(done.as_dict(), indent=2))
        return 0
    created = f" (created: {', '.join(done.created_roles)})" if done.created_roles else ""
    print(f"secured {done.store}: application role {done.app_role}, reader role {done.reader_role}{created}")
    rows = [("table", done.app_role, done.reader_role, "append-only")]
    for table, grants in done.granted.items():
        rows.append((table, "owner (erasure: DELETE, VACUUM)" if grants.app_owns else ", ".join(grants.app) or "-",
                     ", ".join(grants.reader) or "-", "yes, for every role" if grants.append_only else ""))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0
