"""Imported history is marked: every event `jejak import` writes says which file (name, SHA-256) and line it came
from; `jejak show` and the read models show it; `backdating` keeps it apart from live late recordings; no live
command can claim the marker; events of earlier versions (no marker) still load."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from entrypoints.bootstrap import open_jejak
from entrypoints.cli import main as cli
from projections import audits
from projections.audits import case_event_frame, case_summary_frame
from tests.conftest import WIB, Clock, report_fields
from tests.test_api import api  # noqa: F401 - the in-process API fixture
from tests.test_import import BASE, TO_SANCTION, write_csv
from workflow.errors import InvalidField, NotAuthorized
from workflow.importer import import_file

FIXTURE = Path(__file__).parent / "fixtures" / "jejak-v1.db"


@pytest.fixture
def imported(db_url, tmp_path):
    """A store holding two imported cases (lines 2 and 3 of the file), imported on 1 Dec 2026, and one live case
    recorded late by an officer, on the same clock."""
    path = write_csv(tmp_path / "lama.csv", [{**BASE, **TO_SANCTION, "external_ref": "A-1"},
                                             {**BASE, "external_ref": "A-2", "review_begun_at": "2024-10-03"}])
    clock = Clock(datetime(2026, 12, 1, tzinfo=WIB))
    with open_jejak(db_url, clock=clock) as app:
        result = import_file(app, path)
        assert result.ok and result.imported == 2, result.bad
        clock.at = datetime(2026, 12, 2, tzinfo=WIB)
        live = app.report("bawaslu:kab-bima", occurred_at=datetime(2026, 11, 1, tzinfo=WIB),
                          election_reason="past pemilu-2024's window: a finding may say why",
                          **report_fields(reporter_name=None, reporter_contact=None, election="pemilu-2024"))
        yield app, path, live


def test_every_imported_event_names_its_file_digest_and_line(imported):
    app, path, live = imported
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    events = case_event_frame(app)
    mine = events[events["case_id"] != str(live)]
    assert len(mine) == 7 + 2  # report + 6 steps on line 2; report + 1 step on line 3
    assert set(mine["import_file"]) == {"lama.csv"} and set(mine["import_sha256"]) == {digest}
    assert sorted(set(mine["import_line"])) == [2, 3]
    assert events[events["case_id"] == str(live)][["import_file", "import_sha256", "import_line"]].isna().all().all()
    summary = case_summary_frame(app).set_index("external_ref")
    assert summary.loc["A-2", "import_line"] == 3 and summary.loc["A-1", "import_sha256"] == digest
    # the events themselves carry it (a replay, not just the read model)
    for event in app.case_events(summary.loc["A-1", "case_id"]):
        assert event.imported_from == {"file": "lama.csv", "sha256": digest, "line": 2}
    assert all(e.imported_from is None for e in app.case_events(live))


def test_a_live_step_on_an_imported_case_is_not_marked(imported):
    app, _, _ = imported
    case_id = case_summary_frame(app).set_index("external_ref").loc["A-2", "case_id"]
    app.advance(case_id, "register", "bawaslu:kab-bima", occurred_at=datetime(2026, 12, 1, 12, tzinfo=WIB))
    assert [e.imported_from is not None for e in app.case_events(case_id)] == [True, True, False]


def test_backdating_sets_imported_history_apart(imported):
    app, _, live = imported
    default = audits.backdating(app)
    assert list(default["kind"]) == ["late_recording"] and default["case_id"].tolist() == [str(live)]
    assert default["import_file"].isna().all()
    everything = audits.backdating(app, include_imported=True)
    kinds = everything.groupby("kind").size().to_dict()
    assert kinds["late_recording"] == 1 and kinds["imported_late_recording"] == 9  # every imported event
    assert kinds["imported_out_of_order"] == 2 and "out_of_order" not in kinds  # line 3, after line 2's sanction
    imported_rows = everything[everything["kind"].str.startswith("imported_")]
    assert set(imported_rows["import_file"]) == {"lama.csv"} and imported_rows["import_line"].notna().all()


def test_cli_shows_the_origin_and_filters_backdating(imported, capsys):
    app, path, _ = imported
    case_id = case_summary_frame(app).set_index("external_ref").loc["A-2", "case_id"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    db = str(app.store)
    assert cli.main(["--db", db, "show", case_id]) == 0
    out = capsys.readouterr().out
    assert "imported_from" in out.splitlines()[0] and f"lama.csv:3 sha256:{digest[:12]}" in out
    assert cli.main(["--db", db, "show", case_id, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["imported_from"] == {"file": "lama.csv", "sha256": digest, "line": 3}
    assert cli.main(["--db", db, "audit", "backdating", "--json"]) == 0
    assert {row["kind"] for row in json.loads(capsys.readouterr().out)} == {"late_recording"}
    assert cli.main(["--db", db, "audit", "backdating", "--include-imported", "--json"]) == 0
    assert "imported_late_recording" in {row["kind"] for row in json.loads(capsys.readouterr().out)}
    assert cli.main(["--db", db, "audit", "funnel", "--include-imported"]) == 2
    assert "only for backdating" in capsys.readouterr().err


def test_no_live_command_can_claim_to_be_imported(app):
    origin = {"file": "x.csv", "sha256": "0" * 64, "line": 2}
    with pytest.raises(InvalidField, match="imported_from"):
        app.report("reporter", occurred_at=datetime(2024, 10, 1, tzinfo=WIB), imported_from=origin,
                   **report_fields())
    case_id = app.report("reporter", occurred_at=datetime(2024, 10, 1, tzinfo=WIB), **report_fields())
    with pytest.raises(InvalidField, match="imported_from"):
        app.advance(case_id, "begin_review", "bawaslu:kab-bima", occurred_at=datetime(2024, 10, 2, tzinfo=WIB),
                    imported_from=origin)
    # nor choose an era as only an import may: the old `imported` flag is just an unknown field now
    with pytest.raises(NotAuthorized, match="era"):
        app.report("reporter", occurred_at=datetime(2024, 10, 1, tzinfo=WIB), era="skb-2022",
                   era_reason="x", imported=True, **report_fields())
    assert [e.imported_from for e in app.case_events(case_id)] == [None]


def test_events_of_earlier_versions_load_unmarked(tmp_path):
    store = tmp_path / "old.db"
    shutil.copy(FIXTURE, store)
    with open_jejak(f"sqlite:///{store}") as app:
        notifications = app.recorder.select_notifications(start=1, limit=100)
        assert notifications and all(b"imported_from" not in n.state for n in notifications)  # truly old bytes
        events = [app.mapper.to_domain_event(n) for n in notifications]
        assert {e.imported_from for e in events} == {None}
        assert audits.backdating(app, include_imported=True)["import_file"].isna().all()
        assert case_event_frame(app)["import_line"].isna().all()


def test_the_api_lists_imported_history_only_when_asked(imported, api):
    client, issue, _ = api
    headers = issue("auditor")
    default = client.get("/api/v1/audits/backdating", headers=headers)
    assert default.status_code == 200 and {row["kind"] for row in default.json()} == {"late_recording"}
    asked = client.get("/api/v1/audits/backdating", params={"include_imported": "true"}, headers=headers)
    # line 3's case happened before line 2's sanction, recorded after it: imported, and out of order too
    assert {row["kind"] for row in asked.json()} == {"late_recording", "imported_late_recording",
                                                     "imported_out_of_order"}
    refused = client.get("/api/v1/audits/funnel", params={"include_imported": "true"}, headers=headers)
    assert refused.status_code == 422 and "only for backdating" in refused.json()["detail"]
