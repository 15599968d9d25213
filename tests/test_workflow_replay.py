"""Replay: the case at any version, and as it stood at any moment (by occurrence or by recording)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.conftest import T0, new_case
from tests.workflow_support import day
from entrypoints.bootstrap import open_jejak
from workflow.application import Jejak

BIMA = "bawaslu:kab-bima"
PPK = "ppk:pemkab-bima"

# A walk through most branches: correction loop, a return to Bawaslu, a missed deadline, a block, a sanction.
STEPS = [
    ("begin_review", BIMA, {}),
    ("request_correction", BIMA, {}),
    ("submit_correction", "reporter", {}),
    ("register", BIMA, {}),
    ("forward", BIMA, {}),
    ("return_to_bawaslu", "bkn", {}),
    ("forward", BIMA, {}),
    ("begin_examination", "bkn", {}),
    ("recommend", "bkn", {"track": "discipline", "sanction": "allowance_cut_6m"}),
    ("TICK", None, {}),
    ("escalate", "bkn", {"to": "kemenpan-rb"}),
    ("block_personnel_data", "bkn", {}),
    ("begin_ppk_examination", PPK, {}),
    ("impose_sanction", PPK, {"sanction": "written_reprimand", "decree_number": "800/5/2024"}),
    ("unblock_personnel_data", "bkn", {}),
]


def _observe(case) -> dict:
    return dict(version=case.version, state=case.state, deadline=case.deadline, due_at=case.due_at,
                deadline_missed=case.deadline_missed, blocked=case.personnel_data_blocked,
                commission=case.commission, recommendation=case.recommendation, sanction=case.sanction,
                escalations=list(case.escalations), milestones=dict(case.milestones),
                last_occurred_at=case.last_occurred_at)


def _walk_all_branches(app: Jejak):
    case_id = new_case(app)
    seen = [_observe(app.get_case(case_id))]
    at = T0
    for trigger, actor, fields in STEPS:
        if trigger == "TICK":
            at = app.get_case(case_id).due_at + timedelta(hours=1)
            assert app.tick(now=at) == [(case_id, "ppk_follow_up")]
        else:
            at += timedelta(days=1)
            app.advance(case_id, trigger, actor, occurred_at=at, **fields)
        seen.append(_observe(app.get_case(case_id)))
    return case_id, seen


def test_every_version_replays_the_state_right_after_that_event(app, db_url):
    case_id, seen = _walk_all_branches(app)
    assert [s["version"] for s in seen] == list(range(1, len(STEPS) + 2))
    assert [s["state"] for s in seen] == [
        "reported", "under_review", "awaiting_correction", "under_review", "under_examination", "forwarded",
        "under_examination", "forwarded", "under_commission_examination", "recommended", "overdue", "overdue",
        "overdue", "under_ppk_examination", "sanctioned", "sanctioned"]
    assert [s["blocked"] for s in seen][-5:] == [False, True, True, True, False]
    # replayed from the store by another application instance: nothing comes from a cache in memory
    with open_jejak(db_url) as other:
        for expected in seen:
            assert _observe(other.get_case(case_id, version=expected["version"])) == expected
        assert _observe(other.get_case(case_id)) == seen[-1]
    events = app.case_events(case_id)
    assert [e.state for e in events] == [s["state"] for s in seen]
    assert {e.workflow_version for e in events} == {"bkn-2024@1"}


def test_case_as_of_by_occurrence_and_by_recording(db_url):
    # recorded three years after the facts, one hour per command: the two time lines do not overlap
    recorded = iter(datetime(2027, 1, 1, tzinfo=timezone.utc) + timedelta(hours=h) for h in range(100))
    with open_jejak(db_url, clock=lambda: next(recorded)) as app:
        case_id = new_case(app)                                              # recorded 2027-01-01 00:00
        app.advance(case_id, "begin_review", BIMA, occurred_at=day(1))       # 01:00
        app.advance(case_id, "register", BIMA, occurred_at=day(2))           # 02:00
        app.advance(case_id, "forward", BIMA, occurred_at=day(2, hour=15))   # 03:00

        assert app.case_as_of(case_id, T0 - timedelta(seconds=1)) is None
        assert app.case_as_of(case_id, T0).state == "reported"  # an event counts from its own instant
        assert app.case_as_of(case_id, day(1, hour=8)).state == "reported"
        assert app.case_as_of(case_id, day(1)).state == "under_review"
        assert app.case_as_of(case_id, day(2, hour=14)).state == "under_examination"
        assert app.case_as_of(case_id, day(2, hour=15)).version == 4
        # the same instant given in another offset
        assert app.case_as_of(case_id, day(1).astimezone(timezone.utc)).state == "under_review"

        # by recording: in 2026 nothing of it had been recorded yet, though all of it had happened
        assert app.case_as_of(case_id, datetime(2026, 12, 31, tzinfo=timezone.utc), recorded=True) is None
        assert app.case_as_of(case_id, datetime(2026, 12, 31, tzinfo=timezone.utc)).state == "forwarded"
        as_recorded = app.case_as_of(case_id, datetime(2027, 1, 1, 1, 30, tzinfo=timezone.utc), recorded=True)
        assert (as_recorded.version, as_recorded.state) == (2, "under_review")
        assert app.case_as_of(case_id, datetime(2027, 1, 2, tzinfo=timezone.utc), recorded=True).version == 4
        assert [e.timestamp for e in app.case_events(case_id)] == [
            datetime(2027, 1, 1, h, tzinfo=timezone.utc) for h in range(4)]
