"""Official reference data: region codes as they stood on a report's date, agencies, the election calendar.

The reports of issue 19's "Why" are refused with one clear line and nothing written (CLI exit 2, API 422); a
2020 report from Kabupaten Merauke validates in Papua and is grouped in Papua Selatan today; hypothesis feeds
random codes and dates. On SQLite: the checks are the write side's, the same on every store.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from entrypoints.api.app import create_app
from entrypoints.api.settings import ServerSettings
from entrypoints.auth import tokens
from entrypoints.cli.main import main
from projections import audits
from projections.auditor import Auditor
from projections.readside import ReadSide
from reference import DATA
from reference.agencies import agencies
from reference.elections import calendar
from reference.regions import regions
from tests.conftest import T0, TO_RECOMMENDED, WIB, report_fields, walk
from tests.workflow_support import refused, store_snapshot
from workflow.application import Jejak
from workflow.errors import InvalidField
from workflow.settings import Settings

MERAUKE_2020 = dict(province="prov-papua", regency="kab-merauke", agency="pemkab-merauke", election="pilkada-2020")
AT_2020 = datetime(2020, 10, 1, 9, tzinfo=WIB)
REPORT = ["report", "--at", "2024-10-01T09:00+07:00", "--name", "Budi", "--position-group", "administrator",
          "--category", "social_media", "--reporter-name", "Siti"]
WHY = {  # the reports issue 19 found accepted, and what each is refused with now
    "unknown codes": (["--province", "prov-zzz", "--regency", "kab-qqq", "--agency", "pemkab-zzz",
                       "--election", "pilkada-2024"],
                      "jejak: error: agency: unknown agency 'pemkab-zzz'; closest: pemkab-wajo (Pemerintah "
                      "Kabupaten Wajo)"),
    "Bima is not in Jawa Tengah": (["--province", "prov-jateng", "--regency", "kab-bima", "--agency", "pemkab-bima",
                                    "--election", "pilkada-2024"],
                                   "jejak: error: regency: kab-bima (Kabupaten Bima, 52.06) lies in prov-ntb (Nusa "
                                   "Tenggara Barat, 52), not in prov-jateng (Jawa Tengah, 33) (on 2024-10-01)"),
    "no such election": (["--province", "prov-ntb", "--regency", "kab-bima", "--agency", "pemkab-bima",
                          "--election", "pilkada-2031"],
                         "jejak: error: election: no election 'pilkada-2031' in the calendar; closest: "),
    "unknown province": (["--province", "prov-zzz", "--regency", "kab-bima", "--agency", "pemkab-bima",
                          "--election", "pilkada-2024"],
                         "jejak: error: province: unknown province 'prov-zzz'; closest: prov-pbd (Papua Barat Daya)"),
    "unknown regency": (["--province", "prov-ntb", "--regency", "kab-qqq", "--agency", "pemkab-bima",
                         "--election", "pilkada-2024"], "jejak: error: regency: unknown regency or city 'kab-qqq' "
                                                        "(allowed: a Kemendagri code such as 52.06"),
}


@pytest.fixture
def app(tmp_path):
    with Jejak(f"sqlite:///{tmp_path / 'j.db'}") as application:
        yield application


@pytest.mark.parametrize("case", list(WHY))
def test_the_reports_of_the_issue_are_refused_with_one_line_and_nothing_written(tmp_path, capsys, case):
    url = f"sqlite:///{tmp_path / 'j.db'}"
    assert main(["--db", url, *REPORT, "--province", "prov-ntb", "--regency", "kab-bima", "--agency",
                 "pemkab-bima", "--election", "pilkada-2024"]) == 0
    capsys.readouterr()
    argv, message = WHY[case]
    with Jejak(url) as app:
        before = store_snapshot(app)
    assert main(["--db", url, *REPORT, *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    with Jejak(url) as app:
        assert store_snapshot(app) == before


def test_the_api_refuses_them_with_422(tmp_path):
    url = f"sqlite:///{tmp_path / 'j.db'}"
    engine = tokens.engine_for_tokens(url)
    reporter = {"Authorization": f"Bearer {tokens.issue(engine, 'reporter', None, None)[0]}"}
    with TestClient(create_app(ServerSettings(db=url, insecure_dev=True))) as client:
        for province, regency, agency, election, detail in [
                ("prov-zzz", "kab-qqq", "pemkab-bima", "pilkada-2024", "province: unknown province 'prov-zzz'"),
                ("prov-jateng", "kab-bima", "pemkab-bima", "pilkada-2024", "regency: kab-bima (Kabupaten Bima"),
                ("prov-ntb", "kab-bima", "pemkab-bima", "pilkada-2031", "election: no election 'pilkada-2031'"),
                ("prov-ntb", "kab-bima", "pemkab-bima", "pilkada-2020", "election: 2024-10-01 is outside")]:
            body = {"occurred_at": "2024-10-01T09:00", **report_fields(province=province, regency=regency,
                                                                        agency=agency, election=election)}
            response = client.post("/api/v1/cases", headers=reporter, json=body)
            assert response.status_code == 422 and response.json()["detail"].startswith(detail), response.text
            assert response.headers["content-type"].startswith("application/problem+json")
        assert client.get("/api/v1/cases", headers={"Authorization": f"Bearer {tokens.issue(engine, 'auditor', None, None)[0]}"}).json() == []
    engine.dispose()


def test_official_codes_aliases_and_bps_codes_name_the_same_region(app):
    for province, regency, agency in [("52", "52.06", "pemkab-52.06"), ("prov-nusa-tenggara-barat", "5206",
                                                                          "PEMKAB-BIMA"), ("prov-ntb", "kab-bima",
                                                                                           "pemkab-bima")]:
        case = app.get_case(app.report("reporter", occurred_at=T0, **report_fields(
            province=province, regency=regency, agency=agency)))
        assert case.region == {"province": "prov-ntb", "regency": "kab-bima", "province_code": "52",
                               "regency_code": "52.06"}
        assert case.terlapor["agency"] == "pemkab-bima" and case.terlapor["agency_type"] == "regency"
    city = app.get_case(app.report("reporter", occurred_at=T0, **report_fields(regency="kota-mataram",
                                                                               agency="pemkot-mataram")))
    assert city.region["regency_code"] == "52.71"


def test_a_2020_merauke_report_is_in_papua_and_grouped_in_papua_selatan_today(app):
    old = app.report("reporter", occurred_at=AT_2020, **report_fields(**MERAUKE_2020))
    assert app.get_case(old).region == {"province": "prov-papua", "regency": "kab-merauke", "province_code": "91",
                                        "regency_code": "91.01"}
    by_code = app.report("reporter", occurred_at=AT_2020, **report_fields(**{**MERAUKE_2020, "province": "91",
                                                                               "regency": "91.01"}))
    new = app.report("reporter", occurred_at=T0, **report_fields(province="prov-papua-selatan",
                                                                 regency="kab-merauke", agency="pemkab-merauke"))
    assert app.get_case(new).region["regency_code"] == "93.01"
    refused(app, None, InvalidField, re.escape("regency: kab-merauke (Kabupaten Merauke, 93.01) lies in "
                                               "prov-papua-selatan (Papua Selatan, 93), not in prov-papua"),
            lambda: app.report("reporter", occurred_at=T0, **report_fields(**{**MERAUKE_2020,
                                                                             "election": "pilkada-2024"})))
    refused(app, None, InvalidField, re.escape("province: prov-papua-selatan (Papua Selatan, 93) did not exist on "
                                               "2020-10-01: it began on 2022-07-25"),
            lambda: app.report("reporter", occurred_at=AT_2020, **report_fields(
                **{**MERAUKE_2020, "province": "prov-papua-selatan"})))
    refused(app, None, InvalidField, re.escape("regency: kab-merauke (Kabupaten Merauke, 91.01) was retired on "
                                               "2022-07-25: on 2024-10-01 it is kab-merauke (Kabupaten Merauke, "
                                               "93.01)"),
            lambda: app.report("reporter", occurred_at=T0, **report_fields(
                province="93", regency="91.01", agency="pemkab-merauke")))
    # the Bawaslu of the province it was reported in, and of the province it lies in today, both act on it
    app.advance(old, "begin_review", "bawaslu:prov-papua", occurred_at=AT_2020 + timedelta(days=1))
    app.advance(old, "register", "bawaslu:prov-papua-selatan@x", occurred_at=AT_2020 + timedelta(days=2))
    assert app.triggers(old, "bawaslu:prov-ntb") == []

    ReadSide(app).catch_up()
    rows = {r["case_id"]: r for r in audits.case_summary_frame(app).to_dict("records")}
    for case_id in (old, by_code, new):
        row = rows[str(case_id)]
        assert (row["province"], row["province_code"], row["regency"], row["regency_code"]) == \
            ("prov-papua-selatan", "93", "kab-merauke", "93.01")
    assert (rows[str(old)]["province_reported"], rows[str(old)]["regency_reported"]) == ("91", "91.01")
    assert (rows[str(new)]["province_reported"], rows[str(new)]["regency_reported"]) == ("93", "93.01")
    today = audits.funnel(app, by="province")
    assert today.set_index("province").loc["prov-papua-selatan", ["reported", "province_name"]].tolist() == \
        [3, "Papua Selatan"]
    reported = audits.funnel(app, by="province_reported").set_index("province_reported")["reported"].to_dict()
    assert reported == {"91": 2, "93": 1}
    facts = dict(Auditor(app=app).case(old)._facts())  # the case view: as reported, with the codes of that day
    assert facts["region"] == "prov-papua (91) / kab-merauke (91.01)"
    assert facts["PPK"] == "pemkab-merauke (Pemerintah Kabupaten Merauke)"


def test_an_election_outside_its_window_needs_a_bawaslu_finding_and_its_reason(app, tmp_path):
    late = datetime(2021, 9, 1, 9, tzinfo=WIB)  # pilkada-2020's last vote + 180 days is 2021-06-07
    refused(app, None, InvalidField, re.escape("election: 2021-09-01 is outside pilkada-2020's window "
                                               "(2019-09-30 to 2021-06-07): is it the right election? (allowed: no "
                                               "election's window holds 2021-09-01)"),
            lambda: app.report("reporter", occurred_at=late, **report_fields(election="pilkada-2020")))
    finding = report_fields(election="pilkada-2020", reporter_name=None, reporter_contact=None)
    refused(app, None, InvalidField, "election_reason: required for a finding whose date 2021-09-01 is outside",
            lambda: app.report("bawaslu:kab-bima", occurred_at=late, **finding))
    refused(app, None, InvalidField, "election_reason: given, but 2024-10-01 is within pilkada-2024's window",
            lambda: app.report("bawaslu:kab-bima", occurred_at=T0, **{**finding, "election": "pilkada-2024",
                                                                       "election_reason": "why not"}))
    case_id = app.report("bawaslu:kab-bima", occurred_at=late, election_reason="a late re-vote in Bima", **finding)
    assert app.case_events(case_id)[0].election == {"kind": "pilkada", "year": 2020,
                                                    "override": "a late re-vote in Bima"}
    with Jejak(f"sqlite:///{tmp_path / 'wide.db'}", settings=Settings(election_window_days=500)) as wide:
        assert wide.report("reporter", occurred_at=late, **report_fields(election="pilkada-2020"))  # a setting


def test_agencies_have_official_names_in_the_audits(app):
    case_id = app.report("reporter", occurred_at=T0, **report_fields())
    walk(app, case_id, TO_RECOMMENDED)
    app.advance(case_id, "impose_sanction", "ppk:pemkab-52.06", occurred_at=T0 + timedelta(days=10),
                sanction="written_reprimand", decree_number="800/1")
    other = app.report("reporter", occurred_at=T0, **report_fields())
    walk(app, other, TO_RECOMMENDED)
    app.advance(other, "impose_sanction", "ppk:pemkab-bima", occurred_at=T0 + timedelta(days=6),
                sanction="written_reprimand", decree_number="800/2")
    table = audits.responsiveness(app)
    row = table.set_index("ppk").loc["pemkab-bima"]
    assert row["ppk_name"] == "Pemerintah Kabupaten Bima" and row["followed_up"] == 2
    assert row["mean_days"] == pytest.approx(3.0) and row["median_days"] == pytest.approx(3.0)  # 5 and 1 days
    assert list(table.columns[:2]) == ["ppk", "ppk_name"]
    # a case of a ministry the 2024 cabinet split still goes to its PPK; a PPK named later must exist then
    pupr = app.report("reporter", occurred_at=T0, **report_fields(agency="kementerian-pupr", regency=None))
    walk(app, pupr, [(t, a.replace("kab-bima", "prov-ntb"), f) for t, a, f in TO_RECOMMENDED[:-1]])
    later = datetime(2024, 11, 1, 9, tzinfo=WIB)
    recommend = dict(track="discipline", sanction="written_reprimand")
    refused(app, pupr, InvalidField, "ppk: kementerian-pupr .* did not exist on 2024-11-01: it ended on 2024-10-21",
            lambda: app.advance(pupr, "recommend", "bkn", occurred_at=later, ppk="kementerian-pupr", **recommend))
    assert app.advance(pupr, "recommend", "bkn", occurred_at=later, **recommend).ppk == "kementerian-pupr"
    refused(app, None, InvalidField, re.escape("agency: kementerian-pupr (Kementerian Pekerjaan Umum dan Perumahan "
                                               "Rakyat) did not exist on 2024-12-01: it ended on 2024-10-21"),
            lambda: app.report("reporter", occurred_at=datetime(2024, 12, 1, 9, tzinfo=WIB),
                               **report_fields(agency="kementerian-pupr")))


def test_show_as_of_a_date_includes_that_whole_local_day_as_the_audits_do(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'j.db'}"
    with Jejak(url) as app:
        case_id = app.report("reporter", occurred_at=T0, **report_fields())
        app.advance(case_id, "begin_review", "bawaslu:kab-bima", occurred_at=T0.replace(hour=23, minute=59))
        app.advance(case_id, "register", "bawaslu:kab-bima", occurred_at=T0 + timedelta(days=1))
    assert main(["--db", url, "--json", "show", str(case_id), "--as-of", "2024-10-01"]) == 0
    assert [e["trigger"] for e in json.loads(capsys.readouterr().out)] == ["report", "begin_review"]
    assert main(["--db", url, "--json", "show", str(case_id), "--as-of", "2024-10-01T12:00"]) == 0
    assert [e["trigger"] for e in json.loads(capsys.readouterr().out)] == ["report"]
    assert main(["--db", url, "show", str(case_id), "--as-of", "2024-02-30"]) == 2
    assert capsys.readouterr().err == "jejak: error: --as-of: cannot read '2024-02-30' (allowed: YYYY-MM-DD or an " \
                                      "ISO datetime)\n"


def test_the_reference_data_is_complete_and_sourced():
    every = regions()
    current = list(every.current.values())
    assert sum(r.level == "province" for r in current) == 38 and sum(r.level != "province" for r in current) == 514
    for region in every.by_code["91.01"] + every.by_code["92.01"]:  # a retired code leads to a standing one
        assert every.today(region).valid_until is None
    for day in (date(2020, 1, 1), date(2022, 8, 1), date(2024, 1, 1)):  # no alias names two regions on a day
        for alias, found in every.by_alias.items():
            assert sum(r.exists_on(day) for r in found) <= 1, (alias, day)
    assert len({a.name for a in agencies().by_code.values()}) == len(agencies().by_code)
    with (DATA / "agencies.csv").open(encoding="utf-8") as file:
        assert all(row["source"] for row in csv.DictReader(file))
    assert {e.id for e in calendar().by_id.values()} >= {"pemilu-2019", "pemilu-2024", "pilkada-2015",
                                                        "pilkada-2017", "pilkada-2018", "pilkada-2020", "pilkada-2024"}
    assert (DATA / "LICENSE.md").read_text(encoding="utf-8").startswith("# Open Database License")
    assert "idn-area-data" in (DATA / "ATTRIBUTION.md").read_text(encoding="utf-8")


def test_calendar_and_window_settings_are_checked(tmp_path):
    with pytest.raises(InvalidField, match="JEJAK_ELECTION_WINDOW_DAYS: not a number of days: 'six months'"):
        Settings.from_env({"JEJAK_ELECTION_WINDOW_DAYS": "six months"})
    with pytest.raises(InvalidField, match="JEJAK_ELECTION_WINDOW_START: unknown start 'voting_day'"):
        Settings.from_env({"JEJAK_ELECTION_WINDOW_START": "voting_day"})
    broken = tmp_path / "elections.csv"
    broken.write_text("election,name\npemilu-2029,Pemilu 2029\n", encoding="utf-8")
    with pytest.raises(InvalidField, match="JEJAK_ELECTIONS_FILE: .*missing columns campaign_end"):
        Settings.from_env({"JEJAK_ELECTIONS_FILE": str(broken)})
    mine = tmp_path / "mine.csv"
    rows = (DATA / "elections.csv").read_text(encoding="utf-8")
    mine.write_text(rows + "pemilu-2029,Pemilu 2029,2027-06-01,2028-11-01,2029-02-10,2029-02-14,,"
                           "a test,\n", encoding="utf-8")
    assert calendar(Settings.from_env({"JEJAK_ELECTIONS_FILE": str(mine)}).elections_file).resolve("pemilu-2029")


REGION_TEXT = st.one_of(
    st.sampled_from(sorted(regions().by_alias) + sorted(regions().by_code)),
    st.text(alphabet="abkmoprtv-.0123456789", max_size=12),
    st.text(max_size=8))
DAYS = st.dates(min_value=date(2019, 1, 1), max_value=date(2026, 1, 1))


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(province=REGION_TEXT, regency=st.one_of(st.none(), REGION_TEXT), agency=st.one_of(
    st.sampled_from(sorted(agencies().names)[::7]), st.text(max_size=10)), day=DAYS,
    election=st.sampled_from(sorted(calendar().by_id) + ["pilkada-2031", "pemilu-2019x", ""]))
@example(province="prov-papua", regency="kab-merauke", agency="pemkab-merauke", day=date(2020, 10, 1),
         election="pilkada-2020")
@example(province="52", regency="5206", agency="pemkab-52.06", day=date(2024, 10, 1), election="pilkada-2024")
def test_random_codes_and_dates_are_recorded_as_they_stood_or_refused_cleanly(app, province, regency, agency, day,
                                                                               election):
    at = datetime.combine(day, datetime.min.time(), tzinfo=WIB).replace(hour=9)
    fields = report_fields(province=province, regency=regency, agency=agency, election=election)
    before = store_snapshot(app)
    try:
        case_id = app.report("reporter", occurred_at=at, **fields)
    except InvalidField as error:
        assert "\n" not in str(error) and store_snapshot(app) == before
        return
    region = app.get_case(case_id).region
    prov = regions().resolve(region["province_code"], ("province",), day)
    assert prov.alias == region["province"]
    if region["regency_code"] is not None:
        reg = regions().resolve(region["regency_code"], ("regency", "city"), day)
        assert reg.province == prov.code and reg.alias == region["regency"]
    assert agencies().resolve(app.get_case(case_id).terlapor["agency"], day)
    assert calendar().resolve(election).holds(day)


def test_events_of_earlier_versions_are_read_as_of_their_date():
    """Before the lists, a report recorded its aliases only, checked for form: read as of the report's day, and
    kept as they were when they name nothing."""
    from projections.places import region_columns

    assert region_columns("prov-papua", "kab-merauke", None, None, date(2020, 10, 1)) == {
        "province": "prov-papua-selatan", "regency": "kab-merauke", "province_code": "93", "regency_code": "93.01",
        "province_reported": "91", "regency_reported": "91.01"}
    assert region_columns("prov-zzz", "kab-qqq", None, None, date(2020, 10, 1)) == {
        "province": "prov-zzz", "regency": "kab-qqq", "province_code": None, "regency_code": None,
        "province_reported": "prov-zzz", "regency_reported": "kab-qqq"}
