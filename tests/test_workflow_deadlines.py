"""Deadlines: computed when a stage starts, recorded in the event, missed exactly once, never re-judged."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import holidays
import pytest

from tests.conftest import T0, TO_RECOMMENDED, WIB, new_case, walk
from tests.workflow_support import day, store_snapshot, triggers_of
from entrypoints.bootstrap import open_jejak
from workflow.application import Jejak
from workflow.definitions import ERAS
from workflow.errors import InvalidField
from workflow.settings import Settings, parse_deadline

BIMA = "bawaslu:kab-bima"
BKN_2024 = ERAS["bkn-2024"]


def midnight(y, m, d):
    """The end of the day before (y, m, d), in WIB: when a deadline whose last day is the day before is due."""
    return datetime(y, m, d, 0, 0, tzinfo=WIB)


def test_calendar_day_deadlines_along_the_way(app):
    case_id = new_case(app)  # 2024-10-01, bkn-2024, pilkada
    expected = [
        ("begin_review", BIMA, {}, None, None),                                  # 10-02
        ("request_correction", BIMA, {}, "correction", midnight(2024, 10, 7)),  # 10-03 + 3
        ("submit_correction", "reporter", {}, None, None),                      # 10-04
        ("register", BIMA, {}, "bawaslu_handling.pilkada", midnight(2024, 10, 11)),  # 10-05 + 5
        ("forward", BIMA, {}, "commission_examination", midnight(2024, 10, 14)),     # 10-06 + 7
        ("begin_examination", "bkn", {}, "commission_examination", midnight(2024, 10, 14)),  # same stage
        ("recommend", "bkn", {"track": "ethics", "sanction": "closed_statement"},
         "ppk_follow_up", midnight(2024, 10, 23)),                              # 10-08 + 14
    ]
    at = T0
    for trigger, actor, fields, deadline, due_at in expected:
        at += timedelta(days=1)
        app.advance(case_id, trigger, actor, occurred_at=at, **fields)
        case = app.get_case(case_id)
        assert (case.deadline, case.due_at) == (deadline, due_at), trigger
        event = app.case_events(case_id)[-1]
        assert (event.deadline, event.due_at) == (deadline, due_at), trigger


def test_pemilu_deadline_and_no_commission_deadline_before_2024(app):
    start = datetime(2024, 2, 1, 9, 0, tzinfo=WIB)
    case_id = new_case(app, at=start, election="pemilu-2024")
    assert app.get_case(case_id).era == "skb-2022"
    walk(app, case_id, [("begin_review", BIMA, {}), ("register", BIMA, {})], start=start)  # registered 02-03
    case = app.get_case(case_id)
    assert (case.deadline, case.due_at) == ("bawaslu_handling.pemilu", midnight(2024, 2, 11))
    app.advance(case_id, "forward", BIMA, occurred_at=start + timedelta(days=3))
    case = app.get_case(case_id)
    assert (case.state, case.deadline, case.due_at) == ("forwarded", None, None)


def test_working_day_deadline_skips_weekends_and_holidays(db_url):
    calendar = holidays.country_holidays("ID", categories=("public", "government"))
    assert date(2024, 12, 25) in calendar and date(2024, 12, 26) in calendar  # Christmas and the joint leave
    settings = Settings(deadline_overrides={"ppk_follow_up": "3 working"})
    start = datetime(2024, 12, 16, 9, 0, tzinfo=WIB)
    with open_jejak(db_url, settings=settings) as app:
        case_id = new_case(app, at=start)
        walk(app, case_id, TO_RECOMMENDED[:-1], start=start)   # under examination from Fri 12-20
        recommended_at = datetime(2024, 12, 23, 10, 0, tzinfo=WIB)   # a Monday
        app.advance(case_id, "recommend", "bkn", occurred_at=recommended_at, track="discipline",
                    sanction="written_reprimand")
        case = app.get_case(case_id)
        # working days: Tue 24, (25, 26 holidays) Fri 27, (weekend) Mon 30 -> due at the end of Mon 30
        assert calendar.get_nth_working_day(date(2024, 12, 23), 3) == date(2024, 12, 30)
        assert case.due_at == midnight(2024, 12, 31)
        # calendar days still apply to the deadlines not overridden
        assert app.case_events(case_id)[3].due_at == midnight(2024, 12, 27)  # forwarded 12-19 + 7 days
        assert app.tick(now=midnight(2024, 12, 31) - timedelta(seconds=1)) == []
        assert app.tick(now=midnight(2024, 12, 31)) == [(case_id, "ppk_follow_up")]


def test_extra_holidays_from_a_file_are_not_working_days(tmp_path):
    path = tmp_path / "libur.txt"
    path.write_text("# cuti bersama daerah\n2024-12-24  # Christmas Eve\n\n", encoding="utf-8")
    settings = Settings.from_env({"JEJAK_HOLIDAYS_FILE": str(path), "JEJAK_DEADLINE_PPK_FOLLOW_UP": "3 working"})
    assert settings.extra_holidays == frozenset({date(2024, 12, 24)})
    deadline = settings.deadline(BKN_2024, "ppk_follow_up")
    start = datetime(2024, 12, 23, 10, 0, tzinfo=WIB)
    assert settings.due_at(start, deadline) == midnight(2025, 1, 1)  # 27, 30, 31
    assert Settings(deadline_overrides={"ppk_follow_up": "3 working"}).due_at(start, deadline) == midnight(2024, 12, 31)
    path.write_text("24-12-2024\n", encoding="utf-8")
    with pytest.raises(InvalidField, match="libur.txt:1: not an ISO date"):
        Settings.from_env({"JEJAK_HOLIDAYS_FILE": str(path)})


def test_due_date_is_counted_from_the_local_day():
    settings = Settings()
    deadline = settings.deadline(BKN_2024, "ppk_follow_up")
    # 18:00 UTC on 8 Oct is already 9 Oct in Jakarta
    assert settings.due_at(datetime(2024, 10, 8, 18, 0, tzinfo=timezone.utc), deadline) == midnight(2024, 10, 24)
    assert settings.due_at(datetime(2024, 10, 8, 16, 0, tzinfo=timezone.utc), deadline) == midnight(2024, 10, 23)
    assert settings.due_at(datetime(2024, 10, 8, 23, 59, tzinfo=WIB), deadline) == midnight(2024, 10, 23)


def test_off_deadline_means_no_due_date_and_nothing_to_miss(db_url):
    settings = Settings(deadline_overrides={"bkn-2024:commission_examination": "off", "ppk_follow_up": "off"})
    with open_jejak(db_url, settings=settings) as app:
        case_id = new_case(app)
        walk(app, case_id, TO_RECOMMENDED[:3])
        case = app.get_case(case_id)
        assert (case.state, case.deadline, case.due_at) == ("forwarded", None, None)
        walk(app, case_id, TO_RECOMMENDED[3:], start=day(3))
        case = app.get_case(case_id)
        assert (case.state, case.deadline, case.due_at) == ("recommended", None, None)
        assert app.tick(now=datetime(2026, 1, 1, tzinfo=timezone.utc)) == []
        assert app.get_case(case_id).state == "recommended"


def test_settings_from_env():
    settings = Settings.from_env({
        "JEJAK_DEADLINE_PPK_FOLLOW_UP": "10",
        "JEJAK_DEADLINE_BKN_2024__COMMISSION_EXAMINATION": "off",
        "JEJAK_DEADLINE_BAWASLU_HANDLING_PILKADA": "2 working",
        "JEJAK_TZ": "Asia/Makassar",
        "UNRELATED": "1",
    })
    assert dict(settings.deadline_overrides) == {
        "ppk_follow_up": "10", "bkn-2024:commission_examination": "off", "bawaslu_handling.pilkada": "2 working"}
    assert settings.timezone == "Asia/Makassar"
    for era in ERAS.values():
        follow_up = settings.deadline(era, "ppk_follow_up")
        assert (follow_up.days, follow_up.working_days, follow_up.party) == (10, False, "ppk")
        handling = settings.deadline(era, "bawaslu_handling.pilkada")
        assert (handling.days, handling.working_days) == (2, True)
        assert settings.deadline(era, "bawaslu_handling.pemilu").days == 7  # untouched
        assert settings.deadline(era, "commission_examination").days is None
    assert Settings().deadline(BKN_2024, "commission_examination").days == 7  # the default it switched off


@pytest.mark.parametrize("text, days, working", [
    ("14", 14, False), ("14 days", 14, False), ("1 day", 1, False), ("10 working", 10, True),
    ("10wd", 10, True), ("5 working days", 5, True), ("OFF", None, False), ("none", None, False),
])
def test_parse_deadline(text, days, working):
    parsed = parse_deadline(text, BKN_2024.deadlines["ppk_follow_up"])
    assert (parsed.days, parsed.working_days if days else False) == (days, working)
    assert parsed.basis == BKN_2024.deadlines["ppk_follow_up"].basis


def test_parse_deadline_refuses_nonsense():
    with pytest.raises(InvalidField, match="deadline: cannot read 'ten days'"):
        parse_deadline("ten days", BKN_2024.deadlines["ppk_follow_up"])


def test_settings_from_env_used_by_the_application(db_url):
    env = {"JEJAK_DEADLINE_PPK_FOLLOW_UP": "10", "JEJAK_DEADLINE_BKN_2024__COMMISSION_EXAMINATION": "off"}
    with open_jejak(db_url, settings=Settings.from_env(env)) as app:
        case_id = new_case(app)
        walk(app, case_id, TO_RECOMMENDED)  # recommended 10-06
        events = app.case_events(case_id)
        assert events[3].due_at is None  # forwarded: commission deadline off
        assert app.get_case(case_id).due_at == midnight(2024, 10, 17)  # 10-06 + 10 days


def test_tick_marks_each_missed_deadline_once_and_a_new_stage_can_be_missed_again(app):
    case_id = new_case(app)
    walk(app, case_id, [("begin_review", BIMA, {}), ("register", BIMA, {})])  # registered 10-03, due 10-09
    on_time = new_case(app, at=day(5))
    app.advance(on_time, "begin_review", BIMA, occurred_at=day(6))
    app.advance(on_time, "register", BIMA, occurred_at=day(7))             # due 10-14
    assert app.tick(now=midnight(2024, 10, 9) - timedelta(seconds=1)) == []
    now = midnight(2024, 10, 10)
    assert app.tick(now=now) == [(case_id, "bawaslu_handling.pilkada")]
    case = app.get_case(case_id)
    assert (case.state, case.deadline_missed) == ("under_examination", True)
    marked = app.case_events(case_id)[-1]
    assert (marked.trigger, marked.actor["role"], marked.occurred_at) == ("mark_overdue", "system", now)
    assert (marked.missed_deadline, marked.missed_due_at) == ("bawaslu_handling.pilkada", midnight(2024, 10, 9))
    assert app.get_case(on_time).deadline_missed is False

    before = store_snapshot(app, case_id)
    assert app.tick(now=now) == []
    assert app.tick(now=now + timedelta(days=1)) == []
    assert store_snapshot(app, case_id) == before

    # forward and come back: a fresh handling deadline, which can be missed again
    app.advance(case_id, "forward", BIMA, occurred_at=midnight(2024, 10, 11))
    app.advance(case_id, "return_to_bawaslu", "bkn", occurred_at=datetime(2024, 10, 12, 9, tzinfo=WIB))
    case = app.get_case(case_id)
    assert (case.deadline, case.due_at, case.deadline_missed) == (
        "bawaslu_handling.pilkada", midnight(2024, 10, 18), False)
    assert app.tick(now=midnight(2024, 10, 13)) == []
    ticked = app.tick(now=midnight(2024, 10, 18))
    assert (case_id, "bawaslu_handling.pilkada") in ticked
    assert ticked.count((case_id, "bawaslu_handling.pilkada")) == 1
    assert triggers_of(app, case_id).count("mark_overdue") == 2
    assert app.tick(now=midnight(2024, 10, 18)) == []


def test_a_recorded_deadline_is_not_rejudged_when_settings_change(app, db_url):
    case_id = new_case(app)
    at = walk(app, case_id, TO_RECOMMENDED)  # recommended 10-06, 14 days: due 10-21
    due = app.get_case(case_id).due_at
    assert due == midnight(2024, 10, 21)
    with open_jejak(db_url, settings=Settings(deadline_overrides={"ppk_follow_up": "1"})) as stricter:
        assert stricter.get_case(case_id).due_at == due
        stricter.advance(case_id, "begin_ppk_examination", "ppk:pemkab-bima", occurred_at=at)
        assert stricter.get_case(case_id).due_at == due  # same stage: the recorded deadline runs on
        assert stricter.tick(now=midnight(2024, 10, 10)) == []  # a 1-day deadline would have passed
        # a stage that starts under the new settings gets the new deadline
        other = new_case(stricter)
        walk(stricter, other, TO_RECOMMENDED)
        assert stricter.get_case(other).due_at == midnight(2024, 10, 8)
        assert stricter.tick(now=midnight(2024, 10, 10)) == [(other, "ppk_follow_up")]
        assert stricter.tick(now=due) == [(case_id, "ppk_follow_up")]
    case = app.get_case(case_id)
    assert (case.state, case.due_at, case.deadline_missed) == ("overdue", due, True)


def test_tick_skips_a_case_whose_history_is_already_past_now(app):
    """A tick for a past moment (`jejak tick --now ...`) must not stop at a case that has moved on since."""
    moved_on = new_case(app)
    walk(app, moved_on, TO_RECOMMENDED)  # recommended 10-06: due 10-21
    # nobody ran the clock; the PPK started examining after the deadline
    app.advance(moved_on, "begin_ppk_examination", "ppk:pemkab-bima", occurred_at=midnight(2024, 10, 25))
    waiting = new_case(app, at=day(1))
    walk(app, waiting, TO_RECOMMENDED, start=day(1))  # recommended 10-07: due 10-22
    assert app.tick(now=midnight(2024, 10, 23)) == [(waiting, "ppk_follow_up")]
    assert app.get_case(moved_on).deadline_missed is False
    # once `now` has caught up with the case's history, its miss is recorded
    assert app.tick(now=midnight(2024, 10, 26)) == [(moved_on, "ppk_follow_up")]
    assert app.get_case(moved_on).state == "overdue"


def test_the_filing_deadline_is_decided_at_the_report_and_late_reports_are_flagged(db_url):
    """A report is due 7 days after its incident (a finding, 7 days too: `finding_record`). A late one is still
    recorded (Bawaslu decides); the due time is kept on the event and case_summary flags it."""
    from projections.readside import ReadSide

    with open_jejak(db_url) as app:
        late = new_case(app, event_date="2024-09-20")  # T0 is 1 Oct 09:00: due by 28 Sep 00:00 WIB
        in_time = new_case(app, event_date="2024-09-25")  # due by 3 Oct 00:00 WIB
        finding = app.report("bawaslu:kab-bima", occurred_at=T0, **{**report_fields_without_reporter(),
                                                                     "event_date": "2024-09-20"})
        undated = new_case(app)
        assert app.get_case(late).filing_due_at == midnight(2024, 9, 28)
        rows = {row["case_id"]: row for row in ReadSide(app).cases()}
        flags = {case: (rows[str(case)]["filing_deadline"], rows[str(case)]["filed_late"])
                 for case in (late, in_time, finding, undated)}
        assert flags == {late: ("report_filing", True), in_time: ("report_filing", False),
                         finding: ("finding_record", True), undated: (None, None)}
    # a setting changed later does not re-judge what was recorded; new reports follow it
    settings = Settings(deadline_overrides={"report_filing": "30"})
    with open_jejak(db_url, settings=settings) as app:
        assert app.get_case(late).filing_due_at == midnight(2024, 9, 28)
        again = new_case(app, event_date="2024-09-20")
        assert app.get_case(again).filing_due_at == midnight(2024, 10, 21)


def report_fields_without_reporter() -> dict:
    from tests.conftest import report_fields

    return report_fields(reporter_name=None, reporter_contact=None)
