"""`jejak import`: every row through the live commands; every bad row reported with its line; dry run, strict
and re-runs write nothing new; imported histories equal what live commands record."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import WIB
from entrypoints.cli import main as cli
from workflow.application import Jejak
from workflow.importer import COLUMNS, import_file

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "import-sample.csv"

BASE = dict(reported_at="2024-10-01T09:00", name="Budi Santoso", nip="198001012005011001",
            position_group="administrator", agency="pemkab-bima", province="prov-ntb", regency="kab-bima",
            category="social_media", election="pilkada-2024", reporter_name="Siti Aminah")
TO_SANCTION = dict(review_begun_at="2024-10-02", registered_at="2024-10-03", forwarded_at="2024-10-05",
                   examination_begun_at="2024-10-06", recommended_at="2024-10-08", recommended_track="discipline",
                   recommended_sanction="allowance_cut_6m", sanctioned_at="2024-10-20",
                   sanction="written_reprimand", decree_number="800/45/2024")


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    columns = columns or sorted({k for row in rows for k in row}, key=list(COLUMNS).index)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def last_id(app: Jejak) -> int:
    return app.recorder.max_notification_id() or 0


def test_sample_imports_cleanly_and_rerun_adds_nothing(app):
    rows = sum(1 for _ in csv.DictReader(open(SAMPLE, encoding="utf-8")))
    result = import_file(app, SAMPLE)
    assert result.ok, result.bad
    assert (result.imported, result.already, result.written) == (rows, 0, True)
    assert last_id(app) == result.events
    again = import_file(app, SAMPLE)
    assert (again.imported, again.already, again.events, again.ok) == (0, rows, 0, True)
    assert last_id(app) == result.events


def test_sample_covers_several_branches(tmp_path):
    with Jejak(f"sqlite:///{tmp_path / 's.db'}") as app:
        assert import_file(app, SAMPLE).ok
        from projections.readside import ReadSide
        states = {row["state"] for row in ReadSide(app).cases()}
    assert {"sanctioned", "not_registered", "dismissed", "not_proven", "departed", "cancelled", "rejected",
            "recommended", "under_review"} <= states


def test_every_bad_row_is_reported_with_its_line(app, tmp_path):
    rows = [
        {**BASE, "category": "hoax"},                                          # line 2
        {**BASE, "name": "Multi\nline", "reported_at": "yesterday"},           # line 3-4 (quoted newline)
        {**BASE, "name": "C", "forwarded_at": "2024-10-03"},                   # line 5: illegal order
        {**BASE, "name": "D", "review_begun_at": "2024-10-02", "registered_at": "2024-09-30"},  # 6: backwards
        {**BASE, "name": "E", **TO_SANCTION, "recommended_sanction": "rank_lowered_1y"},       # 7: not PP 94
        {**BASE, "name": "F", "sanction": "written_reprimand"},                # 8: field without its date
        {**BASE, "name": "G", "nip": "123"},                                   # 9
        {**BASE, "name": "Good"},                                              # 10: fine
        {**BASE, "name": "Good"},                                              # 11: same row again
        {**BASE, "name": "H", "reported_at": "2020-10-01", "election": "pilkada-2020",  # 12: BKN acts in the
         "review_begun_at": "2020-10-02", "registered_at": "2020-10-03",               # KASN era, in 2020
         "forwarded_at": "2020-10-05", "examination_begun_at": "2020-10-06", "commission_actor": "bkn"},
        {**BASE, "name": "I", "actor": "bawaslu:kab-dompu"},                   # 13: outside its region
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    with open(path, "ab") as f:  # line 14: not UTF-8
        f.write(",".join(["x\xff"] + [""] * (len(open(path, encoding="utf-8").readline().split(",")) - 1))
                .encode("latin-1") + b"\n")
    result = import_file(app, path)
    lines = {e.line: e.message for e in result.bad}
    assert sorted(lines) == [2, 3, 5, 6, 7, 8, 9, 11, 12, 13, 14], result.bad
    assert "category: unknown value 'hoax'" in lines[2]
    assert lines[3].startswith("reported_at: not a date")
    assert lines[5].startswith("forwarded_at: 'forward' is not allowed when the case is 'reported'")
    assert lines[6].startswith("registered_at:") and "does not go backwards" in lines[6]
    assert lines[7].startswith("recommended_at: recommended_sanction: unknown value 'rank_lowered_1y'")
    assert lines[8] == "sanction: given but sanctioned_at is empty"
    assert "nip: must be 18 digits" in lines[9]
    assert "same content as line 10" in lines[11]
    assert lines[12].startswith("examination_begun_at: role 'bkn' may not begin_examination under skb-2020")
    assert "no jurisdiction" in lines[13]
    assert "UTF-8" in lines[14]
    assert result.imported == 1 and last_id(app) == 1  # the good row was written, the bad ones not


def test_dry_run_writes_nothing(app, tmp_path):
    path = write_csv(tmp_path / "ok.csv", [{**BASE, **TO_SANCTION}, {**BASE, "name": "Other"}])
    result = import_file(app, path, dry_run=True)
    assert result.ok and result.imported == 2 and result.events == 8 and not result.written
    assert last_id(app) == 0
    assert app._new_subject_keys == {}
    assert import_file(app, path).imported == 2 and last_id(app) == 8


def test_strict_writes_nothing_when_a_row_is_bad(app, tmp_path):
    path = write_csv(tmp_path / "mixed.csv", [{**BASE}, {**BASE, "name": "X", "category": "gossip"}])
    result = import_file(app, path, strict=True)
    assert [e.line for e in result.bad] == [3] and not result.written
    assert last_id(app) == 0
    good = write_csv(tmp_path / "good.csv", [{**BASE}])
    assert import_file(app, good, strict=True).written and last_id(app) == 1


def test_the_row_hash_is_the_key_without_external_ref(app, tmp_path):
    path = write_csv(tmp_path / "a.csv", [{**BASE}])
    import_file(app, path)
    assert import_file(app, path).already == 1
    case = app.get_case(first_id(app))
    assert case.external_ref.startswith("imported-")
    ref = write_csv(tmp_path / "b.csv", [{**BASE, "external_ref": "BWS-1"}, {**BASE, "external_ref": "BWS-1",
                                                                             "name": "Else"}])
    result = import_file(app, ref)
    assert result.imported == 1 and [e.line for e in result.bad] == [3]
    assert "same external_ref as line 2" in result.bad[0].message


def first_id(app):
    return next(iter(app.recorder.select_notifications(start=1, limit=1))).originator_id


def comparable(event) -> dict:
    data = {k: v for k, v in vars(event).items() if k not in ("originator_id", "timestamp", "reporter",
                                                              "external_ref", "imported_from")}
    return {"type": type(event).__name__, **data}


def test_imported_history_equals_live_commands(db_url, tmp_path):
    row = {**BASE, **TO_SANCTION, "external_ref": "REF-1", "overdue_at": "2024-10-23",
           "sanctioned_at": "2024-11-03", "decree_date": "2024-11-01", "registered_by": "bawaslu:kab-bima@andi"}
    path = write_csv(tmp_path / "one.csv", [row])
    with Jejak(db_url) as app:
        assert import_file(app, path).ok
        imported = [comparable(e) for e in app.case_events(app.get_case(first_id(app)).id)]
        t = lambda day: datetime(2024, 10, day, tzinfo=WIB) if day < 32 else datetime(2024, 11, day - 31, tzinfo=WIB)
        case_id = app.report("reporter", occurred_at=datetime(2024, 10, 1, 9, tzinfo=WIB), **{
            k: v for k, v in BASE.items() if k != "reported_at"}, external_ref="REF-2")
        steps = [("begin_review", "bawaslu:kab-bima", t(2), {}),
                 ("register", "bawaslu:kab-bima@andi", t(3), {}),
                 ("forward", "bawaslu:kab-bima", t(5), {}),
                 ("begin_examination", "bkn", t(6), {}),
                 ("recommend", "bkn", t(8), {"track": "discipline", "sanction": "allowance_cut_6m"}),
                 ("mark_overdue", "system", t(23), {}),
                 ("impose_sanction", "ppk:pemkab-bima", t(34),
                  {"sanction": "written_reprimand", "decree_number": "800/45/2024", "decree_date": "2024-11-01"})]
        for trigger, actor, at, fields in steps:
            app.advance(case_id, trigger, actor, occurred_at=at, **fields)
        live = [comparable(e) for e in app.case_events(case_id)]
        origins = {e.imported_from["line"] for e in app.case_events(first_id(app))}
    assert imported == live  # but for where the imported events came from (tests/test_imported_history.py)
    assert origins == {2}
    assert [e["type"] for e in imported][-2:] == ["MarkedOverdue", "SanctionImposed"]


def test_same_day_steps_follow_the_legal_order(app, tmp_path):
    row = {**BASE, "reported_at": "2024-10-01T15:00", "review_begun_at": "2024-10-01",
           "registered_at": "2024-10-01", "forwarded_at": "2024-10-02T08:00"}
    assert import_file(app, write_csv(tmp_path / "d.csv", [row])).ok
    events = app.case_events(app.get_case(first_id(app)).id)
    assert [e.trigger for e in events] == ["report", "begin_review", "register", "forward"]
    assert events[1].occurred_at == events[0].occurred_at  # "that day", not before the report


def test_xlsx_with_date_cells(app, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    columns = ["external_ref", "reported_at", "name", "nip", "position_group", "agency", "province", "regency",
               "category", "election", "reporter_name", "review_begun_at", "registered_at"]
    sheet.append(columns)
    good = ["X-1", datetime(2024, 10, 1, 9), "Budi", "198001012005011001", "administrator", "pemkab-bima",
            "prov-ntb", "kab-bima", "social_media", "pilkada-2024", "Siti", datetime(2024, 10, 2),
            datetime(2024, 10, 3)]
    sheet.append(good)
    sheet.append(["X-2", datetime(2024, 10, 1, 9), "Budi", 1.98001012005011e17, *good[4:]])  # NIP as a number
    sheet.append(["X-3", "not a date", "Budi", None, *good[4:]])
    book.save(tmp_path / "cases.xlsx")
    result = import_file(app, tmp_path / "cases.xlsx")
    assert result.imported == 1 and [e.line for e in result.bad] == [3, 4]
    assert "nip" in result.bad[0].message and "format the column as text" in result.bad[0].message
    assert "reported_at: not a date" in result.bad[1].message
    case = app.get_case(first_id(app))
    assert case.state == "under_examination" and case.milestones["report"] == datetime(2024, 10, 1, 9, tzinfo=WIB)


# --- the command line ---------------------------------------------------------------------------------------

def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_cli_reports_bad_files_without_traceback(capsys, tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    unknown = write_csv(tmp_path / "u.csv", [{**BASE, "colour": "red"}], [*BASE, "colour"])
    code, _, err = run(capsys, "--db", db, "import", str(unknown))
    assert code == 2 and "line 1: unknown column(s): colour" in err
    missing = write_csv(tmp_path / "m.csv", [{"name": "x"}], ["name"])
    code, _, err = run(capsys, "--db", db, "import", str(missing))
    assert code == 2 and "missing required column(s)" in err and "reported_at" in err
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"name,reported_at\n\x00\x01")
    code, _, err = run(capsys, "--db", db, "import", str(binary))
    assert code == 2 and "line 2" in err and "NUL" in err
    code, _, err = run(capsys, "--db", db, "import", str(tmp_path / "none.csv"))
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "--db", db, "import", str(tmp_path / "file.txt"))
    assert code == 2


def test_cli_import_dry_run_then_real(capsys, tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    path = write_csv(tmp_path / "ok.csv", [{**BASE, **TO_SANCTION}, {**BASE, "name": "X", "category": "gossip"}])
    code, out, err = run(capsys, "--db", db, "import", str(path), "--dry-run")
    assert code == 2 and "would import 1 case(s) (7 events)" in out and f"{path}:3: report: category" in err
    code, out, _ = run(capsys, "--db", db, "import", str(path), "--strict")
    assert code == 2 and "nothing written" in out
    code, out, _ = run(capsys, "--db", db, "import", str(path))
    assert code == 2 and "imported 1 case(s) (7 events)" in out
    code, out, _ = run(capsys, "--db", db, "import", str(SAMPLE))
    assert code == 0 and "0 bad" in out


def test_every_column_is_documented_in_the_readme():
    from workflow.importer import MILESTONES, REPORT_COLUMNS, ROLE_COLUMNS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Bulk import and export", 1)[1].split("\n## ", 1)[0]
    wanted = [*REPORT_COLUMNS, *ROLE_COLUMNS, *[m.column for m in MILESTONES],
              *[c for m in MILESTONES for c in m.fields]]
    assert [c for c in wanted if f"`{c}`" not in section] == []


def test_worker_processes_record_the_same_histories(tmp_path, db_url):
    import sys

    sys.path.insert(0, str(SAMPLE.parent.parent / "bench"))
    import dataset

    path = tmp_path / "gen.csv"
    dataset.write_csv(path, cases=120)
    histories = []
    for url in (f"sqlite:///{tmp_path / 'one-process.db'}", db_url):  # one process, then forked workers
        workers = 1 if url.endswith("one-process.db") else 2
        with Jejak(url) as app:
            result = import_file(app, path, workers=workers, batch_size=25)
            assert result.ok and result.imported == 120
            assert import_file(app, path, workers=workers, batch_size=25).already == 120
            ids = sorted({n.originator_id for n in app.recorder.select_notifications(start=1, limit=10_000)})
            # case ids derive from keys under each store's own secret: compare the histories, not their ids
            histories.append(sorted(([comparable(e) for e in app.case_events(i)] for i in ids), key=repr))
            assert app.reporter(ids[0]) is None or app.reporter(ids[0])["name"]
    assert histories[0] == histories[1]


def test_cli_options_after_the_subcommand(capsys, tmp_path):
    import json

    db = f"sqlite:///{tmp_path / 'o.db'}"
    code, out, _ = run(capsys, "import", str(SAMPLE), "--db", db, "--json")
    assert code == 0 and json.loads(out)["imported"] == 15
    code, out, _ = run(capsys, "export", "case_summary", "--db", db)
    assert code == 0 and len(out.splitlines()) == 16


def test_rows_another_writer_imported_meanwhile_are_skipped_not_doubled(db_url, monkeypatch, tmp_path):
    """Between the check for existing cases and the write, another import wrote some of the same cases: the
    batch's insert is refused whole (on PostgreSQL by COPY), then written without those, counted as already."""
    from workflow import importer

    with Jejak(db_url) as app:
        assert import_file(app, SAMPLE).imported == 15
        events = app.recorder.max_notification_id()
        rows = SAMPLE.read_text(encoding="utf-8").splitlines()
        extra = tmp_path / "sample-plus-one.csv"
        extra.write_text("\n".join([*rows, rows[1].replace(rows[1].split(",")[0], "EXTRA-1", 1)]) + "\n",
                         encoding="utf-8")
        real, calls = importer.existing_case_ids, []
        monkeypatch.setattr(importer, "existing_case_ids",
                            lambda app_, ids: calls.append(1) or (set() if len(calls) == 1 else real(app_, ids)))
        result = import_file(app, extra)
        assert (result.imported, result.already, result.ok) == (1, 15, True) and len(calls) == 2
        added = app.recorder.select_notifications(start=events, limit=100, inclusive_of_start=False)
        assert len({n.originator_id for n in added}) == 1 and len(added) == result.events

