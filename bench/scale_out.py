"""Load on 1, 2 and 4 `jejak serve` processes over one PostgreSQL primary, with and without its streaming
replica serving the reads, side by side in one run.

    .venv/bin/python bench/scale_out.py                        # 1,2,4 servers x 16,64 clients x replica off/on
    .venv/bin/python bench/scale_out.py --servers 1,2 --clients 16 --seconds 5 --json scale.json

The load is tests/load_support.py's: each client runs commands (70%: a report, then begin_review, register,
forward on it, each with an Idempotency-Key) and reads (30%: the cases under review, or the funnel audit,
with ?min_position= its last write's position, so every read sees the client's own writes). Every setting
gets a fresh database on a primary and replica this run creates (tests/pg_cluster.py, own ports, removed at
the end), its servers (`--projections follow`, `--read-db` with the replica) and a `jejak project --follow`.
commands/s counts acknowledged commands; errors are answers >= 500, dropped connections and commands given up.
Client, servers and PostgreSQL share this machine: the figures say how the parts compare, not what a
deployment of separate machines would do.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_setting(pair, number: int, servers: int, clients: int, replica: bool, seconds: float, logs: Path) -> dict:
    from sqlalchemy import create_engine

    from entrypoints.auth import tokens as api_tokens
    from entrypoints.bootstrap import open_jejak
    from entrypoints.tables import ensure_tables
    from projections.readside import ReadSide
    from tests.load_support import Load
    from tests.server_support import ServerProcess, master_key

    url = pair.create_database(f"jejak_bench_{number}")
    with open_jejak(url) as app:
        ReadSide(app).catch_up()
    engine = create_engine(url)
    ensure_tables(engine)
    reporter = api_tokens.issue(engine, "reporter")[0]
    bawaslu = api_tokens.issue(engine, "bawaslu", "kab-bima", "andi")[0]
    engine.dispose()
    env = {"JEJAK_MASTER_KEY": master_key()}
    extra = ["--read-db", pair.replica.url(f"jejak_bench_{number}")] if replica else []
    processes = [ServerProcess(url, logs / f"{number}-server-{i}.log", "--projections", "follow", *extra,
                               "--no-access-log", env=env) for i in range(servers)]
    follower = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "--db", url, "project", "--follow"],
                                cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        for process in processes:
            process.wait_ready()
        load = Load([p.url for p in processes], reporter, bawaslu, clients=clients, seconds=seconds, seed=number)
        result = load.run().summary()
    finally:
        for process in processes:
            process.stop()
        follower.terminate()
        follower.wait(15)
    statuses = result["statuses"]
    errors = sum(n for status, n in statuses.items() if status == "transport" or int(status) >= 500)
    return {"servers": servers, "clients": clients, "replica": replica, **result,
            "errors": errors + result["failed"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", default="1,2,4")
    parser.add_argument("--clients", default="16,64")
    parser.add_argument("--seconds", type=float, default=8.0, help="load per setting (default 8)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    import tempfile

    from tests.pg_cluster import PrimaryWithReplica

    logs = Path(tempfile.mkdtemp(prefix="jejak_bench_scale_"))
    rows = []
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min), {os.cpu_count()} CPUs", flush=True)
    with PrimaryWithReplica() as pair:
        number = 0
        for servers in [int(n) for n in args.servers.split(",")]:
            for clients in [int(n) for n in args.clients.split(",")]:
                for replica in (False, True):
                    number += 1
                    t0 = time.monotonic()
                    row = run_setting(pair, number, servers, clients, replica, args.seconds, logs)
                    rows.append(row)
                    c, r = row["command_ms"], row["read_ms"]
                    print(f"{servers} server(s) {clients:>3} clients replica {'on ' if replica else 'off'}: "
                          f"{row['commands_per_s']:6.1f} commands/s  commands p50/p95/p99 "
                          f"{c['p50']}/{c['p95']}/{c['p99']} ms  reads {row['reads']} p50/p95/p99 "
                          f"{r['p50']}/{r['p95']}/{r['p99']} ms from {row['read_from']}  errors {row['errors']}  "
                          f"({time.monotonic() - t0:.0f} s, load {os.getloadavg()[0]:.2f})", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
