"""Audit tables for people (projections.formatting): what `jejak audit` prints and notebooks style, while the
data keep their raw values."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd

from entrypoints.cli.main import main
from projections.formatting import for_people, styled

WIB = ZoneInfo("Asia/Jakarta")


def test_counts_rates_days_local_times_and_deadlines_at_midnight():
    frame = pd.DataFrame({
        "received": pd.array([2034, 5], dtype="int64"), "follow_up_rate": [0.959685, None],
        "median_days": [602.551944, 3.0], "reported": [2034.0, None],
        "due_at": pd.to_datetime(["2024-10-14T17:00Z", "2024-10-14T05:30:15.123456Z"], format="ISO8601"),  # 00:00, 12:30 WIB
        "recorded_at": pd.to_datetime(["2024-10-14T05:30:15.123456Z", None], format="ISO8601"), "marked": [True, False]})
    shown = for_people(frame, WIB)
    assert shown.iloc[0].tolist() == ["2,034", "96.0%", "602.6", "2,034", "2024-10-14 24:00", "2024-10-14 12:30",
                                      "yes"]
    assert shown.iloc[1].tolist() == ["5", "–", "3.0", "–", "2024-10-14 12:30", "–", "no"]
    html = styled(frame, WIB).to_html()
    assert "96.0%" in html and "0.959685" not in html
    assert frame["follow_up_rate"].iloc[0] == 0.959685  # the data keep the raw value


def test_jejak_audit_prints_due_times_in_local_time(app, capsys):
    from tests.conftest import TO_RECOMMENDED, new_case, walk

    walk(app, new_case(app), TO_RECOMMENDED)
    assert main(["--db", str(app.url), "audit", "overdue", "--now", "2024-12-01T00:00+07:00"]) == 0
    out = capsys.readouterr().out
    due = app.get_case(_only_case(app)).due_at.astimezone(WIB)
    assert f"{(due - pd.Timedelta(days=1)):%Y-%m-%d} 24:00" in out and "+00:00" not in out


def _only_case(app):
    from projections.readside import ReadSide

    return ReadSide(app).cases()[0]["case_id"]


def test_jejak_cases_prints_times_in_local_time(app, capsys, monkeypatch):
    from tests.conftest import new_case

    new_case(app)  # reported at 09:00 WIB
    monkeypatch.setenv("JEJAK_TZ", "Asia/Jakarta")
    assert main(["--db", str(app.url), "cases"]) == 0
    assert "2024-10-01T09:00+07:00" in capsys.readouterr().out
    monkeypatch.setenv("JEJAK_TZ", "Asia/Jayapura")
    assert main(["--db", str(app.url), "cases"]) == 0
    assert "2024-10-01T11:00+09:00" in capsys.readouterr().out
