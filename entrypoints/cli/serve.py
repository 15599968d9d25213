"""`jejak serve` and `jejak token`: run the HTTP API, and manage its API tokens.

    jejak serve [--db URL] [--host 127.0.0.1] [--port 8000] [--workers N] [--insecure-dev] [--max-body-bytes N]
                [--projections inline|follow|external] [--read-db REPLICA_URL]
    jejak token issue --role ROLE [--scope SCOPE] [--person ID] [--expires DAYS]
    jejak token list
    jejak token revoke ID
"""

from __future__ import annotations

import argparse
import os
import sys

from workflow.definitions import ROLES
from workflow.errors import InvalidField


def register(subparsers) -> None:
    store = argparse.ArgumentParser(add_help=False)  # --db also after the subcommand (`jejak serve --db URL`)
    store.add_argument("--db", default=argparse.SUPPRESS, help="store URL (default: $JEJAK_DB or jejak.db)")
    p = subparsers.add_parser("serve", parents=[store], help="run the HTTP API and the dashboard (needs JEJAK_MASTER_KEY or --insecure-dev)",
                              description="Serve the HTTP API and the oversight dashboard (/) with uvicorn. "
                                          "Refuses to start without "
                                          "JEJAK_MASTER_KEY (or JEJAK_MASTER_KEY_FILE) unless --insecure-dev.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    p.add_argument("--insecure-dev", action="store_true",
                   help="start without a master key (reporters' data keys in clear): throw-away stores only")
    p.add_argument("--max-body-bytes", type=int, help="larger request bodies are refused with 413 (default 1 MiB)")
    p.add_argument("--no-access-log", action="store_true", help="do not log every request")
    p.add_argument("--projections", choices=("inline", "follow", "external"), default=argparse.SUPPRESS,
                   help="who keeps the read models current: each read first (inline, the default: one server), "
                        "this server if elected among all followers (follow, PostgreSQL advisory lock), or another "
                        "process (external: `jejak project --follow`) ($JEJAK_PROJECTIONS)")
    p.add_argument("--read-db", metavar="URL", default=argparse.SUPPRESS,
                   help="a streaming replica of the store: listings and audits are read there ($JEJAK_READ_DB)")
    p.set_defaults(func=cmd_serve)

    t = subparsers.add_parser("token", help="issue, list or revoke API tokens of the HTTP API")
    actions = t.add_subparsers(dest="action", required=True, metavar="ACTION")
    i = actions.add_parser("issue", parents=[store], help="a new token, printed once on stdout (only its hash is stored)")
    i.add_argument("--role", required=True, choices=ROLES)
    i.add_argument("--scope", help="region (bawaslu) or agency (ppk) code")
    i.add_argument("--person", help="the officer, recorded on each event as the actor's @ID")
    i.add_argument("--expires", type=float, metavar="DAYS", help="days until it expires (default: never)")
    i.set_defaults(func=cmd_token_issue)
    lister = actions.add_parser("list", parents=[store], help="every token: id, actor, created, expires, revoked")
    lister.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="write JSON")
    lister.set_defaults(func=cmd_token_list)
    r = actions.add_parser("revoke", parents=[store], help="revoke a token (running servers refuse it at once)")
    r.add_argument("token_id", metavar="ID")
    r.set_defaults(func=cmd_token_revoke)


def cmd_serve(args) -> int:
    import uvicorn

    from entrypoints.api.settings import ServerSettings, require_master_key
    from workflow.store import resolve_store

    if not 0 < args.port < 65536:
        raise InvalidField("--port", f"not a port: {args.port}", allowed="1-65535")
    if not 1 <= args.workers <= 64:
        raise InvalidField("--workers", f"must be 1 to 64, got {args.workers}")
    store = resolve_store(args.db)  # a bad URL is refused here, not in every worker
    if args.db:
        os.environ["JEJAK_DB"] = args.db  # read by each worker process
    if args.insecure_dev:
        os.environ["JEJAK_INSECURE_DEV"] = "1"
    if args.max_body_bytes is not None:
        os.environ["JEJAK_MAX_BODY_BYTES"] = str(args.max_body_bytes)
    if getattr(args, "projections", None):
        os.environ["JEJAK_PROJECTIONS"] = args.projections
    if getattr(args, "read_db", None):
        os.environ["JEJAK_READ_DB"] = args.read_db
    source = require_master_key(args.insecure_dev)
    settings = ServerSettings.from_env()  # refuses bad settings (OIDC, limits) before any worker starts
    if settings.oidc is not None:
        from entrypoints.auth.oidc import OIDCVerifier

        OIDCVerifier(settings.oidc)  # a JWKS file that cannot be read is refused now
    if source == "insecure-dev":
        print("jejak serve: INSECURE DEV MODE: no master key, reporters' data keys are stored in clear",
              file=sys.stderr)
    replica = f", reads from {resolve_store(settings.read_db)}" if settings.read_db else ""
    print(f"jejak serve: {store} on http://{args.host}:{args.port} ({args.workers} process(es), projections "
          f"{settings.projections}{replica})", file=sys.stderr, flush=True)
    uvicorn.run("entrypoints.api.app:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, access_log=not args.no_access_log, log_level="info")
    return 0


def cmd_token_issue(args) -> int:
    from entrypoints.auth import tokens

    token, row = tokens.issue(tokens.engine_for_tokens(args.db), args.role, args.scope, args.person, args.expires)
    expires = row["expires_at"].isoformat(timespec="minutes") if row["expires_at"] else "never"
    print(f"token {row['token_id']} for {args.role}{':' + args.scope if args.scope else ''}"
          f"{'@' + args.person if args.person else ''}, expires {expires}; it is shown once: keep it secret",
          file=sys.stderr)
    print(token)
    return 0


def cmd_token_list(args) -> int:
    from entrypoints.auth import tokens
    from entrypoints.cli.output import print_json, print_table

    rows = tokens.list_tokens(tokens.engine_for_tokens(args.db))
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["token_id", "actor", "created_at", "expires_at", "revoked_at"])
    return 0


def cmd_token_revoke(args) -> int:
    from entrypoints.auth import tokens

    done = tokens.revoke(tokens.engine_for_tokens(args.db), args.token_id)
    print(f"token {args.token_id} {'revoked' if done else 'was already revoked'}")
    return 0
