"""Commands over HTTP against `jejak serve`, beside the same commands in-process, in one run (PostgreSQL).

    .venv/bin/python bench/http_api.py                                   # 1, 4, 16 clients; 1 and 4 server processes
    .venv/bin/python bench/http_api.py --clients 1,16 --processes 4 --commands 2000 --json http.json

The command is the one bench/run.py times: `begin_review` on a freshly reported case (load, decide, save), each
on its own case, so that no two clients race. *in-process*: `Jejak.advance` from N threads sharing one
application, as the server's worker threads do. *HTTP*: `POST /api/v1/cases/{id}/triggers/begin_review` with
an API token, from N concurrent clients (asyncio + httpx, keep-alive connections, in this process) against
`jejak serve --workers P --no-access-log`; with ``--idempotency`` each request also carries an
Idempotency-Key. Latencies are per command as the caller sees them; a short warm-up is not counted. The client
runs on the same machine: its CPU share is reported (``client cpu``: seconds of CPU per second of the run).

A database ``jejak_bench_http`` is created on ``--pg`` (default postgresql://postgres@127.0.0.1:5432/postgres)
and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stores import bench_database  # noqa: E402 - bench/stores.py, beside this file

WIB = timezone(timedelta(hours=7))
AT = datetime(2024, 10, 1, 9, tzinfo=WIB)
WARMUP = 50
FIELDS = dict(name="Budi Santoso", nip="198001012005011001", position_group="administrator", agency="pemkab-bima",
              province="prov-ntb", regency="kab-bima", category="social_media", election="pilkada-2024",
              reporter_name="Siti")


def percentiles(latencies: list[float]) -> dict:
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99)}


def seed(url: str, count: int) -> list[str]:
    from workflow.application import Jejak

    ids = []
    with Jejak(url) as app:
        for start in range(0, count, 500):
            cases = [app.new_case("reporter", occurred_at=AT, **FIELDS) for _ in range(min(500, count - start))]
            app.record_cases(*cases)
            ids += [str(c.id) for c in cases]
    return ids


def in_process(url: str, cases: list[str], clients: int) -> dict:
    from workflow.application import Jejak

    with Jejak(url, env={"POSTGRES_POOL_SIZE": str(clients), "POSTGRES_MAX_OVERFLOW": "0"}) as app:
        for case_id in cases[:WARMUP]:
            app.advance(case_id, "begin_review", "bawaslu:kab-bima", occurred_at=AT + timedelta(hours=1))
        work = cases[WARMUP:]
        latencies: list[float] = []
        lock = threading.Lock()

        def run(mine: list[str]) -> None:
            own = []
            for case_id in mine:
                t0 = time.perf_counter()
                app.advance(case_id, "begin_review", "bawaslu:kab-bima", occurred_at=AT + timedelta(hours=1))
                own.append(time.perf_counter() - t0)
            with lock:
                latencies.extend(own)

        threads = [threading.Thread(target=run, args=(work[i::clients],)) for i in range(clients)]
        cpu0, t0 = time.process_time(), time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - t0
    return {"mode": "in-process", "processes": 1, "clients": clients, "commands": len(work),
            "rate": len(work) / wall, "client_cpu": None, "process_cpu": (time.process_time() - cpu0) / wall,
            **percentiles(latencies)}


async def _http_load(base: str, token: str, cases: list[str], clients: int, idempotency: bool) -> tuple:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    body = {"occurred_at": (AT + timedelta(hours=1)).isoformat()}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:
        async def fire(case_id: str) -> float:
            extra = {"Idempotency-Key": case_id} if idempotency else {}
            t0 = time.perf_counter()
            response = await client.post(f"/api/v1/cases/{case_id}/triggers/begin_review", json=body, headers=extra)
            elapsed = time.perf_counter() - t0
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
            return elapsed

        async def run(mine: list[str], out: list[float]) -> None:
            for case_id in mine:
                out.append(await fire(case_id))

        warm, work = cases[:WARMUP], cases[WARMUP:]
        await asyncio.gather(*(run(warm[i::clients], []) for i in range(clients)))
        results: list[list[float]] = [[] for _ in range(clients)]
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(run(work[i::clients], results[i]) for i in range(clients)))
        wall = time.perf_counter() - t0
        return [x for part in results for x in part], wall, (time.process_time() - cpu0) / wall


def _children_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its descendants (the uvicorn workers), from /proc."""
    total, ticks = 0.0, os.sysconf("SC_CLK_TCK")
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            pending += [int(p) for p in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def over_http(url: str, token: str, plan: dict[int, list[str]], processes: int, idempotency: bool,
              log: Path) -> list[dict]:
    import httpx

    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "JEJAK_MASTER_KEY": os.environ.get("JEJAK_MASTER_KEY") or _master_key()}
    with open(log, "ab") as out:
        server = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", "--db", url, "--port", str(port),
                                   "--workers", str(processes), "--no-access-log"], cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start; see " + str(log))
        time.sleep(1.0 if processes > 1 else 0.2)  # every worker up
        rows = []
        for clients, cases in plan.items():
            cpu0 = _children_cpu(server.pid)
            latencies, wall, client_cpu = asyncio.run(_http_load(base, token, cases, clients, idempotency))
            rows.append({"mode": "HTTP" + (" +key" if idempotency else ""), "processes": processes,
                         "clients": clients, "commands": len(latencies), "rate": len(latencies) / wall,
                         "client_cpu": client_cpu, "process_cpu": (_children_cpu(server.pid) - cpu0) / wall,
                         **percentiles(latencies)})
            print(_line(rows[-1]), file=sys.stderr, flush=True)
        return rows
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)


def _master_key() -> str:
    from eventsourcing.cryptography import AESCipher

    return AESCipher.create_key(32)


def _line(r: dict) -> str:
    cpu = lambda x: "—" if x is None else f"{x:.2f}"  # noqa: E731
    return (f"| {r['mode']:<10} | {r['processes']} | {r['clients']:>2} | {r['commands']:>5} | {r['rate']:>7.0f} | "
            f"{r['p50_ms']:>6.1f} | {r['p95_ms']:>6.1f} | {r['p99_ms']:>6.1f} | {cpu(r['process_cpu'])} | "
            f"{cpu(r['client_cpu'])} |")


def report(rows: list[dict], meta: dict) -> str:
    lines = [f"{meta['date']}, {meta['machine']}, load average before the run {meta['load']}",
             "", "| mode       | server processes | clients | commands | cmd/s | p50 ms | p95 ms | p99 ms | server cpu | "
             "client cpu |", "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [_line(r) for r in rows]
    best_local = max(r["rate"] for r in rows if r["mode"] == "in-process")
    four = [r for r in rows if r["mode"] == "HTTP" and r["processes"] == 4]
    sixteen = [r for r in rows if r["mode"] == "HTTP" and r["clients"] == 16]
    lines.append("")
    if four:
        best = max(r["rate"] for r in four)
        lines.append(f"4 processes: best {best:.0f} commands/s = {100 * best / best_local:.0f}% of the best "
                     f"in-process rate ({best_local:.0f}/s); goal ≥ 1,000/s or ≥ 60%: "
                     f"{'met' if best >= 1000 or best >= 0.6 * best_local else 'missed'}")
    for r in sixteen:
        lines.append(f"16 clients, {r['processes']} process(es): p95 {r['p95_ms']:.1f} ms; goal ≤ 15 ms: "
                     f"{'met' if r['p95_ms'] <= 15 else 'missed'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--processes", default="1,4")
    parser.add_argument("--commands", type=int, default=1500, help="commands timed per configuration")
    parser.add_argument("--idempotency", action="store_true", help="also run with an Idempotency-Key per request")
    parser.add_argument("--pg", default=os.environ.get("JEJAK_TEST_PG",
                                                       "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    from entrypoints.auth import tokens

    clients = [int(c) for c in args.clients.split(",")]
    processes = [int(p) for p in args.processes.split(",")]
    modes = [False, True] if args.idempotency else [False]
    per = args.commands + WARMUP
    label = f"http_{os.getpid()}"  # the database jejak_bench_<label>, the server's log /tmp/jejak_bench_<label>.log
    meta = {"date": datetime.now(timezone.utc).strftime("%d %b %Y %H:%M UTC"),
            "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}",
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg()), "command": " ".join(sys.argv)}
    with bench_database(args.pg, label) as url:
        ids = seed(url, per * len(clients) * (1 + len(processes) * len(modes)))
        batches = iter(ids[i:i + per] for i in range(0, len(ids), per))
        engine = tokens.engine_for_tokens(url)
        token = tokens.issue(engine, "bawaslu", "kab-bima", "bench")[0]
        engine.dispose()
        rows = []
        for c in clients:
            rows.append(in_process(url, next(batches), c))
            print(_line(rows[-1]), file=sys.stderr, flush=True)
        log = Path(f"/tmp/jejak_bench_{label}.log")
        for p in processes:
            for idempotency in modes:
                rows += over_http(url, token, {c: next(batches) for c in clients}, p, idempotency, log)
    print(report(rows, meta))
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
