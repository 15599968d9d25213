"""Read models: equal to a rebuild after any command sequence; exactly-once catch-up; no reporter data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from projections.case_event import CaseEventProjector
from projections.catchup import catch_up_batch
from projections.readside import ReadSide
from projections.tables import case_event, case_summary, projection_position
from tests.conftest import T0, TO_RECOMMENDED, new_case, walk
from workflow import rules
from workflow.definitions import get_era
from workflow.errors import JejakError

PLACES = [dict(agency="pemkab-bima", province="prov-ntb", regency="kab-bima"),
          dict(agency="pemkot-kediri", province="prov-jatim", regency="kota-kediri"),
          dict(agency="kementerian-pupr", province="prov-dki", regency=None)]
FIELDS = {
    "recommend": {"track": "discipline", "sanction": "written_reprimand"},
    "impose_sanction": {"sanction": "oral_reprimand", "decree_number": "800/1"},
    "escalate": {"to": "president"},
    "record_departure": {"reason": "retired"},
}


def _actor(role: str, case) -> str:
    if role == "bawaslu":
        return "bawaslu:ri"
    if role == "ppk":
        return f"ppk:{case.ppk}"
    return role


def fire_any(app, case_id, choice: int, days: int) -> None:
    """Fire one legal trigger (chosen by `choice`) on the case, `days` after its last event."""
    case = app.get_case(case_id)
    legal = app.triggers(case_id)
    if not legal:
        return
    trigger = legal[choice % len(legal)]
    role = sorted(rules.roles_for(get_era(case.era), case.state, trigger))[0]
    at = case.last_occurred_at + timedelta(days=days, minutes=1)
    try:
        app.advance(case_id, trigger, _actor(role, case), occurred_at=at, **FIELDS.get(trigger, {}))
    except JejakError:
        pass  # e.g. mark_overdue before the deadline at `at`: refused, nothing written


actions = st.lists(st.tuples(st.sampled_from(["new", "fire", "fire", "fire", "catch_up"]),
                             st.integers(0, 50), st.integers(0, 20), st.integers(0, 12)),
                   min_size=1, max_size=25)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(steps=actions)
def test_read_models_equal_a_rebuild(app, steps):
    cases = [row["case_id"] for row in ReadSide(app).cases()]
    for kind, pick, choice, days in steps:
        if kind == "new" or not cases:
            cases.append(new_case(app, T0 + timedelta(days=days), **PLACES[pick % len(PLACES)]))
        elif kind == "catch_up":
            # batch_rows 0: a transaction a page; batch_seconds 0: a commit a page, held rows kept past it
            ReadSide(app, page_size=1 + pick % 4, batch_rows=choice % 4,
                     batch_seconds=0 if days % 2 else None).catch_up()
        else:
            fire_any(app, cases[pick % len(cases)], choice, days)
    read_side = ReadSide(app, page_size=3)
    incremental = read_side.snapshot()
    read_side.rebuild(chain=True)
    assert read_side.snapshot() == incremental
    # and the summary agrees with the aggregates
    for row in read_side.cases():
        case = app.get_case(row["case_id"])
        assert (row["state"], row["version"]) == (case.state, case.version)
    stored = app.recorder.select_notifications(start=0, limit=100000, inclusive_of_start=False)
    assert [row[0] for row in incremental["case_event"]] == [n.id for n in stored]


def _scenario(app, cases: int = 5) -> None:
    for i in range(cases):
        case_id = new_case(app, T0 + timedelta(hours=i))
        walk(app, case_id, TO_RECOMMENDED, start=T0 + timedelta(hours=i))


def _positions(read_side: ReadSide) -> dict[str, int]:
    with read_side.engine.connect() as conn:
        return dict(conn.execute(select(projection_position.c.projection, projection_position.c.position)).all())


@pytest.mark.parametrize("batch_rows, committed", [(0, 8), (5, 0)], ids=["page-a-transaction", "batched"])
def test_killed_catch_up_resumes_as_if_run_once(app, monkeypatch, batch_rows, committed):
    """A catch-up killed in its third page keeps what it committed before: two pages when each page commits, nothing
    when the pages go into one batch (five cases: `case_summary` never holds five rows back before the third)."""
    _scenario(app)  # 30 events
    read_side = ReadSide(app, page_size=4, batch_rows=batch_rows, in_database=False)  # all in one transaction
    calls = {"n": 0}
    original = CaseEventProjector.apply

    def dying(self, conn, events):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed mid-way")
        return original(self, conn, events)

    monkeypatch.setattr(CaseEventProjector, "apply", dying)
    with pytest.raises(RuntimeError):
        read_side.catch_up()
    with read_side.engine.connect() as conn:
        assert len(conn.execute(select(case_event)).all()) == committed
        assert len(conn.execute(select(case_summary)).all()) == (2 if committed else 0)
    positions = _positions(read_side)
    assert [positions.get(p.name, 0) for p in read_side.projectors] == [committed] * 3
    monkeypatch.setattr(CaseEventProjector, "apply", original)
    ReadSide(app, page_size=4).catch_up()
    resumed = ReadSide(app).snapshot()
    assert len(resumed["case_event"]) == 30
    assert len(resumed["case_summary"]) == 5
    read_side.rebuild(chain=True)
    assert read_side.snapshot() == resumed


def test_held_rows_outlive_commits_made_for_the_time(app):
    """Batches that end on time commit `case_event` and the chain, while `case_summary` keeps folding its rows in
    memory, its position left where its table is, and writes them once, when the log ends."""
    _scenario(app)  # 30 events
    read_side = ReadSide(app, page_size=4, batch_rows=1000, batch_seconds=0)
    summary = read_side.projectors[0]
    assert catch_up_batch(app, read_side.engine, read_side.projectors, 4, 1000, 0) == 4
    assert _positions(read_side) == {"case_summary": 0, "case_event": 4, "event_chain": 4}
    assert (summary.holding, summary.held_rows()) == ((0, 4), 1)
    assert catch_up_batch(app, read_side.engine, read_side.projectors, 4, 1000, 0) == 4
    assert _positions(read_side)["case_summary"] == 0 and summary.holding == (0, 8)
    with read_side.engine.connect() as conn:
        assert conn.execute(select(case_summary)).all() == []
    assert read_side.catch_up() == 22
    assert set(_positions(read_side).values()) == {30} and summary.holding is None
    incremental = read_side.snapshot()
    read_side.rebuild(chain=True)
    assert read_side.snapshot() == incremental


def test_held_rows_are_dropped_when_another_catch_up_moves_on(app):
    """Rows held past a commit are stale once another process's catch-up has written `case_summary` further: they
    are dropped, and the catch-up goes on from the new position (no row lost, none twice)."""
    _scenario(app)
    mine = ReadSide(app, page_size=4, batch_rows=1000, batch_seconds=0)
    catch_up_batch(app, mine.engine, mine.projectors, 4, 1000, 0)
    assert mine.projectors[0].held_rows() == 1
    assert ReadSide(app).catch_up() == 30  # another process, with projectors of its own
    _scenario(app, 2)  # 12 more events
    assert mine.catch_up() == 12
    assert mine.projectors[0].holding is None
    incremental = mine.snapshot()
    assert len(incremental["case_summary"]) == 7
    mine.rebuild(chain=True)
    assert mine.snapshot() == incremental


def test_rows_read_before_a_commit_are_replaced_after_it(app):
    """Summary rows read from the table, then kept past commits, are replaced when written (PostgreSQL: by case id,
    as a row's address is only its own within the transaction that read it)."""
    _scenario(app)
    ReadSide(app).catch_up()
    cases = [row["case_id"] for row in ReadSide(app).cases()]
    for round_ in range(2):
        for case_id in cases:
            fire_any(app, case_id, round_, 40 + round_)
    read_side = ReadSide(app, page_size=2, batch_rows=1000, batch_seconds=0)
    assert read_side.catch_up() == 10
    incremental = read_side.snapshot()
    assert len(incremental["case_summary"]) == 5
    read_side.rebuild(chain=True)
    assert read_side.snapshot() == incremental


def test_catch_up_twice_applies_nothing_more(app):
    _scenario(app, 2)
    read_side = ReadSide(app)
    assert read_side.catch_up() == 12
    assert read_side.catch_up() == 0
    before = read_side.snapshot()
    assert ReadSide(app, page_size=5).catch_up() == 0
    assert read_side.snapshot() == before


def test_no_reporter_data_in_any_projected_table(app):
    case_id = app.report("reporter", occurred_at=T0, name="Budi Santoso", position_group="administrator",
                         agency="pemkab-bima", province="prov-ntb", regency="kab-bima", category="social_media",
                         election="pilkada-2024", reporter_name="Siti Aminah", reporter_contact="0812-9999-1111",
                         reporter_id_number="5201010101010001")
    walk(app, case_id, TO_RECOMMENDED[:2])
    snapshot = ReadSide(app).snapshot()
    text = repr(snapshot)
    for secret in ("Siti Aminah", "siti-aminah", "0812-9999-1111", "5201010101010001"):
        assert secret not in text
    summary = ReadSide(app).cases()[0]
    assert summary["has_reporter"] is True
    assert summary["registered_at"] == T0 + timedelta(days=2)


def test_summary_milestones_and_days(app):
    case_id = new_case(app)
    walk(app, case_id, TO_RECOMMENDED + [
        ("impose_sanction", "ppk:pemkab-bima", {"sanction": "oral_reprimand", "decree_number": "800/1/2024"})])
    row = ReadSide(app).cases()[0]
    assert row["state"] == "sanctioned" and not row["is_open"]
    assert row["recommended_at"] == T0 + timedelta(days=5)
    assert row["sanctioned_at"] == row["closed_at"] == T0 + timedelta(days=6)
    assert (row["recommended_severity"], row["imposed_severity"], row["imposed_lighter"]) == (11, 10, True)
    assert (row["days_intake"], row["days_bawaslu_handling"], row["days_commission_examination"],
            row["days_ppk_follow_up"]) == (2.0, 1.0, 2.0, 1.0)
    with ReadSide(app).engine.connect() as conn:
        events = conn.execute(select(case_event).order_by(case_event.c.notification_id)).all()
    assert [(e.state_before, e.state_after) for e in events][:2] == [("new", "reported"), ("reported", "under_review")]
    assert events[1].actor_role == "bawaslu" and events[1].actor_scope == "kab-bima"
    assert events[-1].sanction == "oral_reprimand" and events[-1].severity == 10


def test_schema_change_rebuilds_a_read_model(app):
    _scenario(app, 1)
    read_side = ReadSide(app)
    before = read_side.snapshot()
    with read_side.engine.begin() as conn:  # an old schema: a table without the fingerprint
        conn.exec_driver_sql("DELETE FROM read_model_schema WHERE name = 'case_summary'")
        conn.exec_driver_sql("ALTER TABLE case_summary DROP COLUMN days_intake")
    from projections.readside import _migrate

    _migrate(read_side.engine)
    assert read_side.snapshot() == before
    with read_side.engine.connect() as conn:
        assert conn.execute(select(case_summary.c.days_intake)).scalar() == 2.0


def test_every_milestone_has_its_times_in_the_summary(app):
    """Overdue, blocking, escalation, unblocking, corrections and returns each keep their first occurred_at
    and recorded time, as the main milestones do."""
    from datetime import timedelta

    from projections.tables import case_summary
    from sqlalchemy import select

    case_id = new_case(app)
    end = walk(app, case_id, [("begin_review", "bawaslu:kab-bima", {}),
                              ("request_correction", "bawaslu:kab-bima", {}),
                              ("submit_correction", "reporter", {}),
                              ("register", "bawaslu:kab-bima", {}), ("forward", "bawaslu:kab-bima", {}),
                              ("return_to_bawaslu", "bkn", {}), ("forward", "bawaslu:kab-bima", {}),
                              ("begin_examination", "bkn", {}),
                              ("recommend", "bkn", {"track": "discipline", "sanction": "written_reprimand"})])
    later = end + timedelta(days=30)
    steps = [("mark_overdue", "system", {}), ("block_personnel_data", "bkn", {}),
             ("escalate", "bkn", {"to": "kemendagri"}), ("unblock_personnel_data", "bkn", {})]
    walk(app, case_id, steps, start=later)
    [row] = ReadSide(app).rows(select(case_summary).where(case_summary.c.case_id == str(case_id)))
    day = timedelta(days=1)
    expected = {"correction_requested": T0 + 2 * day, "correction_submitted": T0 + 3 * day,
                "returned": T0 + 6 * day, "overdue": later + day, "blocked": later + 2 * day,
                "escalated": later + 3 * day, "unblocked": later + 4 * day}
    assert {name: row[f"{name}_at"] for name in expected} == expected
    assert all(row[f"{name}_recorded_at"] is not None for name in expected)
