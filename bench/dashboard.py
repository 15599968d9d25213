"""Dashboard pages beside the audit API, in one run, against `jejak serve` on a PostgreSQL store.

    .venv/bin/python bench/dashboard.py                      # 20,000 cases, 20 timed requests per page
    .venv/bin/python bench/dashboard.py --cases 100000 --requests 50 --json pages.json

The store is filled by `jejak import` of bench/dataset.py's file (about 6.5 events a case) and its read models
caught up before the server starts, as `jejak project --follow` keeps them on a live server. One client sends
the requests one after another (after two untimed ones per page), each page and API call in turn, so that a
load change on the machine touches every row alike; p50 and p95 are per request, as the client sees them.
Public pages go without a credential; the case page and the signed-in overdue list carry an auditor's session
cookie, the API calls its token. A database ``jejak_bench_i17_<pid>`` is created on ``--pg`` and dropped after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from http_api import _master_key, percentiles  # noqa: E402 - bench/http_api.py, beside this file
from stores import bench_database  # noqa: E402 - bench/stores.py


def build(url: str, cases: int, workdir: Path) -> float:
    import dataset  # bench/dataset.py

    csv_path = workdir / "import.csv"
    dataset.write_csv(csv_path, cases=cases)
    t0 = time.perf_counter()
    jejak = [sys.executable, "-m", "entrypoints.cli", "--db", url]
    subprocess.run([*jejak, "import", str(csv_path)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    subprocess.run([*jejak, "project"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def targets(url: str) -> list[tuple[str, str, str]]:
    """(label, path, credential: "" public, "cookie" or "token")."""
    from sqlalchemy import create_engine, func, select

    from projections.tables import case_summary

    engine = create_engine(url)
    with engine.connect() as conn:
        ppk = conn.execute(select(case_summary.c.ppk).group_by(case_summary.c.ppk)
                           .order_by(func.count().desc()).limit(1)).scalar()
        case_id = conn.execute(select(case_summary.c.case_id).where(case_summary.c.state == "sanctioned")
                               .limit(1)).scalar()
        election = conn.execute(select(case_summary.c.election).limit(1)).scalar()
    engine.dispose()
    return [
        ("page /", "/", ""),
        ("page / as of a date", "/?as_of=2024-11-30", ""),
        ("page /ppk", "/ppk", ""),
        ("page /ppk filtered, sorted", f"/ppk?election={election}&sort=received&dir=desc", ""),
        ("page /ppk.csv", "/ppk.csv", ""),
        ("page /ppk/{code}", f"/ppk/{ppk}", ""),
        ("page /overdue (public)", "/overdue", ""),
        ("page /overdue (signed in)", "/overdue", "cookie"),
        ("page /cases/{id}", f"/cases/{case_id}", "cookie"),
        ("page /integrity", "/integrity", ""),
        ("API audits/responsiveness", "/api/v1/audits/responsiveness", "token"),
        ("API audits/funnel?by=election", "/api/v1/audits/funnel?by=election", "token"),
        ("API audits/overdue", "/api/v1/audits/overdue", "token"),
        ("API cases/{id}/events", f"/api/v1/cases/{case_id}/events", "token"),
    ]


def measure(base: str, token: str, plan, requests: int) -> list[dict]:
    import httpx

    latencies = {label: [] for label, _, _ in plan}
    with httpx.Client(base_url=base, timeout=120) as client:
        def get(path: str, credential: str) -> float:
            headers = {"Authorization": f"Bearer {token}"} if credential == "token" else {}
            cookies = {"jejak_session": token} if credential == "cookie" else None
            client.cookies.clear()
            t0 = time.perf_counter()
            response = client.get(path, headers=headers, cookies=cookies)
            elapsed = time.perf_counter() - t0
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
            return elapsed

        for _, path, credential in plan * 2:  # warm-up, not counted
            get(path, credential)
        for _ in range(requests):
            for label, path, credential in plan:
                latencies[label].append(get(path, credential))
    return [{"what": label, "requests": len(times), **percentiles(times)} for label, times in latencies.items()]


def serve(url: str, log: Path):
    import httpx

    port = 19000 + os.getpid() % 1000
    env = {**os.environ, "JEJAK_MASTER_KEY": os.environ.get("JEJAK_MASTER_KEY") or _master_key()}
    with open(log, "ab") as out:
        server = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", "--db", url, "--port", str(port),
                                   "--no-access-log"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):  # up to a minute
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    os.killpg(server.pid, 15)
    raise RuntimeError(f"jejak serve did not start; see {log}")


def report(rows: list[dict], meta: dict) -> str:
    lines = [f"{meta['date']}, {meta['machine']}, {meta['cases']:,} cases ({meta['events']:,} events) on PostgreSQL, "
             f"load average before the run {meta['load']}", "",
             "| request | p50 ms | p95 ms | p95 ≤ 200 ms |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['what']} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | "
                     f"{'yes' if r['p95_ms'] <= 200 else 'no'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument("--pg", default=os.environ.get("JEJAK_TEST_PG",
                                                       "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    import psycopg

    from entrypoints.auth import tokens

    label = f"i17_{os.getpid()}"  # the database jejak_bench_<label>, the server's log /tmp/jejak_bench_<label>.log
    meta = {"date": datetime.now(timezone.utc).strftime("%d %b %Y %H:%M UTC"),
            "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}", "cases": args.cases,
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg()), "command": " ".join(sys.argv)}
    with bench_database(args.pg, label) as url:
        with tempfile.TemporaryDirectory() as workdir:
            meta["build_s"] = build(url, args.cases, Path(workdir))
        with psycopg.connect(url) as conn:
            meta["events"] = conn.execute("SELECT count(*) FROM case_event").fetchone()[0]
        engine = tokens.engine_for_tokens(url)
        token = tokens.issue(engine, "auditor", person="bench")[0]
        engine.dispose()
        server, base = serve(url, Path(f"/tmp/jejak_bench_{label}.log"))
        try:
            rows = measure(base, token, targets(url), args.requests)
        finally:
            os.killpg(server.pid, 15)
            server.wait(30)
    print(report(rows, meta))
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
