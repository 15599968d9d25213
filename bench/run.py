"""Benchmarks, side by side in one run, printed as tables (not timed tests).

    .venv/bin/python bench/run.py                          # 1x and 10x, SQLite and PostgreSQL
    .venv/bin/python bench/run.py --scales 1,10,50 --stores sqlite,postgres --json results.json

Scale 1x is the 2020 demo scale (~2,000 cases, ~12,400 events). For each store and scale:

- **write**: `jejak import` of a generated CSV (bench/dataset.py; full workflow validation, 500 cases per
  transaction; one worker process per core, as `jejak import` runs by default, and again in one process) in
  events/s, beside a plain eventsourcing application with a tiny aggregate whose events carry
  ~280 bytes of state, same number of aggregates and events: (a) one `save` per command, (b) `save(*batch)` of
  500 aggregates, (c) the raw ceiling: `executemany` (SQLite) / `COPY` (PostgreSQL) of the same stored rows
  into a table shaped like eventsourcing's. (a) runs on the first few thousand events only (its rate does not
  depend on the store's size, and on PostgreSQL it is slow). Also `demo.generator.generate` if present.
- **read side**: catch-up of all projections from zero, then a full rebuild, in events/s.
- **commands**: one `advance` in-process (p50/p99 of a few hundred), and one `jejak advance` process, wall time.
- **audits**: each audit's time (projections/audits.py).
- **size**: bytes per event in the store (events and subject keys, before the read models).

The write measurements run ``--repeat`` rounds (default 3), interleaved and each on a fresh store, and the read
side (from zero: all read models dropped), the commands and the audits as many times; the fastest round is kept,
as timeit does (the machine's other load only ever slows a round down). CLI advance: the lowest of the rounds'
medians.

PostgreSQL: databases ``jejak_bench_*`` are created on ``--pg`` (default postgresql://postgres@127.0.0.1:5432/
postgres) and dropped afterwards. SQLite files go to a temporary directory (``--workdir`` to keep them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dataset  # noqa: E402  (bench/dataset.py)
from run_report import report  # noqa: E402  (bench/run_report.py)
from stores import Stores, store_bytes  # noqa: E402  (bench/stores.py)

A_CAP = 3000  # events for the one-save-per-command baseline
BATCH = 500  # aggregates per transaction, for the import and baseline (b)
COMMANDS = 300  # in-process advances timed
CLI_RUNS = 5
DEMO_MAX_SCALE = 10  # demo.generator.generate beyond this takes minutes
WIB = timezone(timedelta(hours=7))


# --- the plain eventsourcing peer -------------------------------------------------------------------------

def plain_classes():
    from plain import Plain, Thing  # bench/plain.py (a module, so that eventsourcing can name its topics)

    return Thing, Plain


def plain_env(url: str) -> dict:
    from workflow.store import resolve_store

    return resolve_store(url).eventsourcing_env()


PAYLOAD = dict(actor={"role": "bawaslu", "scope": "kab-bima", "id": "andi"},
               state="under_examination", note=None, workflow_version="skb-2020@1")


def plain_args(i: int, k: int) -> dict:
    at = datetime(2020, 9, 1, tzinfo=WIB) + timedelta(days=k)
    return dict(PAYLOAD, occurred_at=at)


def shape(cases: int, events: int) -> list[int]:
    """Events per aggregate, matching the import's total."""
    base, extra = divmod(events, cases)
    return [base + (1 if i < extra else 0) for i in range(cases)]


def bench_plain_batched(url: str, per_agg: list[int]) -> dict:
    Thing, Plain = plain_classes()
    app = Plain(env=plain_env(url))
    total = sum(per_agg)
    t0 = time.perf_counter()
    batch = []
    for i, n in enumerate(per_agg):
        thing = Thing(**plain_args(i, 0))
        for k in range(1, n):
            thing.happen(**plain_args(i, k))
        batch.append(thing)
        if len(batch) == BATCH:
            app.save(*batch)
            batch = []
    if batch:
        app.save(*batch)
    seconds = time.perf_counter() - t0
    stored = app.recorder.select_notifications(start=1, limit=50)
    state_bytes = statistics.mean(len(n.state) for n in stored)
    size = store_bytes(app, url, ["plain_events"])
    app.close()
    return {"events": total, "seconds": seconds, "rate": total / seconds, "state_bytes": state_bytes,
            "bytes_per_event": size / total}


def bench_plain_one_by_one(url: str, per_agg: list[int]) -> dict:
    Thing, Plain = plain_classes()
    app = Plain(env=plain_env(url))
    done = 0
    t0 = time.perf_counter()
    for i, n in enumerate(per_agg):
        thing = Thing(**plain_args(i, 0))
        app.save(thing)
        done += 1
        for k in range(1, n):
            thing.happen(**plain_args(i, k))
            app.save(thing)
            done += 1
        if done >= A_CAP:
            break
    seconds = time.perf_counter() - t0
    app.close()
    return {"events": done, "seconds": seconds, "rate": done / seconds}


def raw_rows(per_agg: list[int]) -> list[tuple]:
    """The stored rows the plain application would write (same topic, same ~280-byte JSON state)."""
    Thing, Plain = plain_classes()
    app = Plain(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    rows = []
    for i, n in enumerate(per_agg):
        thing = Thing(**plain_args(i, 0))
        for k in range(1, n):
            thing.happen(**plain_args(i, k))
        for e in thing.collect_events():
            s = app.mapper.to_stored_event(e)
            rows.append((s.originator_id, s.originator_version, s.topic, s.state))
    return rows


def bench_raw(url: str, per_agg: list[int]) -> dict:
    rows = raw_rows(per_agg)
    group = sum(per_agg[:BATCH]) or 1  # rows per transaction, as in a batched save
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE raw_events (originator_id TEXT, originator_version INTEGER, topic TEXT, "
                     "state BLOB, PRIMARY KEY (originator_id, originator_version))")
        params = [(r[0].hex, r[1], r[2], r[3]) for r in rows]
        t0 = time.perf_counter()
        for start in range(0, len(params), group):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO raw_events VALUES (?,?,?,?)", params[start:start + group])
            conn.execute("COMMIT")
        seconds = time.perf_counter() - t0
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE raw_events (originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
                         "topic text, state bytea, notification_id bigserial, "
                         "PRIMARY KEY (originator_id, originator_version))")
            conn.execute("CREATE UNIQUE INDEX ON raw_events (notification_id)")
            conn.commit()
            t0 = time.perf_counter()
            for start in range(0, len(rows), group):
                with conn.cursor() as cur, cur.copy("COPY raw_events (originator_id, originator_version, topic, "
                                                    "state) FROM STDIN") as copy:
                    for row in rows[start:start + group]:
                        copy.write_row(row)
                conn.commit()
            seconds = time.perf_counter() - t0
    return {"events": len(rows), "seconds": seconds, "rate": len(rows) / seconds}


# --- Jejak ------------------------------------------------------------------------------------------------

def bench_import(url: str, csv_path: Path, workers: int = 1) -> dict:
    from workflow.application import Jejak
    from workflow.importer import import_file

    with Jejak(url) as app:
        t0 = time.perf_counter()
        result = import_file(app, csv_path, progress=False, workers=workers)
        seconds = time.perf_counter() - t0
        assert result.ok, result.bad[:5]
        table = app.recorder.events_table_name
        size = store_bytes(app, url, [table, "subject_keys"])
        sample = app.recorder.select_notifications(start=1, limit=200)
        state_bytes = statistics.mean(len(n.state) for n in sample)
    return {"cases": result.imported, "events": result.events, "seconds": seconds,
            "rate": result.events / seconds, "bytes_per_event": size / result.events, "state_bytes": state_bytes}


def bench_demo(url: str, scale: float) -> dict | None:
    try:
        from demo.generator import generate
    except Exception:  # noqa: BLE001 - not there yet
        return None
    from workflow.application import Jejak

    with Jejak(url) as app:
        t0 = time.perf_counter()
        generate(app, "pilkada-2020", seed=0, scale=scale, progress=False)
        seconds = time.perf_counter() - t0
        events = app.recorder.max_notification_id() or 0
    return {"events": events, "seconds": seconds, "rate": events / seconds}


def bench_read_side(url: str, repeat: int = 1) -> dict:
    from projections import audits
    from projections.readside import ReadSide
    from workflow.application import Jejak

    with Jejak(url) as app:
        events = app.recorder.max_notification_id()
        read_side = ReadSide(app)
        catch_up = rebuild = float("inf")
        for round_ in range(repeat):  # the fastest of the rounds
            t0 = time.perf_counter()
            # from zero: the first time on new read models, then with every one (the hash chain too) dropped
            read_side.rebuild(chain=True) if round_ else read_side.catch_up()
            catch_up = min(catch_up, time.perf_counter() - t0)
            t0 = time.perf_counter()
            read_side.rebuild()
            rebuild = min(rebuild, time.perf_counter() - t0)
        timings = {}
        # the store is all imported history: backdating looks at it too, as before imports were marked
        options = {"backdating": {"include_imported": True}}
        for name in (*audits.AUDITS, "stage_stints"):
            for _ in range(repeat):  # the fastest of the rounds
                t0 = time.perf_counter()
                getattr(audits, name)(read_side, **options.get(name, {}))
                timings[name] = min(timings.get(name, float("inf")), time.perf_counter() - t0)
    return {"events": events, "catch_up_s": catch_up, "catch_up_rate": events / catch_up, "rebuild_s": rebuild,
            "rebuild_rate": events / rebuild, "audits": timings}


def bench_commands(url: str) -> dict:
    """p50/p99 of one in-process `advance`, then the wall time of `jejak advance` processes."""
    from workflow.application import Jejak

    fields = dict(name="Budi Santoso", nip="198001012005011001", position_group="administrator",
                  agency="pemkab-bima", province="prov-ntb", regency="kab-bima", category="social_media",
                  election="pilkada-2024", reporter_name="Siti")
    at = datetime(2024, 10, 1, 9, tzinfo=WIB)
    with Jejak(url) as app:
        cases = [app.new_case("reporter", occurred_at=at, **fields) for _ in range(COMMANDS + CLI_RUNS + 1)]
        app.record_cases(*cases)
        ids = [c.id for c in cases]
        latencies = []
        for case_id in ids[:COMMANDS]:
            t0 = time.perf_counter()
            app.advance(case_id, "begin_review", "bawaslu:kab-bima", occurred_at=at + timedelta(hours=1))
            latencies.append(time.perf_counter() - t0)
    latencies.sort()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as installed: bytecode cached
    walls = []
    for i, case_id in enumerate(ids[COMMANDS:]):
        cmd = [sys.executable, "-m", "entrypoints.cli", "--db", url, "advance", str(case_id), "begin_review",
               "--as", "bawaslu:kab-bima", "--at", "2024-10-01T10:00"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env)
        if i:  # the first run warms the OS cache and writes bytecode
            walls.append(time.perf_counter() - t0)
    return {"p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "cli_s": statistics.median(walls), "cli_min_s": min(walls)}


# --- the run ----------------------------------------------------------------------------------------------

def _keep_best(row: dict, key: str, result: dict) -> None:
    """The fastest of the rounds (as timeit does: slower rounds measure the machine's other load, not the code)."""
    if key not in row or result["rate"] > row[key]["rate"]:
        row[key] = result


def run(scales: list[float], kinds: list[str], stores: Stores, demo: bool, log, repeat: int = 1) -> list[dict]:
    from workflow.importer import default_workers

    workers = default_workers()
    results = []
    for scale in scales:
        csv_path = stores.workdir / f"import-{scale:g}x.csv"
        if not csv_path.exists():
            dataset.write_csv(csv_path, scale)
        for kind in kinds:
            label = f"{kind}-{scale:g}x"
            row = {"store": kind, "scale": scale, "workers": workers, "repeat": repeat}
            for round_ in range(1, repeat + 1):  # interleaved, so that a slow stretch of the machine hits all
                log(f"[{label}] round {round_}/{repeat}: import ({workers} worker processes, as jejak import does "
                    "here), import in one process")
                url = stores.new(kind, f"{label}-jejak{round_}")
                _keep_best(row, "import", bench_import(url, csv_path, workers=workers))
                _keep_best(row, "import_1", bench_import(stores.new(kind, f"{label}-jejak1-{round_}"), csv_path,
                                                         workers=1))
                imp = row["import"]
                per_agg = shape(imp["cases"], imp["events"])
                log(f"[{label}] round {round_}/{repeat}: plain eventsourcing: batched, one by one, raw")
                _keep_best(row, "plain_batched", bench_plain_batched(stores.new(kind, f"{label}-plainb{round_}"),
                                                                     per_agg))
                _keep_best(row, "plain_single", bench_plain_one_by_one(
                    stores.new(kind, f"{label}-plains{round_}"), per_agg))
                _keep_best(row, "raw", bench_raw(stores.new(kind, f"{label}-raw{round_}"), per_agg))
            if demo and scale <= DEMO_MAX_SCALE:
                log(f"[{label}] demo generate")
                row["demo"] = bench_demo(stores.new(kind, f"{label}-demo"), scale)
            log(f"[{label}] read side and audits")
            row["read"] = bench_read_side(url, repeat)
            log(f"[{label}] commands")
            rounds = [bench_commands(url) for _ in range(repeat)]
            row["commands"] = min(rounds, key=lambda r: r["p50_ms"])
            row["commands"]["cli_s"] = min(r["cli_s"] for r in rounds)
            row["commands"]["cli_min_s"] = min(r["cli_min_s"] for r in rounds)
            results.append(row)
            log(f"[{label}] done: import {imp['rate']:.0f} ev/s")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10", help="comma-separated multiples of ~2,000 cases (default 1,10)")
    parser.add_argument("--stores", default="sqlite,postgres", help="sqlite, postgres or both (default both)")
    parser.add_argument("--pg", default=os.environ.get("JEJAK_BENCH_PG",
                                                       "postgresql://postgres@127.0.0.1:5432/postgres"),
                        help="a PostgreSQL server's admin URL (databases jejak_bench_* are created there)")
    parser.add_argument("--workdir", help="keep the SQLite files and CSVs here (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL databases")
    parser.add_argument("--no-demo", action="store_true", help="skip demo.generator.generate")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="rounds of each write measurement and audit, interleaved; the fastest is kept "
                             "(default 3)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON")
    parser.add_argument("--report", metavar="JSON", nargs="+",
                        help="only print the tables of earlier runs' --json files (combined)")
    args = parser.parse_args(argv)
    if args.report:
        results = [r for path in args.report for r in json.loads(Path(path).read_text())["results"]]
        print(report(results))
        return 0
    scales = [float(s) for s in args.scales.split(",") if s.strip()]
    kinds = [k.strip() for k in args.stores.split(",") if k.strip()]
    unknown = set(kinds) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown store(s): {', '.join(sorted(unknown))}")
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="jejak-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    stores = Stores(workdir, args.pg, args.keep)
    log = lambda text: print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)  # noqa: E731
    started = datetime.now(timezone.utc)
    try:
        results = run(scales, kinds, stores, not args.no_demo, log, max(1, args.repeat))
    finally:
        stores.cleanup()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    head = (f"jejak bench, {started:%Y-%m-%d %H:%M} UTC, {platform.node()}: {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}\n"
            f"command: python bench/run.py {' '.join(argv if argv is not None else sys.argv[1:])}\n")
    print(head)
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps({"started": started.isoformat(), "results": results}, indent=2,
                                              default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
