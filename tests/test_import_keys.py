"""Import keys carry nothing of the reporter: a row without external_ref is keyed by an HMAC, under a secret of
the store, of its cells other than the reporter's, so that after `erase-reporter` nothing confirms a guessed
reporter. The secret is wrapped under JEJAK_MASTER_KEY when one is set. Files imported by an earlier version
(a plain SHA-256 of every cell) are still recognised. Plus the file-level refusals: short rows, formulas whose
result was never saved."""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from datetime import datetime

import openpyxl
from openpyxl.utils import get_column_letter
import pytest

from entrypoints.bootstrap import open_jejak
from tests.conftest import WIB
from tests.test_import import BASE, TO_SANCTION, write_csv
from tests.test_privacy import raw_store_bytes
from workflow.errors import InvalidField
from workflow.importer import KEY_SECRET, _canonical, case_id_for, import_file, legacy_row_key, read_rows
from workflow.privacy import MASTER_KEY_VARIABLE

REPORTER = dict(reporter_name="Zulkarnaen Wibisono", reporter_contact="0812-5555-0101",
                reporter_id_number="5206011234567890")
ROW = {**BASE, **TO_SANCTION, **REPORTER}
MASTER = "yGZj0C3SxMcZ3Gkk7pDRjrnLK9kPTSXFSbH8BWvRBjA="


def imported_case(app):
    [case_id] = {n.originator_id for n in app.recorder.select_notifications(start=1, limit=100)}
    return app.get_case(case_id)


def test_erasure_leaves_no_key_that_confirms_a_guess(app, tmp_path, monkeypatch):
    path = write_csv(tmp_path / "cases.csv", [ROW])
    assert import_file(app, path).imported == 1
    case = imported_case(app)
    key = case.external_ref
    assert re.fullmatch(r"imported-[0-9a-f]{32}", key) and case.id == case_id_for(key)
    app.advance(case.id, "erase_reporter", "bawaslu:kab-bima", note="asked")
    raw = raw_store_bytes(app)
    # the digest an earlier version stored (every cell, the reporter's too, no secret) is nowhere
    assert key.encode() in raw and legacy_row_key({k: v for k, v in ROW.items() if v}).encode() not in raw
    # the key does not depend on the reporter at all: the same row with anyone else as reporter has it too
    for guess in ({"reporter_name": "Budi"}, {"reporter_contact": "x"}, {k: "" for k in REPORTER}):
        other = tmp_path / "guess.csv"
        result = import_file(app, write_csv(other, [{**ROW, **guess}]), dry_run=True)
        assert result.already == 1  # recognised as this very case: the key cannot tell reporters apart
    # and it cannot be recomputed without the store's secret: a plain digest of the other cells is not it
    plain = hashlib.sha256(_canonical({k: v for k, v in ROW.items() if v and k not in REPORTER})).hexdigest()
    assert plain[:32] not in key


def test_the_secret_is_per_store_and_kept_apart_under_the_master_key(db_url, tmp_path, monkeypatch):
    path = write_csv(tmp_path / "cases.csv", [ROW])
    other_db = f"sqlite:///{tmp_path / 'other.db'}"
    monkeypatch.setenv(MASTER_KEY_VARIABLE, MASTER)
    with open_jejak(db_url) as app, open_jejak(other_db) as other:
        # a dry run on a store that never imported writes nothing, not even the secret
        assert import_file(app, path, dry_run=True).imported == 1
        assert app.subject_keys.secret(KEY_SECRET, create=False) is None
        import_file(app, path)
        import_file(other, path)
        assert imported_case(app).id != imported_case(other).id  # unlinkable across stores
        secret = app.subject_keys.secret(KEY_SECRET)
        raw = raw_store_bytes(app)
        assert len(secret) == 32 and secret not in raw
        assert base64.b64encode(secret) not in raw  # only wrapped under the master key
        assert import_file(app, path).already == 1  # idempotent
        events = app.recorder.max_notification_id()
    monkeypatch.delenv(MASTER_KEY_VARIABLE)
    with open_jejak(db_url) as app:
        with pytest.raises(InvalidField, match="JEJAK_MASTER_KEY: the store's import key is encrypted"):
            import_file(app, path)
        assert app.recorder.max_notification_id() == events


def test_a_file_imported_by_an_earlier_version_is_still_recognised(app, tmp_path):
    """The earlier key: 'import-' and a SHA-256 of every non-empty cell, the case id derived from it."""
    row = {**BASE, **REPORTER}
    legacy = legacy_row_key(row)
    fields = {k: v for k, v in row.items() if k not in ("reported_at",)}
    app.report("reporter", occurred_at=datetime(2024, 10, 1, 9, tzinfo=WIB), external_ref=legacy, **fields)
    before = app.recorder.max_notification_id()
    result = import_file(app, write_csv(tmp_path / "old.csv", [row]))
    assert (result.already, result.imported, app.recorder.max_notification_id()) == (1, 0, before)
    assert imported_case(app).id == case_id_for(legacy)


# --- file-level refusals -------------------------------------------------------------------------------------

def test_a_short_row_says_how_many_columns(app, tmp_path):
    path = write_csv(tmp_path / "short.csv", [BASE])
    text = path.read_text(encoding="utf-8").splitlines()
    cells = text[1].split(",")
    path.write_text("\n".join([text[0], ",".join(cells[:3]), text[1] + ",extra", text[1]]) + "\n", encoding="utf-8")
    result = import_file(app, path)
    width = len(text[0].split(","))
    assert [str(e) for e in result.bad] == [f"line 2: expected {width} columns, found 3",
                                            f"line 3: expected {width} columns, found {width + 1}"]
    assert result.imported == 1


def _with_saved_result(path, cell: str, value: str) -> None:
    """Store a result for a formula cell, as a spreadsheet does when it saves (openpyxl never computes one)."""
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    sheet, found = re.subn(rf'<c r="{cell}"([^>]*)><f>([^<]*)</f>(?:<v\s*/>|<v>\s*</v>)</c>',
                           rf'<c r="{cell}" t="str"><f>\2</f><v>{value}</v></c>', sheet)
    assert found == 1, sheet[:2000]
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)


def test_xlsx_formulas_import_their_saved_result_or_are_refused(app, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    columns = list(BASE) + ["external_ref", "description"]
    sheet.append(columns)
    sheet.append([*BASE.values(), "F-1", '=CONCAT("Shared ","a post")'])   # row 2: its result saved below
    sheet.append([*BASE.values(), "F-2", "=1+1"])                          # row 3: no saved result
    sheet.append([*BASE.values(), "F-3", None])
    column = get_column_letter(len(columns))
    sheet[f"{column}4"] = "=HYPERLINK(\"http://evil.example\")"            # row 4: text that looks like one
    sheet[f"{column}4"].data_type = "s"
    book.save(tmp_path / "f.xlsx")
    _with_saved_result(tmp_path / "f.xlsx", f"{column}2", "Shared a post")
    result = import_file(app, tmp_path / "f.xlsx")
    assert [str(e) for e in result.bad] == [
        "line 3: description: a formula with no saved result (open the file in a spreadsheet and save it, or "
        "paste the values)"]
    described = {imported.external_ref: imported.incident["description"] for imported in
                 (app.get_case(case_id_for(ref)) for ref in ("F-1", "F-3"))}
    assert described == {"F-1": "Shared a post", "F-3": '=HYPERLINK("http://evil.example")'}
    assert [r.line for r in read_rows(tmp_path / "f.xlsx")] == [2, 3, 4]


def test_xlsx_date_cells_out_of_range_are_bad_rows_without_warnings(app, tmp_path, recwarn):
    """A date serial a spreadsheet cannot hold (year 10000, or before 1900) is a bad row on its line, and
    openpyxl's warnings do not add lines to the error output."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["external_ref", *BASE])
    for number, (ref, serial) in enumerate([("D-1", 2958466), ("D-2", -5), ("D-3", 1e308)], start=2):
        sheet.append([ref, serial, *list(BASE.values())[1:]])
        sheet[f"B{number}"].number_format = "yyyy-mm-dd"
    book.save(tmp_path / "d.xlsx")
    result = import_file(app, tmp_path / "d.xlsx")
    assert [(e.line, e.message.split(":")[0]) for e in result.bad] == [(2, "reported_at"), (3, "report"),
                                                                       (4, "reported_at")]
    assert "is before 2019-01-01" in result.bad[1].message and not recwarn.list
