"""The read side on data shaped like life, beside the import file's, side by side in one run (not timed tests).

    .venv/bin/python bench/readside.py --scales 1,10,50 --stores sqlite,postgres --json readside.json

Two stores per store kind and scale (1x: the 2020 demo scale, ~2,000 cases):

- **demo**: `jejak demo --scale N` (demo.generator.generate): events in time order, each case's steps spread over
  months between other cases' steps, as live commands write them;
- **import**: `jejak import` of bench/dataset.py's file (as bench/run.py measures): each case's events together.

On each, in events/s: **catch-up from zero** (every projection, the hash chain too), **rebuild** (`case_summary`
and `case_event`); the fastest of ``--repeat`` rounds; on PostgreSQL's demo store both as the store runs them
(`case_event` made by PostgreSQL, beside the Python projectors) and all in Python. On the demo store also:

- **increments**: catch-ups of 1, 100 and 1,000 new events on a store caught up to just before them (the last
  events of the log are held back, then applied a few at a time, each by the catch-up a follower runs, bounded at
  the increment's end): p50/p95 of the seconds per catch-up, *warm*
  (the ReadSide that caught up the rest, as a server's projection follower lives) and *cold* (a new ReadSide, as a
  fresh `jejak` process or a restarted follower starts);
- **tick**: `tick` marking ``--tick-cases`` cases overdue (cases added with a running deadline, then a tick past
  it), and the catch-up of its marks.

PostgreSQL databases ``jejak_bench_*`` are made on ``--pg`` and dropped afterwards; SQLite files go to a temporary
directory (``--workdir`` keeps them).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from run import bench_import  # bench/run.py (the path is set up by its import)
from run_report import fmt_rate, table
from stores import Stores

INCREMENTS = {1: 40, 100: 10, 1000: 3}  # new events per catch-up: how many catch-ups of that size are timed


def build_demo(url: str, scale: float) -> dict:
    from entrypoints.bootstrap import open_jejak
    from demo.generator import DemoClock, generate

    with open_jejak(url, clock=DemoClock()) as app:
        t0 = time.perf_counter()
        generate(app, "pilkada-2020", seed=0, scale=scale, progress=False)
        seconds = time.perf_counter() - t0
        events = app.recorder.max_notification_id()
    return {"events": events, "seconds": seconds, "rate": events / seconds}


def from_zero(url: str, repeat: int, in_database: bool | None = None) -> dict:
    """`in_database`: whether PostgreSQL makes `case_event` (projections.case_event_sql); None: as a store does."""
    from entrypoints.bootstrap import open_jejak
    from projections.readside import ReadSide

    with open_jejak(url) as app:
        events = app.recorder.max_notification_id()
        read_side = ReadSide(app, in_database=in_database)
        best = {}
        for _ in range(repeat):
            for key, action in (("catch_up", lambda: read_side.rebuild(chain=True)),  # every read model dropped
                                ("rebuild", read_side.rebuild)):
                t0, c0 = time.perf_counter(), time.process_time()
                action()
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                if wall < best.get(f"{key}_s", float("inf")):
                    best.update({f"{key}_s": wall, f"{key}_cpu_s": cpu})
    return {"events": events, **best, "catch_up_rate": events / best["catch_up_s"],
            "rebuild_rate": events / best["rebuild_s"], "catch_up_cpu_rate": events / best["catch_up_cpu_s"],
            "rebuild_cpu_rate": events / best["rebuild_cpu_s"]}


def _percentiles(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {"samples": len(ordered), "p50_ms": 1000 * statistics.median(ordered),
            "p95_ms": 1000 * ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]}


HELD_BACK = 2 * sum(size * count for size, count in INCREMENTS.items())  # events the increments apply


def increments(url: str) -> dict:
    """Hold back the log's last events, catch up the rest, then apply the held-back ones a few at a time."""
    from entrypoints.bootstrap import open_jejak
    from projections.catchup import catch_up, catch_up_page
    from projections.readside import ReadSide

    with open_jejak(url) as app:
        total = app.recorder.max_notification_id()
        follower = ReadSide(app)
        _reset(follower)
        remaining = max(0, total - HELD_BACK)
        while remaining:
            remaining -= catch_up_page(app, follower.engine, follower.projectors, min(20_000, remaining))
        out = {"held_back": HELD_BACK, "events": total}
        for size, count in INCREMENTS.items():
            for mode in ("warm", "cold"):
                seconds = []
                for _ in range(count):
                    read_side = follower if mode == "warm" else ReadSide(app)
                    target = read_side.position() + size
                    t0 = time.perf_counter()
                    # as a follower catches up (both sides at once where PostgreSQL projects), `size` events on
                    applied = catch_up(app, read_side.engine, read_side.projectors, up_to=target)
                    seconds.append(time.perf_counter() - t0)
                    assert applied == size, (applied, size)
                out[f"{size}_{mode}"] = _percentiles(seconds)
    return out


def _reset(read_side) -> None:
    """Every read model (the chain too) dropped and recreated empty, positions at zero."""
    from sqlalchemy import update

    from projections.catchup import ensure_positions
    from projections.tables import projection_position

    with read_side.engine.begin() as conn:
        ensure_positions(conn, [p.name for p in read_side.projectors])
        for projector in read_side.projectors:
            projector.table.drop(conn, checkfirst=True)
            projector.table.create(conn)
        conn.execute(update(projection_position).values(position=0))


def tick(url: str, cases: int) -> dict:
    """Add `cases` recommended cases whose PPK deadline runs, catch up, then tick past their deadline."""
    from entrypoints.bootstrap import open_jejak
    from projections.readside import ReadSide
    from reference.elections import calendar

    with open_jejak(url) as app:
        read_side = ReadSide(app)
        read_side.catch_up()
        last = app.recorder.select_notifications(start=app.recorder.max_notification_id(), limit=1)[0]
        at = app.mapper.to_domain_event(last).occurred_at + timedelta(days=1)
        fields = dict(name="Budi Santoso", position_group="administrator", agency="pemkab-bima", province="prov-ntb",
                      regency="kab-bima", category="social_media", election="pilkada-2020")
        if not calendar().resolve("pilkada-2020").holds(at.date()):  # a Bawaslu finding may say why
            fields["election_reason"] = "benchmark: cases added after the stored ones"
        batch = []
        for i in range(cases):
            case = app.new_case("bawaslu:kab-bima", occurred_at=at, **fields)
            for step, (trigger, actor, extra) in enumerate([
                    ("begin_review", "bawaslu:kab-bima", {}), ("register", "bawaslu:kab-bima", {}),
                    ("forward", "bawaslu:kab-bima", {}), ("begin_examination", "kasn", {}),
                    ("recommend", "kasn", {"track": "discipline", "sanction": "written_reprimand"})], start=1):
                app.apply_trigger(case, trigger, actor, occurred_at=at + timedelta(hours=step), **extra)
            batch.append(case)
        app.record_cases(*batch)
        read_side.catch_up()
        now = at + timedelta(days=60)
        app.clock = lambda: now  # the tick happens then (its events are recorded then)
        t0 = time.perf_counter()
        marked = app.tick(now)
        tick_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        applied = ReadSide(app).catch_up()
        catch_up_s = time.perf_counter() - t0
    return {"marked": len(marked), "tick_s": tick_s, "catch_up_s": catch_up_s, "catch_up_events": applied}


def reused(stores: Stores, kind: str, label: str) -> str | None:
    """With --reuse, the URL of a store an earlier run kept in --workdir (None: build it)."""
    if not getattr(stores, "reuse", False):
        return None
    if kind == "sqlite":
        import sqlite3

        path = stores.workdir / f"{label}.db"
        if not path.exists():
            return None
        with sqlite3.connect(path) as conn:  # a store whose building was interrupted is built again
            complete = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'stored_events'").fetchone()[0]
        return f"sqlite:///{path}" if complete else None
    import psycopg

    name = f"jejak_bench_{label}".replace("-", "_").lower()
    with psycopg.connect(stores.pg_admin, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if found is None:
        return None
    stores.databases.append(name)
    return stores.pg_admin.rsplit("/", 1)[0] + f"/{name}"


def run(scales, kinds, stores: Stores, repeat: int, tick_cases: int, log) -> list[dict]:
    """Build (or reuse) every store first, then measure them all in each round, one after the other: a slow
    stretch of this machine (its speed moves by a third within an hour) then hits every scale of a round alike,
    and growth is read within rounds."""
    from workflow.importer import default_workers

    import dataset  # bench/dataset.py

    results = []
    for scale in scales:
        csv_path = stores.workdir / f"import-{scale:g}x.csv"
        if not csv_path.exists():
            dataset.write_csv(csv_path, scale)
        for kind in kinds:
            label = f"{kind}-{scale:g}x"
            row = {"store": kind, "scale": scale, "repeat": repeat, "rounds": []}
            row["demo_url"], row["import_url"] = (reused(stores, kind, f"rs-{label}-{name}")
                                                  for name in ("demo", "import"))
            if row["demo_url"] is None:
                log(f"[{label}] demo store (chronological)")
                row["demo_url"] = stores.new(kind, f"rs-{label}-demo")
                row["demo_build"] = build_demo(row["demo_url"], scale)
            if row["import_url"] is None:
                log(f"[{label}] import store (each case's events together)")
                row["import_url"] = stores.new(kind, f"rs-{label}-import")
                row["import_build"] = bench_import(row["import_url"], csv_path, workers=default_workers())
            results.append(row)
    for round_ in range(repeat):
        for row in results:
            label = f"{row['store']}-{row['scale']:g}x"
            log(f"[{label}] round {round_ + 1}/{repeat}: from zero and rebuild, demo then import")
            measured = [("demo", row["demo_url"], None), ("import", row["import_url"], None)]
            if row["store"] == "postgres":  # the Python path beside it, on the same store, in the same round
                measured.insert(1, ("demo_python", row["demo_url"], False))
            this_round = {}
            for name, url, in_database in measured:
                this_round[name] = result = from_zero(url, 1, in_database)
                best = row.setdefault(f"{name}_read", dict(result))
                for key in ("catch_up", "rebuild"):
                    if result[f"{key}_s"] < best[f"{key}_s"]:
                        for field in ("s", "cpu_s", "rate", "cpu_rate"):
                            best[f"{key}_{field}"] = result[f"{key}_{field}"]
            row["rounds"].append(this_round)
    for row in results:
        label = f"{row['store']}-{row['scale']:g}x"
        events = row["demo_read"]["events"]
        if tick_cases and events <= HELD_BACK:
            log(f"[{label}] no increments nor tick: the demo store holds {events:,} events, the increments apply "
                f"{HELD_BACK:,} (from scale 0.5)")
        elif tick_cases:  # both change the store: increments leave it whole, tick adds cases
            log(f"[{label}] increments on the demo store")
            row["increments"] = increments(row["demo_url"])
            log(f"[{label}] tick marking {tick_cases} cases")
            row["tick"] = tick(row["demo_url"], tick_cases)
        log(f"[{label}] done: demo catch-up {row['demo_read']['catch_up_rate']:.0f} ev/s")
    return results


def growth(mine: list[dict], key: str) -> list[str]:
    """Each scale's demo figure over the smallest scale's, round by round (the two measured minutes apart), as
    "median (lowest–highest)" over the rounds."""
    cells = []
    for r in mine:
        ratios = sorted(this["demo"][key] / base["demo"][key] for this, base in zip(r["rounds"], mine[0]["rounds"]))
        spread = f" ({ratios[0]:.2f}–{ratios[-1]:.2f})" if len(ratios) > 1 else ""
        cells.append(f"{statistics.median(ratios):.2f}{spread}")
    return cells


def report(results: list[dict]) -> str:
    lines = ["Read side from zero, events/s (fastest round): demo = chronological, as life writes; import = each "
             "case's events together", ""]
    rows = []
    for r in results:
        d, i = r["demo_read"], r["import_read"]
        rows.append([r["store"], f"{r['scale']:g}×", f"{d['events']:,}", fmt_rate(d["catch_up_rate"]),
                     f"{d['catch_up_s']:.1f}", fmt_rate(d["catch_up_cpu_rate"]), fmt_rate(d["rebuild_rate"]),
                     f"{d['rebuild_s']:.1f}", fmt_rate(d["rebuild_cpu_rate"]), f"{i['events']:,}",
                     fmt_rate(i["catch_up_rate"]), fmt_rate(i["rebuild_rate"])])
    lines.append(table(rows, ["store", "scale", "demo events", "catch-up ev/s", "catch-up s", "per CPU s",
                              "rebuild ev/s", "rebuild s", "per CPU s", "import events", "import catch-up ev/s",
                              "import rebuild ev/s"]))
    rows = [[r["store"], f"{r['scale']:g}×", fmt_rate(r["demo_read"]["catch_up_rate"]),
             fmt_rate(r["demo_python_read"]["catch_up_rate"]), fmt_rate(r["demo_read"]["rebuild_rate"]),
             fmt_rate(r["demo_python_read"]["rebuild_rate"])] for r in results if "demo_python_read" in r]
    if rows:
        lines += ["", "PostgreSQL's two paths on the demo store, events/s: case_event made by PostgreSQL beside the "
                  "Python projectors (the default where it can read the events) and all in Python", ""]
        lines.append(table(rows, ["store", "scale", "catch-up in database", "catch-up in Python",
                                  "rebuild in database", "rebuild in Python"]))
    lines += ["", "Growth: events/s at each scale over the same store's at the smallest scale, within each round "
              "(median, and lowest–highest over the rounds); wall time, and per second of the catching-up "
              "process's CPU", ""]
    rows = []
    for kind in dict.fromkeys(r["store"] for r in results):
        mine = [r for r in results if r["store"] == kind]
        columns = [growth(mine, key) for key in ("catch_up_rate", "catch_up_cpu_rate", "rebuild_rate",
                                                 "rebuild_cpu_rate")]
        rows += [[kind, f"{r['scale']:g}×", *cells] for r, *cells in zip(mine, *columns)]
    lines.append(table(rows, ["store", "scale", "catch-up vs smallest", "(CPU)", "rebuild vs smallest", "(CPU)"]))
    lines += ["", "Incremental catch-up on the full demo store, ms a catch-up (p50 / p95); warm: a follower that "
              "caught up the rest; cold: a new process", ""]
    rows = []
    for r in results:
        if "increments" not in r:
            continue
        inc = r["increments"]
        cells = [f"{inc[f'{s}_{m}']['p50_ms']:.1f} / {inc[f'{s}_{m}']['p95_ms']:.1f}" for s in INCREMENTS
                 for m in ("warm", "cold")]
        t = r["tick"]
        rows.append([r["store"], f"{r['scale']:g}×", *cells, f"{t['marked']}", f"{t['tick_s']:.2f}",
                     f"{t['catch_up_s']:.2f}"])
    lines.append(table(rows, ["store", "scale", *[f"{s} {m}" for s in INCREMENTS for m in ("warm", "cold")],
                              "tick marked", "tick s", "then catch-up s"]))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10", help="comma-separated, e.g. 1,10,50 (default 1,10)")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of from-zero and rebuild (default 2)")
    parser.add_argument("--tick-cases", type=int, default=300)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--workdir", help="keep the SQLite stores and import files here")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--reuse", action="store_true",
                        help="with --workdir: measure the stores an earlier run kept there instead of building them")
    parser.add_argument("--skip-increments", action="store_true", help="only from zero and rebuild")
    args = parser.parse_args(argv)
    scales = [float(s) for s in args.scales.split(",")]
    kinds = args.stores.split(",")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="jejak-bench-readside-"))
    workdir.mkdir(parents=True, exist_ok=True)
    stores = Stores(workdir, args.pg, keep=bool(args.workdir))
    stores.reuse = args.reuse
    started = time.time()

    def log(text: str) -> None:
        print(f"{time.time() - started:7.0f}s {text}", file=sys.stderr, flush=True)

    try:
        results = run(scales, kinds, stores, args.repeat, 0 if args.skip_increments else args.tick_cases, log)
    finally:
        stores.cleanup()
    print(f"Read side, {time.strftime('%Y-%m-%d')}, {platform.python_version()}, "
          f"{time.time() - started:.0f} s in all\n")
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
