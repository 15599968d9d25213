"""Dates within reason: no stated time before the earliest date accepted (JEJAK_EARLIEST_DATE) or in the future,
on any path; and a store that already holds a year-1 event (written by an older version, which had no lower
bound) keeps its read side working and recovers through `correct_date`. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from entrypoints.bootstrap import open_jejak
from entrypoints.cli.main import main
from projections import audits
from projections.export import TABLES, export
from projections.integrity import verify
from projections.readside import ReadSide
from projections.tables import case_event
from tests.conftest import T0, TO_RECOMMENDED, WIB, new_case, report_fields, walk
from tests.test_import import BASE, TO_SANCTION, write_csv
from tests.workflow_support import refused
from workflow.errors import IllegalTransition, InvalidField, NotAuthorized
from workflow.importer import import_file
from workflow.settings import Settings

# `--at 0001-01-01` as an older version took it: local time (Jakarta's, +07:07:12 in year 1); UTC is year 0
YEAR_1 = datetime(1, 1, 1, tzinfo=ZoneInfo("Asia/Jakarta"))
STATED = "0001-01-01T00:00:00+07:07:12"
FIXED = datetime(2020, 10, 1, 9, tzinfo=WIB)  # what the paper file says; the first era, as year 1 was
UNDER_KASN = [(t, "kasn" if actor == "bkn" else actor, fields) for t, actor, fields in TO_RECOMMENDED]
BIMA = "bawaslu:kab-bima"
REPORT = ["report", "--name", "Budi", "--position-group", "administrator", "--agency", "pemkab-bima",
          "--province", "prov-ntb", "--regency", "kab-bima", "--category", "social_media", "--election",
          "pilkada-2024", "--reporter-name", "Siti"]
AUDITS = {"responsiveness": {}, "funnel": {}, "stage_durations": {"include_open": True}, "stage_stints": {},
          "overdue": {}, "backdating": {}, "portfolio": {"dates": ["2024-10-05"]}}


def cli(capsys, db_url, *argv):
    code = main(["--db", db_url, *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- every path refuses a time out of range ---------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--at", "0001-01-01"], "occurred_at: 0001-01-01T00:00:00+07:07:12 is before 2019-01-01, the earliest date "
                             "accepted (JEJAK_EARLIEST_DATE)"),
    (["--at", "2018-12-31T23:59+07:00"], "is before 2019-01-01"),
    (["--at", "9999-12-31T23:59-12:00"], "occurred_at: 9999-12-31T23:59:00-12:00 is in the future"),
    (["--at", "2024-10-01T09:00+23:59"], "has the UTC offset +2359, which no place uses"),
    (["--at", "2024-10-01T09:00-13:00"], "has the UTC offset -1300"),
    (["--at", "2024-10-01", "--event-date", "0001-01-01"], "event_date: 0001-01-01 is before 2019-01-01"),
])
def test_cli_reports_out_of_range_are_refused(capsys, tmp_path, argv, message):
    db = f"sqlite:///{tmp_path / 'j.db'}"
    code, out, err = cli(capsys, db, *REPORT, *argv)
    assert (code, out) == (2, "") and err.count("\n") == 1 and message in err, err


def test_every_path_refuses_a_time_out_of_range(db_url, capsys, tmp_path):
    with open_jejak(db_url) as app:
        case_id = new_case(app)
        at = walk(app, case_id, TO_RECOMMENDED)
        # the Python API (and so the HTTP API, which decides through the same commands)
        refused(app, None, InvalidField, "occurred_at: 0001-01-01T00:00:00\\+07:07:12 is before 2019-01-01",
                lambda: new_case(app, at=YEAR_1))
        refused(app, None, InvalidField, "event_date: 1999-12-31 is before",
                lambda: new_case(app, event_date="1999-12-31"))
        refused(app, case_id, InvalidField, "is before 2019-01-01",
                lambda: app.advance(case_id, "begin_ppk_examination", "ppk:pemkab-bima", occurred_at=YEAR_1))
        refused(app, case_id, InvalidField, "decree_date: 0001-01-01 is before 2019-01-01",
                lambda: app.advance(case_id, "impose_sanction", "ppk:pemkab-bima", occurred_at=at,
                                    sanction="written_reprimand", decree_number="800/1", decree_date="0001-01-01"))
        for when in (YEAR_1, datetime(9999, 1, 1, tzinfo=timezone.utc)):
            with pytest.raises(InvalidField, match="now: "):
                app.tick(when)
            for name in ("responsiveness", "overdue", "stage_stints", "stage_durations"):
                with pytest.raises(InvalidField, match="now: "):
                    getattr(audits, name)(app, now=when)
        for bad in ("0001-01-01", "9999-12-31", date(1, 1, 1)):
            with pytest.raises(InvalidField, match="as_of: "):
                audits.funnel(app, as_of=bad)
            with pytest.raises(InvalidField, match="as_of: "):
                audits.portfolio(app, [bad])
        before = app.recorder.max_notification_id()

    # the CLI: --from JSON, tick, audits, show; each one line, exit 2, nothing written
    body = tmp_path / "report.json"
    body.write_text(json.dumps(dict(report_fields(), occurred_at="0001-01-01T00:00+07:00")))
    for argv, message in [
        (["report", "--from", str(body)], "occurred_at: 0001-01-01T00:00:00+07:00 is before 2019-01-01"),
        (["tick", "--now", "0001-01-01"], "now: 0001-01-01"),
        (["audit", "overdue", "--now", "9999-01-01T00:00+07:00"], "now: 9999-01-01T00:00:00+07:00 is in the future"),
        (["audit", "funnel", "--as-of", "0001-01-01"], "as_of: 0001-01-01 is not a date from 2019-01-01"),
        (["audit", "portfolio", "--as-of", "9999-12-31"], "as_of: 9999-12-31 is not a date from 2019-01-01"),
        (["audit", "backdating", "--threshold", "nan"], "threshold: must be a finite number of days, got nan"),
        (["audit", "backdating", "--threshold", "inf"], "threshold: must be a finite number of days, got inf"),
        (["audit", "backdating", "--threshold=-inf"], "got -inf"),
    ]:
        code, out, err = cli(capsys, db_url, *argv)
        assert code == 2 and err.startswith("jejak: error: ") and err.count("\n") == 1 and message in err, (argv, err)

    # an import: a report and a step dated in year 1, each a bad row with its line
    rows = [dict(BASE, external_ref="a", reported_at="0001-01-01"),
            dict(BASE, external_ref="b", **dict(TO_SANCTION, registered_at="0001-01-01T10:00+07:00")),
            dict(BASE, external_ref="c", **dict(TO_SANCTION, decree_date="0001-01-01"))]
    with open_jejak(db_url) as app:
        result = import_file(app, write_csv(tmp_path / "old.csv", rows))
        assert [(e.line, e.message.split(":")[0]) for e in result.bad] == [
            (2, "report"), (3, "registered_at"), (4, "sanctioned_at")]
        assert all("is before 2019-01-01" in e.message for e in result.bad), result.bad
        assert app.recorder.max_notification_id() == before


def test_the_earliest_date_is_a_setting(tmp_path):
    assert Settings.from_env({}).earliest_date == date(2019, 1, 1)
    assert Settings.from_env({"JEJAK_EARLIEST_DATE": "2020-06-01"}).earliest_date == date(2020, 6, 1)
    for text, message in [("yesterday", "not a date"), ("0001-01-01", "is not a date from 1900-01-02"),
                          ("2030-01-01", "to the first era's start")]:
        with pytest.raises(InvalidField, match=f"JEJAK_EARLIEST_DATE: .*{message}"):
            Settings.from_env({"JEJAK_EARLIEST_DATE": text})
    with open_jejak(f"sqlite:///{tmp_path / 'j.db'}", settings=Settings(earliest_date=date(2020, 6, 1))) as app:
        with pytest.raises(InvalidField, match="is before 2020-06-01"):
            new_case(app, at=datetime(2020, 5, 31, 23, tzinfo=WIB))
        new_case(app, at=datetime(2020, 6, 1, tzinfo=WIB), election="pilkada-2020")


# --- a store written by an older version, holding year-1 events -------------------------------------------------

@contextmanager
def older_version(monkeypatch):
    """Write as versions before this one did: no lower bound on a stated time, no election calendar."""
    from workflow import decisions

    with monkeypatch.context() as patch:
        patch.setattr(decisions, "_election_in_window", lambda fields, *_: dict(zip(
            ("kind", "year"), (fields["election"].split("-")[0], int(fields["election"].split("-")[1])))))
        lowest = datetime.min.replace(tzinfo=timezone(timedelta(hours=23, minutes=59)))  # before YEAR_1, in UTC too
        patch.setattr(Settings, "earliest_moment", property(lambda self: lowest))
        yield


def old_store(app, monkeypatch):
    """A sane case, a report dated in year 1 (the attack) and a case imported with every step in year 1, as an
    older version recorded them. Returns (sane, attacked, imported)."""
    sane = new_case(app)
    walk(app, sane, TO_RECOMMENDED)
    with older_version(monkeypatch):
        attacked = new_case(app, at=YEAR_1)
        imported = new_case(app, at=YEAR_1, external_ref="legacy-1")
        walk(app, imported, UNDER_KASN, start=YEAR_1)  # registered … recommended: 2-6 Jan of year 1
    return sane, attacked, imported


def read_everything(app, tmp_path) -> dict:
    """What an older version could not do with such a store: every read path, with no error."""
    read_side = ReadSide(app)
    read_side.catch_up()
    report = verify(app)
    assert report.ok, str(report)
    app.tick()
    frames = {name: getattr(audits, name)(app, **options) for name, options in AUDITS.items()}
    for table in TABLES:
        for fmt in ("csv", "parquet", "xlsx"):
            export(app, table, fmt, tmp_path / f"{table}.{fmt}")
    read_side.rebuild(chain=True)
    assert verify(app).ok
    return frames


def test_a_store_holding_year_1_events_reads_and_recovers(db_url, monkeypatch, tmp_path, capsys):
    with open_jejak(db_url) as app:
        sane, attacked, imported = old_store(app, monkeypatch)
        frames = read_everything(app, tmp_path)

        # how the read side shows them: at the recorded time, the stated one kept beside it, and flagged
        rows = {(r["case_id"], r["version"]): r for r in ReadSide(app).rows(select(case_event))}
        first = rows[(str(attacked), 1)]
        assert first["occurred_at"] == first["recorded_at"]
        assert first["occurred_at_stated"] == STATED
        assert rows[(str(imported), 6)]["due_at"] is None  # a deadline counted from year 1 is not shown
        assert rows[(str(sane), 6)]["occurred_at_stated"] is None
        flagged = frames["backdating"]
        out_of_range = flagged[flagged["kind"] == "time_out_of_range"]
        assert sorted(zip(out_of_range["case_id"], out_of_range["version"])) == sorted(
            [(str(attacked), 1)] + [(str(imported), v) for v in range(1, 7)])
        assert set(out_of_range["occurred_at_stated"]) == {
            (YEAR_1 + timedelta(days=n)).isoformat() for n in range(6)}
        summary = {r["case_id"]: r for r in ReadSide(app).cases()}
        assert (summary[str(attacked)]["replaced_times"], summary[str(imported)]["replaced_times"]) == (1, 6)
        assert summary[str(imported)]["due_at"] is None and summary[str(sane)]["replaced_times"] == 0

        # recovery: Bawaslu corrects each stated time with a new event; the history keeps what was stated
        assert "correct_date" in app.triggers(attacked, BIMA)
        assert "correct_date" not in app.triggers(sane, BIMA)
        fix = dict(version=1, to=FIXED, note="the form says 1 Oct 2020")
        refused(app, attacked, NotAuthorized, "role 'reporter' may not correct_date",
                lambda: app.advance(attacked, "correct_date", "reporter", **fix))
        refused(app, attacked, NotAuthorized, None,
                lambda: app.advance(attacked, "correct_date", "bawaslu:kab-dompu", **fix))
        refused(app, sane, IllegalTransition, "no event of the case states a time before the earliest date",
                lambda: app.advance(sane, "correct_date", BIMA, **fix))
        refused(app, attacked, InvalidField, "note: a correction needs its reason",
                lambda: app.advance(attacked, "correct_date", BIMA, version=1, to=FIXED))
        refused(app, attacked, InvalidField, "to: 0002-01-01T00:00:00\\+07:00 is before 2019-01-01",
                lambda: app.advance(attacked, "correct_date", BIMA, **dict(fix, to="0002-01-01T00:00+07:00")))
        refused(app, attacked, InvalidField, "to: .* is in the future of event 1's recording",
                lambda: app.advance(attacked, "correct_date", BIMA, **dict(fix, to=app.clock() + timedelta(hours=1))))
        refused(app, attacked, InvalidField, "version: no event 2 in this case",
                lambda: app.advance(attacked, "correct_date", BIMA, **dict(fix, version="2")))
        refused(app, imported, InvalidField, "is after event 2 .*correct the later events first",
                lambda: app.advance(imported, "correct_date", BIMA, **fix))

        # the documented command: `jejak advance CASE correct_date --set version=1 --set to=… --note …`
        code, out, err = cli(capsys, db_url, "advance", str(attacked), "correct_date", "--as", BIMA,
                             "--set", "version=1", "--set", "to=2020-10-01T09:00", "--note", "the form says 2020")
        assert (code, out.strip(), err) == (0, "reported", "")
        case = app.get_case(attacked)
        assert case.milestones["report"] == FIXED and case.history[0][1] == FIXED
        assert app.case_events(attacked)[0].occurred_at == YEAR_1  # the history is immutable
        assert "correct_date" not in app.triggers(attacked, BIMA)
        refused(app, attacked, IllegalTransition, "no event of the case states a time before",
                lambda: app.advance(attacked, "correct_date", BIMA, **fix))

        for version in range(6, 0, -1):  # the imported case, from its last step back to its report
            app.advance(imported, "correct_date", BIMA, version=version, to=FIXED + timedelta(days=version - 1),
                        note="dates re-keyed from the paper file")
        case = app.get_case(imported)
        # the recommendation (v6) started the PPK's deadline: decided again from the corrected time
        assert case.deadline == "ppk_follow_up" and case.due_at == datetime(2020, 10, 21, tzinfo=WIB)
        assert case.milestones["recommend"] == FIXED + timedelta(days=5)

        frames = read_everything(app, tmp_path)  # rebuilt here, so the projection equals a fresh fold
        rows = {(r["case_id"], r["version"]): r for r in ReadSide(app).rows(select(case_event))}
        first = rows[(str(attacked), 1)]
        assert first["occurred_at"] == FIXED and first["occurred_at_stated"] == STATED
        assert rows[(str(attacked), 2)]["corrects_version"] == 1
        summary = {r["case_id"]: r for r in ReadSide(app).cases()}
        assert summary[str(attacked)]["reported_at"] == FIXED
        got = summary[str(imported)]
        assert (got["reported_at"], got["recommended_at"], got["due_at"]) == (
            FIXED, FIXED + timedelta(days=5), datetime(2020, 10, 21, tzinfo=WIB))
        assert got["days_intake"] == pytest.approx(2.0) and got["replaced_times"] == 6
        kinds = frames["backdating"].groupby("kind").size().to_dict()
        assert kinds.get("time_out_of_range", 0) == 0 and kinds["time_corrected"] == 7
        assert frames["overdue"]["case_id"].tolist().count(str(imported)) == 1  # past 21 Oct 2024 now


def test_corrections_projected_page_by_page_equal_a_rebuild(db_url, monkeypatch):
    """A correction's event may come pages after the event it corrects: the read models end up the same."""
    with open_jejak(db_url) as app:
        _, attacked, imported = old_store(app, monkeypatch)
        read_side = ReadSide(app, page_size=3)
        read_side.catch_up()
        app.advance(attacked, "correct_date", BIMA, version=1, to=FIXED, note="typo")
        for version in range(6, 0, -1):
            app.advance(imported, "correct_date", BIMA, version=version, to=FIXED + timedelta(days=version),
                        note="typo")
            read_side.catch_up()
        incremental = read_side.snapshot()
        read_side.rebuild()
        assert read_side.snapshot() == incremental
