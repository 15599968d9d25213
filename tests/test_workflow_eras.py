"""Legal eras: chosen from the report's date, recorded on every event, and deciding who examines and which
sanctions exist."""

from __future__ import annotations

from datetime import date, datetime, timezone

from tests.conftest import T0, TO_RECOMMENDED, WIB, new_case, report_fields, walk
from tests.workflow_support import refused
from workflow.definitions import ERAS, era_for
from workflow.errors import InvalidField, NotAuthorized

BIMA = "bawaslu:kab-bima"
TO_FORWARDED = [("begin_review", BIMA, {}), ("register", BIMA, {}), ("forward", BIMA, {})]


def _at(y, m, d):
    return datetime(y, m, d, 9, 0, tzinfo=WIB)


def test_era_is_chosen_from_the_report_date(app):
    expected = {
        _at(2020, 6, 26): "skb-2020",   # before the first era: the first one applies
        _at(2020, 10, 1): "skb-2020",
        _at(2022, 7, 1): "pp94-2021",
        _at(2022, 10, 1): "skb-2022",
        _at(2024, 10, 1): "bkn-2024",
        # the date is the local (WIB) one: 31 Aug 18:00 UTC is already 1 Sept in Jakarta
        datetime(2024, 8, 31, 18, 0, tzinfo=timezone.utc): "bkn-2024",
        datetime(2024, 8, 31, 16, 0, tzinfo=timezone.utc): "skb-2022",
    }
    for when, era in expected.items():
        case_id = new_case(app, at=when)
        case = app.get_case(case_id)
        assert case.era == era, when
        assert app.case_events(case_id)[0].workflow_version == f"{era}@1"


def test_era_boundaries_are_inclusive():
    assert era_for(date(2021, 8, 30)).id == "skb-2020"
    assert era_for(date(2021, 8, 31)).id == "pp94-2021"
    assert era_for(date(2022, 9, 21)).id == "pp94-2021"
    assert era_for(date(2022, 9, 22)).id == "skb-2022"
    assert era_for(date(2024, 8, 31)).id == "skb-2022"
    assert era_for(date(2024, 9, 1)).id == "bkn-2024"
    assert era_for(date(2019, 1, 1)).id == "skb-2020"


def test_the_era_follows_the_date_and_only_a_finding_or_an_import_names_another(app):
    # a reporter cannot choose: `--era skb-2020` on a 2024 report would send it to KASN and drop BKN's deadline
    refused(app, None, NotAuthorized, r"era: a report is handled under the era in force on its date \(bkn-2024 "
                                      r"on 2024-10-01\); only a Bawaslu finding or an import may name another",
            lambda: app.report("reporter", occurred_at=T0, era="skb-2020", era_reason="I prefer KASN", **_fields()))
    same = app.report("reporter", occurred_at=T0, era="bkn-2024", **_fields())  # naming the one in force: fine
    assert app.get_case(same).era == "bkn-2024" and app.case_events(same)[0].era_reason is None

    finding = report_fields(reporter_name=None, reporter_contact=None)
    refused(app, None, InvalidField, "era_reason: required to handle a case of 2024-10-01 under skb-2022",
            lambda: app.report(BIMA, occurred_at=T0, era="skb-2022", **finding))
    refused(app, None, InvalidField, "era_reason: given, but the era is the one in force",
            lambda: app.report(BIMA, occurred_at=T0, era_reason="no reason", **finding))
    case_id = app.report(BIMA, occurred_at=T0, era="skb-2022", era_reason="found in August, filed late", **finding)
    assert app.get_case(case_id).era == "skb-2022"
    assert app.case_events(case_id)[0].era_reason == "found in August, filed late"
    walk(app, case_id, TO_FORWARDED)
    assert app.get_case(case_id).commission == "bkn"  # KASN's era, but forwarded after KASN ceased to act
    assert {e.workflow_version for e in app.case_events(case_id)} == {"skb-2022@1"}

    error = refused(app, None, InvalidField, "era: unknown era 'skb-2019'",
                    lambda: app.report(BIMA, occurred_at=T0, era="skb-2019", era_reason="x", **finding))
    assert "(allowed: skb-2020, pp94-2021, skb-2022, bkn-2024)" in str(error)


def test_commission_is_kasn_before_september_2024_and_bkn_after(app):
    old = new_case(app, at=_at(2022, 10, 1))
    at = walk(app, old, TO_FORWARDED, start=_at(2022, 10, 1))
    case = app.get_case(old)
    assert case.commission == "kasn"
    assert app.case_events(old)[-1].to == "kasn"
    refused(app, old, NotAuthorized, "role 'bkn' may not begin_examination under skb-2022@1",
            lambda: app.advance(old, "begin_examination", "bkn", occurred_at=at))
    app.advance(old, "begin_examination", "kasn", occurred_at=at)
    refused(app, old, NotAuthorized, "role 'bkn' may not recommend under skb-2022@1; allowed roles: kasn",
            lambda: app.advance(old, "recommend", "bkn", occurred_at=at, track="discipline",
                                sanction="written_reprimand"))
    app.advance(old, "recommend", "kasn", occurred_at=at, track="discipline", sanction="written_reprimand")
    assert app.get_case(old).state == "recommended"

    new = new_case(app)
    at = walk(app, new, TO_FORWARDED)
    assert app.get_case(new).commission == "bkn"
    assert app.case_events(new)[-1].to == "bkn"
    refused(app, new, NotAuthorized, "role 'kasn' may not begin_examination under bkn-2024@1",
            lambda: app.advance(new, "begin_examination", "kasn", occurred_at=at))
    refused(app, new, NotAuthorized, "role 'kasn' may not return_to_bawaslu",
            lambda: app.advance(new, "return_to_bawaslu", "kasn", occurred_at=at))
    refused(app, new, NotAuthorized, "role 'kasn' may not cancel",
            lambda: app.advance(new, "cancel", "kasn", occurred_at=at))
    walk(app, new, TO_RECOMMENDED[3:], start=at)
    assert {e.workflow_version for e in app.case_events(new)} == {"bkn-2024@1"}
    assert {e.workflow_version for e in app.case_events(old)} == {"skb-2022@1"}


def test_sanction_catalogue_follows_the_era(app):
    start_2020 = _at(2020, 10, 1)
    old = new_case(app, at=start_2020, election="pilkada-2020")
    at = walk(app, old, TO_FORWARDED + [("begin_examination", "kasn", {})], start=start_2020)
    refused(app, old, InvalidField, "sanction: unknown value 'allowance_cut_6m'",
            lambda: app.advance(old, "recommend", "kasn", occurred_at=at, track="discipline",
                                sanction="allowance_cut_6m"))
    app.advance(old, "recommend", "kasn", occurred_at=at, track="discipline", sanction="deferred_promotion_1y")
    refused(app, old, InvalidField, "sanction: unknown value 'allowance_cut_6m'",
            lambda: app.advance(old, "impose_sanction", "ppk:pemkab-bima", occurred_at=at,
                                sanction="allowance_cut_6m", decree_number="800/1/2020"))
    app.advance(old, "impose_sanction", "ppk:pemkab-bima", occurred_at=at, sanction="rank_lowered_1y",
                decree_number="800/1/2020")
    assert app.get_case(old).sanction["sanction"] == "rank_lowered_1y"

    new = new_case(app)
    at = walk(app, new, TO_RECOMMENDED[:-1])
    error = refused(app, new, InvalidField, "sanction: unknown value 'deferred_promotion_1y'",
                    lambda: app.advance(new, "recommend", "bkn", occurred_at=at, track="discipline",
                                        sanction="deferred_promotion_1y"))
    assert "allowance_cut_6m" in str(error)  # the allowed list is the era's catalogue
    app.advance(new, "recommend", "bkn", occurred_at=at, track="discipline", sanction="allowance_cut_6m")
    refused(app, new, InvalidField, "sanction: unknown value 'deferred_promotion_1y'",
            lambda: app.advance(new, "impose_sanction", "ppk:pemkab-bima", occurred_at=at,
                                sanction="deferred_promotion_1y", decree_number="800/1/2024"))
    # non-ASN staff have their own track in every era
    app.advance(new, "impose_sanction", "ppk:pemkab-bima", occurred_at=at, sanction="non_asn_written_warning",
                decree_number="800/1/2024")
    assert app.get_case(new).sanction["track"] == "non_asn"


def test_rule_tables_of_the_eras():
    for era in ERAS.values():
        triggers = {row["trigger"] for row in era.transitions}
        assert ("reject" in triggers) == (era.id == "bkn-2024")
        commission_rows = [row for row in era.transitions if row["trigger"] == "recommend"]
        assert [row["roles"] for row in commission_rows] == [[era.commission]]
        assert era.version == f"{era.id}@1"
    assert {era.id: era.commission for era in ERAS.values()} == {
        "skb-2020": "kasn", "pp94-2021": "kasn", "skb-2022": "kasn", "bkn-2024": "bkn"}


def _fields():
    from tests.conftest import report_fields
    return report_fields()


def test_an_import_row_may_name_the_era_with_its_reason(app, tmp_path):
    from tests.test_import import BASE, write_csv
    from workflow.importer import case_id_for, import_file

    rows = [dict(BASE, external_ref="E-1", era="skb-2022", era_reason="KASN had it before the handover"),
            dict(BASE, external_ref="E-2", era="skb-2022"),
            dict(BASE, external_ref="E-3", era_reason="no era named")]
    result = import_file(app, write_csv(tmp_path / "eras.csv", rows))
    assert [(e.line, e.message.split(" (")[0]) for e in result.bad] == [
        (3, "report: era_reason: required to handle a case of 2024-10-01 under skb-2022, not bkn-2024"),
        (4, "report: era_reason: given, but the era is the one in force on 2024-10-01")]
    case = app.get_case(case_id_for("E-1"))  # a reporter's report (BASE names one), as the file recorded it
    assert (case.era, app.case_events(case.id)[0].era_reason) == ("skb-2022", "KASN had it before the handover")
    from projections.readside import ReadSide

    assert [(r["era"], r["era_reason"]) for r in ReadSide(app).cases()] == [
        ("skb-2022", "KASN had it before the handover")]
