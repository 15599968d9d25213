"""A process killed with SIGKILL in the middle of a bulk command leaves the store consistent, and running the
same command again completes the work without duplicates.

The victims are real OS processes (``python -m tests.process_support …`` or the ``jejak`` CLI). Where the moment
of the kill matters, the victim parks itself *inside* the transaction (rows sent, nothing committed) and says
``holding``; other kills land at a random moment while the command runs.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from uuid import uuid5

import pytest
from sqlalchemy import select

from projections.integrity import verify
from projections.readside import ReadSide
from projections.tables import case_event, projection_position
from tests.process_support import T0, bulk_cases
from workflow.application import EXTERNAL_REF_NAMESPACE, Jejak

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30


RUNNING: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_process_left_behind():
    yield
    while RUNNING:  # a parked victim sleeps for a minute: never leave one behind when a test fails
        process = RUNNING.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


class Victim:
    """A child process whose stdout lines are collected as they come."""

    def __init__(self, argv: list[str]):
        self.process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()
        RUNNING.append(self.process)

    @classmethod
    def support(cls, mode: str, **args) -> Victim:
        return cls([sys.executable, "-m", "tests.process_support", mode, json.dumps(args)])

    def _pump(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def wait_for(self, predicate, timeout: float = TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.05)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    pytest.fail(f"the process ended before it got there: {self.process.stderr.read()[-3000:]}")
                continue
            self.seen.append(line)
            if predicate(line):
                return line
        self.kill()
        pytest.fail(f"timed out waiting; saw {self.seen[-5:]}")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait(timeout=TIMEOUT) == -signal.SIGKILL

    def finish(self) -> list[str]:
        try:
            self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail("the re-run did not finish")
        self.pump.join(timeout=TIMEOUT)
        assert self.process.returncode == 0, self.process.stderr.read()[-3000:]
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.seen


def all_events(app: Jejak) -> list:
    out, start = [], 0
    while True:
        page = app.recorder.select_notifications(start=start, limit=1000, inclusive_of_start=False)
        if not page:
            return out
        out += [app.mapper.to_domain_event(n) for n in page]
        start = page[-1].id


def assert_read_side_sound(app: Jejak) -> None:
    """After the re-run: the read models equal a rebuild, one case_event row per event, the chain verifies."""
    read_side = ReadSide(app)
    live = read_side.snapshot()
    ids = [n.id for n in app.recorder.select_notifications(start=0, limit=10**6, inclusive_of_start=False)]
    assert [row[0] for row in live["case_event"]] == ids
    report = verify(app)
    assert report.ok and report.chained == len(ids), str(report)
    read_side.rebuild()
    assert read_side.snapshot(catch_up=False) == live


# --- (a) bulk save of many cases ----------------------------------------------------------------------------------

EVENTS_PER_BULK_CASE = 4  # report, begin_review, register, forward


def batch_event_counts(app: Jejak, batches: int, size: int) -> list[set[int]]:
    """For each batch, the set of event counts of its cases: {4} (whole) or {0} (none)."""
    return [{len(list(app.recorder.select_events(uuid5(EXTERNAL_REF_NAMESPACE, f"bulk-{b}-{i}"))))
             for i in range(size)} for b in range(batches)]


def check_bulk(db_url: str, batches: int, size: int, committed: set[int]) -> set[int]:
    with Jejak(db_url) as app:
        counts = batch_event_counts(app, batches, size)
        assert all(c in ({EVENTS_PER_BULK_CASE}, {0}) for c in counts), counts  # whole batches or none
        whole = {b for b, c in enumerate(counts) if c == {EVENTS_PER_BULK_CASE}}
        assert committed <= whole  # what was reported committed survived
        assert len(all_events(app)) == len(whole) * size * EVENTS_PER_BULK_CASE  # and nothing else is there
    return whole


def rerun_bulk(db_url: str, batches: int, size: int, whole: set[int]) -> None:
    lines = Victim.support("bulk", db=db_url, batches=batches, size=size).finish()
    assert lines == [f"{'present' if b in whole else 'committed'} {b}" for b in range(batches)]
    with Jejak(db_url) as app:
        assert batch_event_counts(app, batches, size) == [{EVENTS_PER_BULK_CASE}] * batches
        events = all_events(app)
        assert len(events) == batches * size * EVENTS_PER_BULK_CASE
        assert max(Counter((e.originator_id, e.originator_version) for e in events).values()) == 1
        assert_read_side_sound(app)


def test_kill_inside_a_bulk_save_transaction(db_url):
    victim = Victim.support("bulk", db=db_url, batches=4, size=30, hold_batch=2)
    victim.wait_for(lambda line: line == "holding")  # batch 2's rows are inserted, not committed
    victim.kill()
    assert victim.seen == ["committed 0", "committed 1", "holding"]
    assert check_bulk(db_url, 4, 30, {0, 1}) == {0, 1}
    rerun_bulk(db_url, 4, 30, {0, 1})


def test_kill_at_a_random_moment_of_a_bulk_save(db_url):
    victim = Victim.support("bulk", db=db_url, batches=16, size=25)
    victim.wait_for(lambda line: line == "committed 1")
    time.sleep(random.uniform(0.0, 0.05))  # a batch takes about 0.03 (SQLite) to 0.1 s (PostgreSQL)
    victim.kill()
    committed = {int(line.split()[1]) for line in victim.seen if line.startswith("committed")}
    while not victim.lines.empty():
        committed.add(int(victim.lines.get().split()[1]))
    whole = check_bulk(db_url, 16, 25, committed)
    assert len(whole) < 16, "the kill came after the command had finished"
    rerun_bulk(db_url, 16, 25, whole)


# --- (b) projection catch-up --------------------------------------------------------------------------------------

def filled_store(db_url: str, cases: int = 40) -> int:
    with Jejak(db_url) as app:
        for batch in range(cases // 20):
            app.record_cases(*bulk_cases(app, batch, 20))
        return app.recorder.max_notification_id()


def positions(app: Jejak) -> dict[str, int]:
    with ReadSide(app).engine.connect() as conn:
        return dict(conn.execute(select(projection_position.c.projection, projection_position.c.position)).all())


@pytest.mark.parametrize("batch_rows, committed", [(0, 28), (10_000, 0)], ids=["page-a-transaction", "batched"])
def test_kill_inside_a_catch_up_page(db_url, batch_rows, committed):
    """Killed in its fifth page, a catch-up keeps the pages it committed: four when each page commits, none when
    they go into one batch (a few dozen cases never fill a batch)."""
    total = filled_store(db_url)
    victim = Victim.support("catchup", db=db_url, page_size=7, hold_page=5, batch_rows=batch_rows)
    victim.wait_for(lambda line: line == "holding")  # page 5's rows are written, its positions not moved
    victim.kill()
    with Jejak(db_url) as app:
        assert set(positions(app).values()) <= {committed}  # (none at all: the batch made them and rolled back)
        with ReadSide(app).engine.connect() as conn:
            ids = select(case_event.c.notification_id).order_by(case_event.c.notification_id)
            assert conn.execute(ids).scalars().all() == list(range(1, committed + 1))
    assert Victim.support("catchup", db=db_url, page_size=7).finish() == [f"applied {total - committed}"]
    with Jejak(db_url) as app:
        assert set(positions(app).values()) == {total}
        assert_read_side_sound(app)


def test_kill_at_a_random_moment_of_a_catch_up(db_url):
    total = filled_store(db_url)
    victim = Victim.support("catchup", db=db_url, page_size=2)
    with Jejak(db_url) as app:
        deadline = time.monotonic() + TIMEOUT
        while not positions(app).get("case_event"):  # wait until it has committed its first pages
            assert time.monotonic() < deadline and victim.process.poll() is None
            time.sleep(0.005)
        time.sleep(random.uniform(0.0, 0.1))
        victim.kill()
        before = positions(app)
        assert before["case_event"] < total, "the kill came after the catch-up had finished"
        with ReadSide(app).engine.connect() as conn:
            rows = conn.execute(select(case_event.c.notification_id)
                                .order_by(case_event.c.notification_id)).scalars().all()
        assert rows == list(range(1, before.get("case_event", 0) + 1))  # exactly what its position says
    assert Victim.support("catchup", db=db_url, page_size=50).finish()[-1].startswith("applied")
    with Jejak(db_url) as app:
        assert set(positions(app).values()) == {total}
        assert_read_side_sound(app)


# --- (c) jejak tick -----------------------------------------------------------------------------------------------

def test_kill_during_tick_then_rerun_marks_each_missed_deadline_once(db_url):
    with Jejak(db_url) as app:
        due = []
        for batch in range(2):  # 40 cases forwarded to BKN: its 7-day examination deadline runs
            cases = bulk_cases(app, batch, 20)
            app.record_cases(*cases)
            due += [c.id for c in cases]
        undue = app.report("reporter", occurred_at=T0, name="Ani", position_group="functional",
                           agency="pemkab-bima", province="prov-ntb", category="declaration",
                           election="pilkada-2024", reporter_name="Siti")  # no deadline runs on a new report
        ReadSide(app).catch_up()
        start = app.recorder.max_notification_id()
    now = (T0 + timedelta(days=30)).isoformat()
    tick = [sys.executable, "-m", "entrypoints.cli", "--db", db_url, "tick", "--now", now, "--json"]
    victim = Victim(tick)
    with Jejak(db_url) as app:
        deadline = time.monotonic() + TIMEOUT
        while (app.recorder.max_notification_id() or 0) < start + 5:  # let it mark a few, then kill it
            assert time.monotonic() < deadline and victim.process.poll() is None
            time.sleep(0.002)
        victim.kill()
        first = app.recorder.max_notification_id() - start
    assert 5 <= first < len(due)

    marked = json.loads("".join(Victim(tick).finish()))
    assert len(marked) == len(due) - first  # the re-run marks exactly the rest
    assert json.loads("".join(Victim(tick).finish())) == []  # and a third run finds nothing left to do
    with Jejak(db_url) as app:
        events = all_events(app)
        overdue = Counter(e.originator_id for e in events if e.trigger == "mark_overdue")
        assert overdue == Counter({case_id: 1 for case_id in due})
        assert {e.missed_deadline for e in events if e.trigger == "mark_overdue"} == {"commission_examination"}
        assert app.get_case(undue).state == "reported"
        assert_read_side_sound(app)


# --- (d) jejak demo -----------------------------------------------------------------------------------------------

def event_keys(app: Jejak) -> list[tuple]:
    return [(e.originator_id, e.originator_version, e.trigger, e.occurred_at, e.timestamp) for e in all_events(app)]


def test_kill_during_demo_then_rerun_completes_it(db_url, tmp_path):
    """The demo saves its events in batches, one transaction each: after a kill the store holds exactly the
    first batches of an uninterrupted run, and running it again completes it (the same seed and scale)."""
    from demo import calibration, generator

    with Jejak(f"sqlite:///{tmp_path / 'reference.db'}", clock=generator.DemoClock()) as reference:
        generator.generate(reference, "pilkada-2020", seed=3, scale=0.3, progress=False)
        expected = event_keys(reference)
    command = [sys.executable, "-m", "entrypoints.cli", "--db", db_url, "demo", "--seed", "3", "--scale", "0.3",
               "--no-progress", "--json"]
    victim = Victim(command)
    with Jejak(db_url) as app:
        deadline = time.monotonic() + TIMEOUT
        while (app.recorder.max_notification_id() or 0) < 2 * calibration.BATCH_EVENTS:  # two batches are in
            assert time.monotonic() < deadline and victim.process.poll() is None
            time.sleep(0.002)
        victim.kill()
        stored = event_keys(app)
    assert 0 < len(stored) < len(expected), "the kill came after the demo had finished"
    assert len(stored) % calibration.BATCH_EVENTS == 0  # whole batches only
    assert stored == expected[:len(stored)]  # exactly the first batches of an uninterrupted run

    other_seed = [("4" if arg == "3" else arg) for arg in command]
    refused = subprocess.run(other_seed, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert refused.returncode == 2 and "another seed or scale" in refused.stderr, refused.stderr[-3000:]
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert rerun.returncode == 0, rerun.stderr[-3000:]  # resumed after the saved batches
    with Jejak(db_url) as app:
        assert event_keys(app) == expected  # the same events as an uninterrupted run, none twice
        assert_read_side_sound(app)
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert again.returncode == 1 and "already holds the pilkada-2020 demo data" in again.stderr


# --- (e) jejak import ---------------------------------------------------------------------------------------------

IMPORT_ROW = dict(reported_at="2024-10-01T09:00", name="Budi Santoso", position_group="administrator",
                  agency="pemkab-bima", province="prov-ntb", regency="kab-bima", category="social_media",
                  election="pilkada-2024", reporter_name="Siti Aminah", review_begun_at="2024-10-02",
                  registered_at="2024-10-03", forwarded_at="2024-10-05", examination_begun_at="2024-10-06",
                  recommended_at="2024-10-08", recommended_track="discipline", recommended_sanction="allowance_cut_6m",
                  sanctioned_at="2024-10-20", sanction="written_reprimand")
EVENTS_PER_IMPORTED_CASE = 7  # the report and six milestones


def import_counts(app: Jejak, rows: int) -> Counter:
    """How many cases have how many events (0: not imported)."""
    per_case = Counter(e.originator_id for e in all_events(app))
    ids = [uuid5(EXTERNAL_REF_NAMESPACE, f"imp-{i}") for i in range(rows)]
    assert set(per_case) <= set(ids)
    return Counter(per_case.get(case_id, 0) for case_id in ids)


def test_kill_during_import_then_rerun_completes_without_duplicates(db_url, tmp_path):
    import csv

    pytest.importorskip("workflow.importer")
    rows, batch = 240, 12
    path = tmp_path / "cases.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["external_ref", *IMPORT_ROW, "decree_number"])
        writer.writeheader()
        writer.writerows({"external_ref": f"imp-{i}", **IMPORT_ROW, "decree_number": f"800/{i}/2024"}
                         for i in range(rows))
    command = [sys.executable, "-m", "entrypoints.cli", "--db", db_url, "--json", "import", str(path), "--batch-size",
               str(batch), "--no-progress"]
    victim = Victim(command)
    with Jejak(db_url) as app:
        deadline = time.monotonic() + TIMEOUT
        while (app.recorder.max_notification_id() or 0) < 2 * batch * EVENTS_PER_IMPORTED_CASE:  # 2 batches in
            assert time.monotonic() < deadline and victim.process.poll() is None
            time.sleep(0.002)
        victim.kill()
        counts = import_counts(app, rows)
    # every case has its whole history or nothing, and whole batches only
    assert set(counts) <= {0, EVENTS_PER_IMPORTED_CASE}, counts
    done = counts[EVENTS_PER_IMPORTED_CASE]
    assert 0 < done < rows and done % batch == 0, counts

    result = json.loads("".join(Victim(command).finish()))
    assert (result["imported"], result["already"]) == (rows - done, done)
    with Jejak(db_url) as app:
        assert import_counts(app, rows) == Counter({EVENTS_PER_IMPORTED_CASE: rows})
        assert len(all_events(app)) == rows * EVENTS_PER_IMPORTED_CASE  # no duplicates
        assert_read_side_sound(app)
    again = json.loads("".join(Victim(command).finish()))
    assert (again["imported"], again["already"]) == (0, rows)
