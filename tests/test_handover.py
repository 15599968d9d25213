"""Institutions act by the date of the act: KASN ceased to act in Sept 2024 (a rule the era files declare, its day
a setting), BKN acts on the cases KASN left pending, under their era's procedure, and the handover shows in the
history, the read models and the audits."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from entrypoints.bootstrap import open_jejak
from entrypoints.cli import main as cli
from projections.audits import case_event_frame, case_summary_frame, overdue
from tests.conftest import WIB, report_fields
from workflow.errors import InvalidField, NotAuthorized
from workflow.settings import Settings

BIMA = "bawaslu:kab-bima"


def _at(month: int, day: int) -> datetime:
    return datetime(2024, month, day, 10, tzinfo=WIB)


def _kasn_case(app, forwarded: datetime = _at(8, 25)):
    """A case reported in August 2024, under skb-2022 (KASN's era), forwarded on `forwarded`."""
    case_id = app.report("reporter", occurred_at=_at(8, 20), **report_fields())
    for trigger, at in [("begin_review", _at(8, 21)), ("register", _at(8, 22)), ("forward", forwarded)]:
        app.advance(case_id, trigger, BIMA, occurred_at=at)
    return case_id


def test_kasn_is_refused_after_its_end_and_bkn_takes_its_pending_case(app, capsys):
    case_id = _kasn_case(app)
    app.advance(case_id, "begin_examination", "kasn", occurred_at=_at(8, 28))  # KASN still exists
    with pytest.raises(NotAuthorized, match=r"role 'kasn' may not recommend on 2024-10-05: it ceased to act on "
                                            r"2024-09-01 \(UU 20/2023 .*\); bkn acts on the skb-2022 cases"):
        app.advance(case_id, "recommend", "kasn", occurred_at=_at(10, 5), track="discipline",
                    sanction="written_reprimand")
    assert app.get_case(case_id).version == 5  # nothing written
    assert app.triggers(case_id, "kasn") == [] and "recommend" in app.triggers(case_id, "bkn")
    case = app.advance(case_id, "recommend", "bkn@rina", occurred_at=_at(10, 5), track="discipline",
                       sanction="written_reprimand")
    assert case.state == "recommended" and case.era == "skb-2022"
    assert app.case_events(case_id)[-1].workflow_version == "skb-2022@1"  # the era's procedure still rules
    events = case_event_frame(app, case_id)
    assert events["acting_for"].fillna("").tolist() == [""] * 5 + ["kasn"]
    row = case_summary_frame(app).set_index("case_id").loc[str(case_id)]
    assert (row["handed_over_to"], row["commission"]) == ("bkn", "bkn")
    assert row["handed_over_at"] == _at(10, 5)
    assert cli.main(["--db", str(app.store), "show", str(case_id)]) == 0
    assert "acting_for=kasn" in capsys.readouterr().out.splitlines()[-1]


def test_a_kasn_era_case_forwarded_after_the_end_goes_to_bkn(app):
    case_id = _kasn_case(app, forwarded=_at(9, 10))
    case = app.get_case(case_id)
    assert (case.era, case.commission) == ("skb-2022", "bkn")
    with pytest.raises(NotAuthorized, match="ceased to act on 2024-09-01"):
        app.advance(case_id, "begin_examination", "kasn", occurred_at=_at(9, 11))
    app.advance(case_id, "begin_examination", "bkn", occurred_at=_at(9, 11))
    row = case_summary_frame(app).set_index("case_id").loc[str(case_id)]
    assert (row["handed_over_to"], row["handed_over_at"]) == ("bkn", _at(9, 10))


def test_before_the_end_bkn_may_not_act_for_kasn(app):
    case_id = _kasn_case(app)
    with pytest.raises(NotAuthorized, match="role 'bkn' may not begin_examination under skb-2022@1; allowed roles: "
                                            "kasn"):
        app.advance(case_id, "begin_examination", "bkn", occurred_at=_at(8, 30))


def test_the_end_date_is_a_setting(db_url):
    settings = Settings(handover_days={"kasn": date(2024, 10, 1)})
    with open_jejak(db_url, settings=settings) as app:
        case_id = _kasn_case(app)
        app.advance(case_id, "begin_examination", "kasn", occurred_at=_at(9, 15))  # KASN lasts longer here
        with pytest.raises(NotAuthorized, match="ceased to act on 2024-10-01"):
            app.advance(case_id, "recommend", "kasn", occurred_at=_at(10, 1), track="ethics",
                        sanction="closed_statement")
    assert Settings.from_env({"JEJAK_HANDOVER_KASN": "2024-09-16"}).handover_days == {"kasn": date(2024, 9, 16)}
    with pytest.raises(InvalidField, match="JEJAK_HANDOVER_KASN: not a date"):
        Settings.from_env({"JEJAK_HANDOVER_KASN": "September"})
    with pytest.raises(InvalidField, match="no era hands over from role 'bkn'"):
        Settings.from_env({"JEJAK_HANDOVER_BKN": "2024-09-16"})


def test_the_overdue_audit_names_the_body_that_took_over(db_url):
    settings = Settings(deadline_overrides={"skb-2022:commission_examination": "3"})
    with open_jejak(db_url, settings=settings) as app:
        case_id = _kasn_case(app)  # forwarded to KASN on 25 Aug, due by the end of 28 Aug
        before = overdue(app, now=_at(8, 31)).set_index("case_id").loc[str(case_id)]
        after = overdue(app, now=_at(9, 2)).set_index("case_id").loc[str(case_id)]
    assert before["responsible"] == "kasn" and pd.isna(before["handover"])
    assert after["responsible"] == "bkn" and after["handover"] == "kasn -> bkn on 2024-09-01"


def test_jejak_workflow_shows_the_handover_by_the_setting(monkeypatch, capsys):
    monkeypatch.setenv("JEJAK_HANDOVER_KASN", "2024-09-16")
    assert cli.main(["workflow", "--era", "skb-2022"]) == 0
    assert "kasn  bkn  2024-09-16  UU 20/2023" in capsys.readouterr().out
    assert cli.main(["workflow", "--era", "bkn-2024", "--json"]) == 0
    assert '"handovers": []' in capsys.readouterr().out  # KASN has no part in the BKN era's table
