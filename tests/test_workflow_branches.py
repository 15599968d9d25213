"""Every side branch of the lifecycle is reachable, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from tests.conftest import T0, TO_RECOMMENDED, WIB, new_case, report_fields, walk
from tests.workflow_support import HOUSEKEEPING, day, new_finding, refused, triggers_of
from workflow.errors import IllegalTransition, InvalidField

BIMA = "bawaslu:kab-bima"
REVIEW = [("begin_review", BIMA, {})]
TO_EXAMINATION = REVIEW + [("register", BIMA, {})]
TO_FORWARDED = TO_EXAMINATION + [("forward", BIMA, {})]
TO_COMMISSION = TO_FORWARDED + [("begin_examination", "bkn", {})]


def test_not_registered_from_under_review_and_from_awaiting_correction(app):
    direct = new_case(app)
    walk(app, direct, REVIEW + [("reject_registration", BIMA, {})])
    assert app.get_case(direct).state == "not_registered"

    after_correction = new_case(app)
    walk(app, after_correction, REVIEW + [("request_correction", BIMA, {}), ("reject_registration", BIMA, {})])
    case = app.get_case(after_correction)
    assert case.state == "not_registered"
    assert triggers_of(app, after_correction) == ["report", "begin_review", "request_correction",
                                                  "reject_registration"]
    # a final state: nothing but housekeeping may follow
    error = refused(app, after_correction, IllegalTransition, "'register' is not allowed",
                    lambda: app.advance(after_correction, "register", BIMA, occurred_at=day(10)))
    assert set(error.legal) <= HOUSEKEEPING
    # and for a finding (no reporter data) the refusal says the case is closed
    finding = new_finding(app)
    walk(app, finding, REVIEW + [("reject_registration", BIMA, {})])
    error = refused(app, finding, IllegalTransition, r"\(closed\): .*legal triggers: none$",
                    lambda: app.advance(finding, "register", BIMA, occurred_at=day(10)))
    assert error.legal == []


def test_correction_loop_then_register(app):
    case_id = new_case(app)
    walk(app, case_id, REVIEW + [("request_correction", BIMA, {})])
    case = app.get_case(case_id)
    assert (case.state, case.deadline) == ("awaiting_correction", "correction")
    assert case.due_at is not None
    app.advance(case_id, "submit_correction", "reporter", occurred_at=day(3))
    case = app.get_case(case_id)
    assert (case.state, case.deadline, case.due_at) == ("under_review", None, None)
    # a second round of correction is possible, then registration
    app.advance(case_id, "request_correction", BIMA, occurred_at=day(4))
    app.advance(case_id, "submit_correction", "reporter", occurred_at=day(5))
    app.advance(case_id, "register", BIMA, occurred_at=day(6))
    case = app.get_case(case_id)
    assert case.state == "under_examination"
    assert triggers_of(app, case_id) == ["report", "begin_review", "request_correction", "submit_correction",
                                         "request_correction", "submit_correction", "register"]
    # milestones keep the first time each trigger fired
    assert case.milestones["request_correction"] == day(2)
    assert case.milestones["register"] == day(6)


def test_dismissed(app):
    case_id = new_case(app)
    walk(app, case_id, TO_EXAMINATION + [("dismiss", BIMA, {})])
    case = app.get_case(case_id)
    assert (case.state, case.deadline, case.due_at) == ("dismissed", None, None)


def test_return_to_bawaslu_from_both_commission_states_then_forward_again(app):
    case_id = new_case(app)
    at = walk(app, case_id, TO_FORWARDED + [
        ("return_to_bawaslu", "bkn", {}),               # from forwarded
        ("forward", BIMA, {}),
        ("begin_examination", "bkn", {}),
        ("return_to_bawaslu", "bkn", {}),               # from under_commission_examination
    ])
    case = app.get_case(case_id)
    assert case.state == "under_examination"
    assert case.deadline == "bawaslu_handling.pilkada"
    walk(app, case_id, [("forward", BIMA, {})] + TO_RECOMMENDED[3:], start=at)
    case = app.get_case(case_id)
    assert case.state == "recommended"
    assert case.commission == "bkn"
    assert triggers_of(app, case_id).count("forward") == 3


def test_find_not_proven(app):
    case_id = new_case(app)
    walk(app, case_id, TO_COMMISSION + [("find_not_proven", "bkn", {})])
    assert app.get_case(case_id).state == "not_proven"


def test_reject_in_bkn_2024_but_not_in_skb_2022(app):
    from_forwarded = new_case(app)
    walk(app, from_forwarded, TO_FORWARDED + [("reject", "bkn", {})])
    assert app.get_case(from_forwarded).state == "rejected"
    from_examination = new_case(app)
    walk(app, from_examination, TO_COMMISSION + [("reject", "bkn", {})])
    assert app.get_case(from_examination).state == "rejected"

    old_start = datetime(2022, 10, 1, 9, 0, tzinfo=WIB)
    old = new_case(app, at=old_start)
    assert app.get_case(old).era == "skb-2022"
    at = walk(app, old, TO_EXAMINATION + [("forward", BIMA, {}), ("begin_examination", "kasn", {})],
              start=old_start)
    error = refused(app, old, IllegalTransition, "'reject' is not allowed",
                    lambda: app.advance(old, "reject", "kasn", occurred_at=at))
    assert "reject" not in error.legal
    assert {"recommend", "find_not_proven", "return_to_bawaslu"} <= set(error.legal)


def test_ppk_examination_then_a_lighter_sanction_on_another_track(app):
    case_id = new_case(app)
    at = walk(app, case_id, TO_RECOMMENDED[:-1] + [
        ("recommend", "bkn", {"track": "discipline", "sanction": "demotion_12m"}),
        ("begin_ppk_examination", "ppk:pemkab-bima", {}),
    ])
    case = app.get_case(case_id)
    assert case.state == "under_ppk_examination"
    assert case.deadline == "ppk_follow_up"  # same stage: the recommendation's deadline keeps running
    recommended_due = case.due_at
    assert recommended_due == app.get_case(case_id, version=6).due_at
    app.advance(case_id, "impose_sanction", "ppk:pemkab-bima", occurred_at=at,
                sanction="public_statement", decree_number=" 800/12/BKD/2024 ")
    case = app.get_case(case_id)
    assert case.state == "sanctioned"
    assert {k: case.sanction[k] for k in ("track", "sanction", "decree_number")} == {
        "track": "ethics", "sanction": "public_statement", "decree_number": "800/12/BKD/2024"}
    assert case.recommendation == {"track": "discipline", "sanction": "demotion_12m", "ppk": "pemkab-bima"}
    assert (case.deadline, case.due_at) == (None, None)


def test_overdue_escalate_and_sanction_from_overdue(app):
    case_id = new_case(app)
    walk(app, case_id, TO_RECOMMENDED)
    due = app.get_case(case_id).due_at
    assert app.tick(now=due) == [(case_id, "ppk_follow_up")]
    case = app.get_case(case_id)
    assert (case.state, case.deadline_missed) == ("overdue", True)
    app.advance(case_id, "escalate", "bkn", occurred_at=due, to="president")
    app.advance(case_id, "escalate", "bkn", occurred_at=due, to="kemendagri")
    refused(app, case_id, InvalidField, "to: unknown value 'governor'",
            lambda: app.advance(case_id, "escalate", "bkn", occurred_at=due, to="governor"))
    case = app.get_case(case_id)
    assert case.state == "overdue"
    assert case.escalations == ["president", "kemendagri"]
    app.advance(case_id, "begin_ppk_examination", "ppk:pemkab-bima", occurred_at=due)
    case = app.get_case(case_id)
    assert case.state == "under_ppk_examination"
    assert case.deadline_missed  # still the same, already missed, deadline
    # escalation is only for an overdue case
    refused(app, case_id, IllegalTransition, "'escalate' is not allowed",
            lambda: app.advance(case_id, "escalate", "bkn", occurred_at=due, to="president"))
    app.advance(case_id, "impose_sanction", "ppk:pemkab-bima", occurred_at=due,
                sanction="written_reprimand", decree_number="800/2/2024")
    assert app.get_case(case_id).state == "sanctioned"


def test_impose_sanction_directly_from_overdue(app):
    case_id = new_case(app)
    walk(app, case_id, TO_RECOMMENDED)
    due = app.get_case(case_id).due_at
    app.tick(now=due)
    app.advance(case_id, "impose_sanction", "ppk:pemkab-bima", occurred_at=due,
                sanction="written_reprimand", decree_number="800/3/2024")
    assert app.get_case(case_id).state == "sanctioned"


def test_block_and_unblock_personnel_data(app):
    case_id = new_case(app)
    at = walk(app, case_id, TO_RECOMMENDED)
    # not before a recommendation
    early = new_case(app)
    walk(app, early, TO_EXAMINATION)
    refused(app, early, IllegalTransition, "'block_personnel_data' is not allowed",
            lambda: app.advance(early, "block_personnel_data", "bkn", occurred_at=at))

    app.advance(case_id, "block_personnel_data", "bkn", occurred_at=at)
    case = app.get_case(case_id)
    assert (case.state, case.personnel_data_blocked) == ("recommended", True)
    error = refused(app, case_id, IllegalTransition, "already blocked",
                    lambda: app.advance(case_id, "block_personnel_data", "bkn", occurred_at=at))
    assert "block_personnel_data" not in error.legal and "unblock_personnel_data" in error.legal
    app.advance(case_id, "impose_sanction", "ppk:pemkab-bima", occurred_at=at,
                sanction="written_reprimand", decree_number="800/4/2024")
    assert app.get_case(case_id).personnel_data_blocked  # sanction does not lift the block by itself
    app.advance(case_id, "unblock_personnel_data", "bkn", occurred_at=at)
    case = app.get_case(case_id)
    assert (case.state, case.personnel_data_blocked) == ("sanctioned", False)
    refused(app, case_id, IllegalTransition, "not blocked",
            lambda: app.advance(case_id, "unblock_personnel_data", "bkn", occurred_at=at))
    refused(app, case_id, IllegalTransition, "'block_personnel_data' is not allowed",
            lambda: app.advance(case_id, "block_personnel_data", "bkn", occurred_at=at))


def test_cancel_before_and_after_recommendation(app):
    early = new_finding(app)
    at = walk(app, early, TO_EXAMINATION + [("cancel", BIMA, {})])
    assert app.get_case(early).state == "cancelled"
    refused(app, early, IllegalTransition, "closed",
            lambda: app.advance(early, "forward", BIMA, occurred_at=at))

    late = new_case(app)
    at = walk(app, late, TO_RECOMMENDED)
    app.advance(late, "block_personnel_data", "bkn", occurred_at=at)
    app.advance(late, "cancel", "bkn", occurred_at=at)
    case = app.get_case(late)
    assert (case.state, case.deadline, case.due_at) == ("cancelled", None, None)
    # the only thing left to do on a cancelled case is lifting the block
    app.advance(late, "unblock_personnel_data", "bkn", occurred_at=at)
    assert not app.get_case(late).personnel_data_blocked


def test_record_departure(app):
    case_id = new_case(app)
    at = walk(app, case_id, TO_RECOMMENDED)
    refused(app, case_id, InvalidField, r"reason: unknown value 'fired' \(allowed: left, retired, resigned\)",
            lambda: app.advance(case_id, "record_departure", "ppk:pemkab-bima", occurred_at=at, reason="fired"))
    refused(app, case_id, InvalidField, "reason: required",
            lambda: app.advance(case_id, "record_departure", "ppk:pemkab-bima", occurred_at=at))
    app.advance(case_id, "record_departure", "ppk:pemkab-bima", occurred_at=at, reason="retired")
    case = app.get_case(case_id)
    assert (case.state, case.departure) == ("departed", "retired")

    by_bkn = new_case(app)
    walk(app, by_bkn, REVIEW + [("record_departure", "bkn", {"reason": "resigned"})])
    assert app.get_case(by_bkn).departure == "resigned"


def test_finding_by_bawaslu_and_report_by_the_public(app):
    finding = new_finding(app, actor="bawaslu:kab-bima@andi", description="Seen at a rally")
    case = app.get_case(finding)
    assert (case.source, case.reporter, case.state) == ("finding", None, "reported")
    event = app.case_events(finding)[0]
    assert event.actor == {"role": "bawaslu", "scope": "kab-bima", "id": "andi"}

    report = new_case(app)
    case = app.get_case(report)
    assert case.source == "report"
    assert app.reporter(report) == {"name": "Siti Aminah", "contact": "0812-0000-0000", "id_number": None}
    # a public report needs the reporter's name
    refused(app, None, InvalidField, "reporter_name: required",
            lambda: app.report("reporter", occurred_at=T0,
                               **report_fields(reporter_name=None, reporter_contact=None)))
