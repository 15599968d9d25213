"""`jejak export`: the read models and audits as CSV, Parquet and XLSX, row counts round-trip."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from projections import export as exporter
from projections.readside import ReadSide
from projections.tables import case_event, case_summary, event_chain
from entrypoints.cli import main as cli
from workflow.importer import import_file

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "import-sample.csv"


def read_back(path: Path, fmt: str) -> tuple[list[str], int]:
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        return rows[0], len(rows) - 1
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        return table.column_names, table.num_rows
    import openpyxl

    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    return list(rows[0]), len(rows) - 1


@pytest.fixture
def imported(app):
    assert import_file(app, SAMPLE).ok
    return app


@pytest.mark.parametrize("fmt", exporter.FORMATS)
def test_read_models_round_trip_row_counts(imported, tmp_path, fmt):
    read_side = ReadSide(imported)
    read_side.catch_up()
    with read_side.engine.connect() as conn:
        counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                  for t in (case_summary, case_event, event_chain)}
    assert counts["case_event"] == imported.recorder.max_notification_id()
    for name in ("case_summary", "case_event", "event_chain", "audit_trail"):
        path = tmp_path / f"{name}.{fmt}"
        written = exporter.export(imported, name, fmt, path)
        columns, rows = read_back(path, fmt)
        table = exporter._table(name)
        assert written == rows == counts[table.name]
        assert columns == [c.name for c in table.columns]


def test_parquet_keeps_types(imported, tmp_path):
    import pyarrow.parquet as pq

    exporter.export(imported, "case_event", "parquet", tmp_path / "e.parquet")
    table = pq.read_table(tmp_path / "e.parquet")
    assert str(table.schema.field("occurred_at").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("version").type) == "int64"
    assert "reporter" not in " ".join(table.column_names)


def test_empty_store_exports_a_header(app, tmp_path):
    for fmt in exporter.FORMATS:
        assert exporter.export(app, "case_summary", fmt, tmp_path / f"s.{fmt}") == 0
        columns, rows = read_back(tmp_path / f"s.{fmt}", fmt)
        assert rows == 0 and columns[0] == "case_id"


def test_cli_export_audit_and_table(capsys, tmp_path):
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert cli.main(["--db", db, "import", str(SAMPLE)]) == 0
    capsys.readouterr()
    assert cli.main(["--db", db, "export", "funnel"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("reported") or "reported" in out.splitlines()[0]
    out_file = tmp_path / "cases.xlsx"
    assert cli.main(["--db", db, "export", "case_summary", "--format", "xlsx", "--output", str(out_file)]) == 0
    _, err = capsys.readouterr()
    assert "exported 15 row(s) of case_summary" in err
    assert read_back(out_file, "xlsx")[1] == 15
    assert cli.main(["--db", db, "export", "responsiveness", "--format", "parquet", "-o",
                     str(tmp_path / "r.parquet")]) == 0
