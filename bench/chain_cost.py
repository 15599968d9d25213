"""What the write-time hash chain costs, side by side in one run (issue 20: goal ≤ 10%).

    .venv/bin/python bench/chain_cost.py --stores sqlite,postgres --cases 600 --commands 300 --repeat 3

Three writers on fresh stores, interleaved round by round in a turning order, the fastest round kept (as timeit
does):

- **plain**: eventsourcing's own recorders, no chain (what Jejak did before the chain moved to the write side);
- **unsigned**: the chain rows written in the same transaction, no key;
- **signed**: the chain rows, each transaction's last one signed with Ed25519 (JEJAK_SIGNING_KEY).

Measured: **command**: one `advance` in-process (p50 of `--commands`; wall and CPU time of this process);
**bulk**: `jejak import` of a generated CSV (bench/dataset.py; 500 cases per transaction, one process) in
events/s, wall and per CPU second. Ratios are to *plain*, from the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402

from bench.dataset import write_csv  # noqa: E402
from entrypoints.bootstrap import open_jejak  # noqa: E402
from workflow.importer import import_file  # noqa: E402
from workflow.signing import SignerKey  # noqa: E402

PLAIN = {"sqlite": "eventsourcing.sqlite:SQLiteApplicationRecorder",
         "postgres": "eventsourcing.postgres:PostgresApplicationRecorder"}
VARIANTS = ("plain", "unsigned", "signed")
STEPS = [("begin_review", "bawaslu:kab-bima"), ("register", "bawaslu:kab-bima"), ("forward", "bawaslu:kab-bima")]


def _store(kind: str, workdir: Path, pg: str, made: list[str]) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / f'{uuid.uuid4().hex}.db'}"
    name = f"jejak_i20_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    made.append(name)
    return pg.rsplit("/", 1)[0] + f"/{name}"


def _open(url: str, kind: str, variant: str, key: SignerKey):
    env = {"APPLICATION_RECORDER_TOPIC": PLAIN[kind]} if variant == "plain" else None
    return open_jejak(url, env=env, signer=key if variant == "signed" else False)


def commands(url: str, kind: str, variant: str, key: SignerKey, count: int) -> tuple[float, float]:
    """p50 wall and CPU seconds of one advance."""
    from datetime import datetime, timedelta, timezone

    at = datetime(2024, 10, 1, 9, tzinfo=timezone(timedelta(hours=7)))
    fields = dict(name="Budi", position_group="administrator", agency="pemkab-bima", province="prov-ntb",
                  regency="kab-bima", category="social_media", election="pilkada-2024")
    walls, cpus = [], []
    with _open(url, kind, variant, key) as app:
        cases = [app.report("bawaslu:kab-bima", occurred_at=at, **fields) for _ in range(count // len(STEPS) + 1)]
        for step, (trigger, actor) in enumerate(STEPS):
            for case_id in cases:
                if len(walls) == count:
                    break
                wall, cpu = time.perf_counter(), time.process_time()
                app.advance(case_id, trigger, actor, occurred_at=at + timedelta(days=step + 1))
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def bulk(url: str, kind: str, variant: str, key: SignerKey, csv: Path) -> tuple[float, float, int]:
    """events/s of an import: wall and per CPU second of this process, and the events written."""
    with _open(url, kind, variant, key) as app:
        wall, cpu = time.perf_counter(), time.process_time()
        import_file(app, csv, workers=1)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        events = app.recorder.max_notification_id() or 0
    return events / wall, events / cpu, events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--cases", type=int, default=600, help="rows of the import (bulk)")
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    key = SignerKey.generate("bench.example/jejak")
    made: list[str] = []
    print(f"load average {os.getloadavg()[0]:.2f} at start; {args.repeat} rounds, fastest kept")
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        csv = workdir / "import.csv"
        write_csv(csv, cases=args.cases)
        try:
            for kind in args.stores.split(","):
                best: dict[str, dict[str, float]] = {v: {} for v in VARIANTS}
                for round_ in range(args.repeat):
                    # the order turns each round: whichever runs first in a round was measured faster or slower
                    # (by up to 40% on the import here), which a fixed order would pin on one writer
                    for variant in VARIANTS[round_ % 3:] + VARIANTS[:round_ % 3]:
                        p50, cpu50 = commands(_store(kind, workdir, args.pg, made), kind, variant, key, args.commands)
                        rate, cpu_rate, events = bulk(_store(kind, workdir, args.pg, made), kind, variant, key, csv)
                        row = best[variant]
                        row["p50"] = min(row.get("p50", 1e9), p50)
                        row["cpu50"] = min(row.get("cpu50", 1e9), cpu50)
                        row["rate"] = max(row.get("rate", 0), rate)
                        row["cpu_rate"] = max(row.get("cpu_rate", 0), cpu_rate)
                        row["events"] = events
                _print(kind, best, args)
        finally:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                for name in made:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    return 0


def _print(kind: str, best: dict, args) -> None:
    base = best["plain"]
    print(f"\n{kind}: {args.commands} advances, import of {args.cases} cases ({base['events']} events)")
    print("| writer | advance p50 ms | ratio | advance CPU p50 ms | ratio | import events/s | ratio "
          "| import events/CPU s | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for variant, row in best.items():
        print(f"| {variant} | {row['p50'] * 1000:.2f} | {row['p50'] / base['p50']:.2f} | {row['cpu50'] * 1000:.2f} "
              f"| {row['cpu50'] / base['cpu50']:.2f} | {row['rate']:,.0f} | {row['rate'] / base['rate']:.2f} "
              f"| {row['cpu_rate']:,.0f} | {row['cpu_rate'] / base['cpu_rate']:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
