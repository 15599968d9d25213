"""Stored events written by an earlier version still load: `SanctionImposed` v1 had no `decree_date`,
`Reported` v1 no filing deadline, and no event before this version said whether it was imported
(`imported_from`; see also tests/test_imported_history.py).

`tests/fixtures/jejak-v1.db` was written by Jejak before v2 of that event (3 cases, 2 sanctioned) and is
never modified: each test works on a copy.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from workflow.application import Jejak
from tests.conftest import WIB

FIXTURE = Path(__file__).parent / "fixtures" / "jejak-v1.db"


def test_v1_events_load_through_the_upcaster(tmp_path):
    store = tmp_path / "old.db"
    shutil.copy(FIXTURE, store)
    with Jejak(f"sqlite:///{store}") as app:
        notifications = app.recorder.select_notifications(start=1, limit=100)
        imposed = [n for n in notifications if n.topic.endswith("SanctionImposed")]
        assert len(imposed) == 2 and all(b"decree_date" not in n.state for n in imposed)  # truly v1 bytes
        events = [app.mapper.to_domain_event(n) for n in imposed]
        assert [e.decree_date for e in events] == [None, None]
        case = app.get_case(events[0].originator_id)
        assert case.state == "sanctioned" and case.sanction["decree_date"] is None
        assert case.sanction["decree_number"].startswith("800/")

        # the old store keeps working: a new sanction is recorded as v2 beside the old v1 events
        [open_case] = {n.originator_id for n in notifications} - {e.originator_id for e in events}
        app.advance(open_case, "impose_sanction", "ppk:pemkab-bima",
                    occurred_at=datetime(2024, 10, 20, tzinfo=WIB), sanction="written_reprimand",
                    decree_number="800/9/2024", decree_date="2024-10-19")
        assert app.get_case(open_case).sanction["decree_date"] == "2024-10-19"
        newest = app.recorder.select_notifications(start=1, limit=100)[-1]
        assert b'"decree_date"' in newest.state and b'"class_version":3' in newest.state.replace(b" ", b"")
        assert app.mapper.to_domain_event(newest).imported_from is None  # v3: recorded live


def test_reporter_data_recorded_in_clear_reads_and_refuses_erasure_clearly(tmp_path, capsys):
    """The fixture predates sealing: its report events hold the reporter in clear. That data is read as it is,
    and erasure is refused with the reason (no key to destroy; the history is not rewritten), not a crash."""
    from entrypoints.cli.main import main
    from workflow.errors import IllegalTransition

    store = tmp_path / "old.db"
    shutil.copy(FIXTURE, store)
    with Jejak(f"sqlite:///{store}") as app:
        reports = [n for n in app.recorder.select_notifications(start=1, limit=100) if n.topic.endswith("Reported")]
        case_id = reports[0].originator_id
        assert b'"sealed"' not in reports[0].state and b"filing_due_at" not in reports[0].state  # v1 bytes
        assert app.get_case(case_id).filing_due_at is None  # Reported v1 upcast: no filing deadline decided
        assert app.reporter(case_id)["name"]
        with pytest.raises(IllegalTransition, match="recorded in clear"):
            app.advance(case_id, "erase_reporter", "bawaslu:kab-bima")
        version = app.get_case(case_id).version
    assert main(["--db", f"sqlite:///{store}", "erase-reporter", str(case_id), "--as", "bawaslu:kab-bima"]) == 2
    assert "recorded in clear" in capsys.readouterr().err
    with Jejak(f"sqlite:///{store}") as app:
        assert app.get_case(case_id).version == version
