"""Helpers shared by the tests/test_workflow_*.py suites (not fixtures: plain functions)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.conftest import T0, report_fields
from workflow.application import Jejak

# Triggers that never change a case's state and stay possible on a closed case.
HOUSEKEEPING = {"erase_reporter", "unblock_personnel_data"}


def new_finding(app: Jejak, at: datetime = T0, actor: str = "bawaslu:kab-bima", **overrides):
    """A case found by Bawaslu itself (temuan): no reporter, so no reporter data to erase later."""
    return app.report(actor, occurred_at=at, **report_fields(reporter_name=None, reporter_contact=None, **overrides))


def day(n: int, hour: int = 9) -> datetime:
    """T0 moved by n days (same WIB offset), at the given hour."""
    return (T0 + timedelta(days=n)).replace(hour=hour)


def store_snapshot(app: Jejak, case_id=None):
    """What the store holds, read back from the store itself (not from any object in memory)."""
    events = None
    if case_id is not None:
        events = [(e.originator_version, type(e).__name__, e.state, e.occurred_at)
                  for e in app.case_events(case_id)]
    return app.recorder.max_notification_id(), events


def refused(app: Jejak, case_id, exc: type[Exception], match: str | None, action):
    """Run `action`, expect it refused with `exc`, and check that the store did not change at all."""
    before = store_snapshot(app, case_id)
    with pytest.raises(exc, match=match) as info:
        action()
    assert store_snapshot(app, case_id) == before, "a refused command wrote something"
    return info.value


def triggers_of(app: Jejak, case_id) -> list[str]:
    return [e.trigger for e in app.case_events(case_id)]
