"""A command that loses a race is refused whole, and `retries` decides it again on the newer case."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from workflow.application import Jejak
from workflow.errors import ConcurrentUpdate, IllegalTransition
from tests.conftest import T0, TO_RECOMMENDED, new_case, walk


def racing_app(db_url, rival: Jejak, case_id, trigger, actor, **fields):
    """An app whose clock lets a rival write first, once, just before this app's command is saved."""
    raced = []

    def clock():
        if not raced:
            raced.append(True)
            rival.advance(case_id, trigger, actor, occurred_at=T0 + timedelta(days=10), **fields)
        return datetime.now(timezone.utc)

    return Jejak(db_url, clock=clock)


def test_lost_race_is_refused_and_the_other_write_kept(app, db_url):
    case_id = new_case(app)
    walk(app, case_id, TO_RECOMMENDED)
    with racing_app(db_url, app, case_id, "begin_ppk_examination", "ppk:pemkab-bima") as loser:
        with pytest.raises(ConcurrentUpdate, match=str(case_id)):
            loser.advance(case_id, "block_personnel_data", "bkn", occurred_at=T0 + timedelta(days=11))
    case = app.get_case(case_id)
    assert case.state == "under_ppk_examination" and not case.personnel_data_blocked
    assert [e.trigger for e in app.case_events(case_id)][-1] == "begin_ppk_examination"


def test_retry_decides_again_on_the_newer_case(app, db_url):
    case_id = new_case(app)
    walk(app, case_id, TO_RECOMMENDED)
    with racing_app(db_url, app, case_id, "begin_ppk_examination", "ppk:pemkab-bima") as retrier:
        retrier.advance(case_id, "block_personnel_data", "bkn", occurred_at=T0 + timedelta(days=11), retries=1)
    assert [e.trigger for e in app.case_events(case_id)][-2:] == ["begin_ppk_examination", "block_personnel_data"]
    assert app.get_case(case_id).personnel_data_blocked


def test_retry_can_end_in_a_refusal_when_the_rival_closed_the_case(app, db_url):
    case_id = new_case(app)
    walk(app, case_id, TO_RECOMMENDED)
    with racing_app(db_url, app, case_id, "impose_sanction", "ppk:pemkab-bima", sanction="oral_reprimand",
                    decree_number="800/2/2024") as retrier:
        with pytest.raises(IllegalTransition, match="'sanctioned'"):
            retrier.advance(case_id, "begin_ppk_examination", "ppk:pemkab-bima",
                            occurred_at=T0 + timedelta(days=11), retries=3)
    assert app.get_case(case_id).version == len(TO_RECOMMENDED) + 2


def test_an_outsider_is_refused_without_learning_the_state(app):
    from workflow.errors import NotAuthorized
    case_id = new_case(app)
    with pytest.raises(NotAuthorized) as refusal:
        app.advance(case_id, "recommend", "bawaslu:kab-dompu")
    assert "reported" not in str(refusal.value) and "legal triggers" not in str(refusal.value)


def test_cli_retries_flag_decides_again_after_a_lost_race(app, db_url, monkeypatch, capsys):
    """`jejak advance --retries N`: a rival writes just before the CLI's save; the CLI decides again and wins.
    Without --retries the lost race is refused (exit 5) and the rival's write kept."""
    from entrypoints.cli.main import main

    case_id = new_case(app)
    walk(app, case_id, TO_RECOMMENDED)
    commit, rivals = Jejak._commit, []

    def rival_first(self, *cases):
        if rivals and self is not app:
            trigger, days, fields = rivals.pop()
            app.advance(case_id, trigger, "ppk:pemkab-bima", occurred_at=T0 + timedelta(days=days), **fields)
        return commit(self, *cases)

    monkeypatch.setattr(Jejak, "_commit", rival_first)

    def advance(trigger: str, days: int, *extra: str) -> int:
        return main(["--db", db_url, "advance", str(case_id), trigger, "--as", "bkn",
                     "--at", (T0 + timedelta(days=days)).isoformat(), *extra])

    rivals.append(("begin_ppk_examination", 10, {}))
    assert advance("block_personnel_data", 11, "--retries", "1") == 0 and not rivals
    assert capsys.readouterr().out.strip() == "under_ppk_examination"
    assert [e.trigger for e in app.case_events(case_id)][-2:] == ["begin_ppk_examination", "block_personnel_data"]
    rivals.append(("record_departure", 12, {"reason": "retired"}))
    assert advance("unblock_personnel_data", 13) == 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"jejak: error: case {case_id} was changed by another writer (its version" in err
    assert "was recorded first, this command was decided on version" in err
    assert not any(word in err.lower() for word in ("unique", "duplicate", "constraint", "integrity"))
    assert [e.trigger for e in app.case_events(case_id)][-1] == "record_departure"


def test_an_insert_retried_after_its_commit_is_recognised_as_recorded(app):
    """eventsourcing retries an insert whose connection broke; when the first try had committed (only its
    acknowledgement was lost), the retry meets its own rows: recorded once, not a lost race, and a new report's
    reporter key is kept (tests/test_scale_out.py provokes it by restarting PostgreSQL under load)."""
    from tests.conftest import report_fields

    case_id = new_case(app)
    case = app.get_case(case_id)
    app.apply_trigger(case, "begin_review", "bawaslu:kab-bima", occurred_at=T0 + timedelta(hours=1))
    app.recorder.insert_events([app.mapper.to_stored_event(e) for e in case.pending_events])  # the first try
    app.record_cases(case)  # the retry
    assert [e.trigger for e in app.case_events(case_id)] == ["report", "begin_review"]

    report = app.new_case("reporter", occurred_at=T0, **report_fields(reporter_name="Dewi"))
    app.recorder.insert_events([app.mapper.to_stored_event(e) for e in report.pending_events])
    app.record_cases(report)
    assert app.reporter(report.id)["name"] == "Dewi" and app.get_case(report.id).version == 1

    rival = app.get_case(case_id)  # a real race is still refused
    mine = app.get_case(case_id)
    app.apply_trigger(rival, "register", "bawaslu:kab-bima", occurred_at=T0 + timedelta(hours=2))
    app.record_cases(rival)
    app.apply_trigger(mine, "register", "bawaslu:kab-bima", occurred_at=T0 + timedelta(hours=3))
    with pytest.raises(ConcurrentUpdate):
        app.record_cases(mine)
