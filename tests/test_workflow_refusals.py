"""Every refusal says why, and writes nothing: checked against the store itself."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import T0, TO_RECOMMENDED, new_case, report_fields, walk
from tests.workflow_support import day, new_finding, refused, store_snapshot
from workflow import rules
from workflow.definitions import ERAS, STATES
from workflow.errors import CaseNotFound, ConcurrentUpdate, IllegalTransition, InvalidField, NotAuthorized

BIMA = "bawaslu:kab-bima"


def test_illegal_trigger_names_the_case_its_state_and_the_legal_triggers(app):
    case_id = new_finding(app)
    error = refused(app, case_id, IllegalTransition, None,
                    lambda: app.advance(case_id, "register", BIMA, occurred_at=day(1)))
    message = str(error)
    assert str(case_id) in message
    assert "'reported'" in message and "'register' is not allowed" in message
    assert error.legal == ["begin_review", "cancel", "record_departure"]
    assert "legal triggers: begin_review, cancel, record_departure" in message
    # the same trigger is fine once the case is in a state that has it
    app.advance(case_id, "begin_review", BIMA, occurred_at=day(1))
    app.advance(case_id, "register", BIMA, occurred_at=day(2))
    assert app.get_case(case_id).state == "under_examination"


def test_unknown_trigger_and_report_as_a_trigger(app):
    case_id = new_finding(app)
    for trigger in ("approve", "report", ""):
        error = refused(app, case_id, IllegalTransition, "no such trigger",
                        lambda: app.advance(case_id, trigger, BIMA, occurred_at=day(1)))
        assert str(case_id) in str(error)
        assert error.legal == ["begin_review", "cancel", "record_departure"]


def test_wrong_role(app):
    case_id = new_case(app)
    walk(app, case_id, TO_RECOMMENDED[:1])
    error = refused(app, case_id, NotAuthorized, "role 'reporter' may not register under bkn-2024@1",
                    lambda: app.advance(case_id, "register", "reporter", occurred_at=day(2)))
    assert "allowed roles: bawaslu" in str(error)
    refused(app, case_id, NotAuthorized, "role 'bkn' may not register",
            lambda: app.advance(case_id, "register", "bkn", occurred_at=day(2)))
    refused(app, case_id, NotAuthorized, "role 'system' may not request_correction",
            lambda: app.advance(case_id, "request_correction", "system", occurred_at=day(2)))
    # a deadline is marked by the clock only, never by hand
    at = walk(app, case_id, TO_RECOMMENDED[1:])
    due = app.get_case(case_id).due_at
    refused(app, case_id, NotAuthorized, "role 'bkn' may not mark_overdue",
            lambda: app.advance(case_id, "mark_overdue", "bkn", occurred_at=due))
    # and not even the clock before the deadline has passed
    refused(app, case_id, IllegalTransition, "the deadline has not passed yet",
            lambda: app.advance(case_id, "mark_overdue", "system", occurred_at=at))
    # the PPK may not impose before the recommendation... and the reporter never
    refused(app, case_id, NotAuthorized, "role 'reporter' may not impose_sanction",
            lambda: app.advance(case_id, "impose_sanction", "reporter", occurred_at=at,
                                sanction="oral_reprimand", decree_number="1"))


def test_auditor_can_never_write(app):
    # no row of any era's table lets the auditor fire anything
    for era in ERAS.values():
        assert all("auditor" not in row["roles"] for row in era.transitions), era.id
        for state in STATES:
            for trigger in rules.possible_triggers(era, state):
                assert "auditor" not in rules.roles_for(era, state, trigger)
    refused(app, None, NotAuthorized, "role 'auditor' may not report",
            lambda: app.report("auditor@inspektorat", occurred_at=T0, **report_fields()))
    case_id = new_case(app)
    at = T0
    # in every state along the way, every trigger that is legal then is refused to the auditor
    for trigger, actor, fields in TO_RECOMMENDED + [("block_personnel_data", "bkn", {})]:
        legal = app.triggers(case_id)
        assert legal and app.triggers(case_id, "auditor") == []
        for attempt in legal:  # triggers() judges "now": so does a command without occurred_at
            refused(app, case_id, NotAuthorized, "role 'auditor' may not",
                    lambda: app.advance(case_id, attempt, "auditor"))
        at += timedelta(days=1)
        app.advance(case_id, trigger, actor, occurred_at=at, **fields)


def test_missing_and_invalid_fields(app):
    case_id = new_case(app)
    at = walk(app, case_id, TO_RECOMMENDED[:-1])

    def recommend(**fields):
        return lambda: app.advance(case_id, "recommend", "bkn", occurred_at=at, **fields)

    refused(app, case_id, InvalidField, "sanction: required for recommend", recommend(track="discipline"))
    refused(app, case_id, InvalidField, "track, sanction: required for recommend", recommend())
    refused(app, case_id, InvalidField, r"track: unknown value 'criminal' \(allowed: ethics, discipline, non_asn\)",
            recommend(track="criminal", sanction="written_reprimand"))
    # a real code, but of another track
    refused(app, case_id, InvalidField, "sanction: unknown value 'public_statement'",
            recommend(track="discipline", sanction="public_statement"))
    # values from a JSON import may be lists or objects: refused as clearly as a wrong code (was a TypeError)
    refused(app, case_id, InvalidField, r"sanction: unknown value \['written_reprimand'\]",
            recommend(track="discipline", sanction=["written_reprimand"]))
    refused(app, case_id, InvalidField, "track: unknown value",
            recommend(track={"name": "discipline"}, sanction="written_reprimand"))
    refused(app, case_id, InvalidField, "urgency: not a field of recommend",
            recommend(track="discipline", sanction="written_reprimand", urgency="high"))
    refused(app, case_id, InvalidField, "ppk: unknown agency 'bkd-bima'; closest: pemkot-bima",
            recommend(track="discipline", sanction="written_reprimand", ppk="bkd-bima"))
    refused(app, case_id, InvalidField, "note: contains control characters",
            lambda: app.advance(case_id, "recommend", "bkn", occurred_at=at, note="a\x00b",
                                track="discipline", sanction="written_reprimand"))
    # triggers without fields take none
    refused(app, case_id, InvalidField, r"sanction: not a field of find_not_proven \(allowed: no fields\)",
            lambda: app.advance(case_id, "find_not_proven", "bkn", occurred_at=at, sanction="oral_reprimand"))

    app.advance(case_id, "recommend", "bkn", occurred_at=at, track="discipline", sanction="written_reprimand")

    def impose(**fields):
        return lambda: app.advance(case_id, "impose_sanction", "ppk:pemkab-bima", occurred_at=at, **fields)

    refused(app, case_id, InvalidField, "decree_number: required for impose_sanction",
            impose(sanction="oral_reprimand"))
    refused(app, case_id, InvalidField, "decree_number: required", impose(sanction="oral_reprimand",
                                                                           decree_number=""))
    refused(app, case_id, InvalidField, "decree_number: is 201 characters long",
            impose(sanction="oral_reprimand", decree_number="x" * 201))
    refused(app, case_id, InvalidField, "sanction: unknown value 'flogging'",
            impose(sanction="flogging", decree_number="800/1"))
    assert app.get_case(case_id).state == "recommended"


def test_invalid_report_fields_write_nothing(app):
    new_case(app)  # the store is not empty, so "nothing written" is a real comparison
    bad = [
        (dict(nip="123"), "nip: must be 18 digits"),
        (dict(agency="dinas-bima"), "agency: unknown agency 'dinas-bima'"),
        (dict(province="ntb"), "province: unknown province 'ntb'"),
        (dict(regency="prov-ntb"), "regency: 'prov-ntb' is a province (Nusa Tenggara Barat), not a regency or city"),
        (dict(category="gossip"), "category: unknown value 'gossip'"),
        (dict(election="pilpres-2024"), "election: no election 'pilpres-2024' in the calendar; closest: pemilu-2024, pilkada-2024"),
        (dict(position_group=None), "position_group: required for report"),
        (dict(event_date="2024-13-01"), "event_date: not a date"),
        (dict(event_date="2024-10-02"), "event_date: 2024-10-02 is after the report itself"),
        (dict(colour="red"), "colour: not a field of report"),
        (dict(name="  "), "name: must be non-empty text"),
    ]
    for overrides, message in bad:
        refused(app, None, InvalidField, re.escape(message),
                lambda: app.report("reporter", occurred_at=T0, **report_fields(**overrides)))


def test_occurred_at_must_be_aware_not_future_and_not_before_the_previous_event(app):
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    refused(app, None, InvalidField, "occurred_at: must be a timezone-aware datetime",
            lambda: app.report("reporter", occurred_at=datetime(2024, 10, 1, 9), **report_fields()))
    refused(app, None, InvalidField, "occurred_at: .* is in the future",
            lambda: app.report("reporter", occurred_at=future, **report_fields()))

    case_id = new_case(app)
    app.advance(case_id, "begin_review", BIMA, occurred_at=day(2))
    refused(app, case_id, InvalidField, "occurred_at: must be a timezone-aware datetime",
            lambda: app.advance(case_id, "register", BIMA, occurred_at=datetime(2024, 10, 5, 9)))
    refused(app, case_id, InvalidField, "occurred_at: must be a timezone-aware datetime",
            lambda: app.advance(case_id, "register", BIMA, occurred_at="2024-10-05T09:00+07:00"))
    refused(app, case_id, InvalidField, "is in the future",
            lambda: app.advance(case_id, "register", BIMA, occurred_at=future))
    refused(app, case_id, InvalidField, "is before the case's previous event",
            lambda: app.advance(case_id, "register", BIMA, occurred_at=day(1)))
    # the same instant expressed in UTC is not "before"; nor is a time within the allowed clock skew
    app.advance(case_id, "register", BIMA, occurred_at=day(2).astimezone(timezone.utc))
    app.advance(case_id, "forward", BIMA, occurred_at=datetime.now(timezone.utc) + timedelta(minutes=1))
    assert app.get_case(case_id).state == "forwarded"


def test_stale_expected_version_writes_nothing(app):
    case_id = new_case(app)
    app.advance(case_id, "begin_review", BIMA, occurred_at=day(1), expected_version=1)
    error = refused(app, case_id, ConcurrentUpdate, "expected version 1, it is at 2",
                    lambda: app.advance(case_id, "register", BIMA, occurred_at=day(2), expected_version=1))
    assert str(case_id) in str(error)
    case = app.advance(case_id, "register", BIMA, occurred_at=day(2), expected_version=2)
    assert case.version == 3


def test_duplicate_external_ref_is_refused(app):
    first = app.report("reporter", occurred_at=T0, **report_fields(external_ref="LAPOR-2024-001"))
    # the id is derived from the reference: a retried import finds the same case
    before = store_snapshot(app, first)
    with pytest.raises(InvalidField, match="external_ref: 'LAPOR-2024-001' is already case"):
        app.report("reporter", occurred_at=T0, **report_fields(external_ref="LAPOR-2024-001", name="Other"))
    assert store_snapshot(app, first) == before
    assert app.get_case(first).terlapor["name"] == "Budi Santoso"
    other = app.report("reporter", occurred_at=T0, **report_fields(external_ref="LAPOR-2024-002"))
    assert other != first


def test_unknown_or_unreadable_case_id(app):
    case_id = new_case(app)
    other = "00000000-0000-4000-8000-000000000000"
    refused(app, case_id, CaseNotFound, f"no case {other}",
            lambda: app.advance(other, "begin_review", BIMA, occurred_at=day(1)))
    refused(app, case_id, InvalidField, "case: not a case id: 'kasus-1'",
            lambda: app.advance("kasus-1", "begin_review", BIMA, occurred_at=day(1)))
    with pytest.raises(CaseNotFound):
        app.case_events(other)
    # a case id given as text is the same case
    app.advance(f" {case_id} ", "begin_review", BIMA, occurred_at=day(1))
    assert app.get_case(str(case_id)).state == "under_review"
