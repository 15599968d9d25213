"""Stored events written by an earlier version still load: `SanctionImposed` v1 had no `decree_date`.

`tests/fixtures/jejak-v1.db` was written by Jejak before v2 of that event (3 cases, 2 sanctioned) and is
never modified: each test works on a copy.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

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
        assert b'"decree_date"' in newest.state and b'"class_version":2' in newest.state.replace(b" ", b"")
