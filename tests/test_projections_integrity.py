"""Tamper evidence: a direct SQL UPDATE, DELETE, insertion or reordering on stored_events is reported."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from projections.integrity import verify
from projections.readside import ReadSide
from tests.conftest import T0, TO_RECOMMENDED, new_case, walk
from workflow.errors import InvalidField


def _sql(app, statement: str) -> None:
    """Run SQL on the events table behind the application's back."""
    url = app.url
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(url.database) as conn:
            conn.execute(statement.replace("notification_id", "rowid"))
        return
    dsn = f"host={url.host or '127.0.0.1'} port={url.port or 5432} dbname={url.database} " \
          f"user={url.username or 'postgres'}" + (f" password={url.password}" if url.password else "")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement.replace("stored_events", app.recorder.events_table_name)
                     .replace("x'20'", "'\\x20'::bytea"))


@pytest.fixture
def logged(app):
    for hours in (0, 1):
        case_id = new_case(app, T0.replace(hour=9 + hours))
        walk(app, case_id, TO_RECOMMENDED[:3], start=T0.replace(hour=9 + hours))
    ReadSide(app).catch_up()  # the chain projection has seen them
    return app  # 8 events, notification ids 1..8


def test_clean_log_verifies_and_gives_a_digest(logged):
    report = verify(logged)
    assert report.ok and report.events == report.chained == 8
    assert report.head.endswith("@8")
    assert verify(logged, report.head).digest_ok is True


def test_sql_update_of_one_stored_event_is_detected(logged):
    digest = verify(logged).head
    _sql(logged, "UPDATE stored_events SET state = state || x'20' WHERE notification_id = 3")
    report = verify(logged)
    assert not report.ok
    assert [(p.position, p.kind) for p in report.problems] == [(3, "edited")]
    again = verify(logged, digest)
    assert again.digest_ok is False and any(p.kind == "digest_mismatch" for p in again.problems)


def test_sql_delete_of_one_stored_event_is_detected(logged):
    _sql(logged, "DELETE FROM stored_events WHERE notification_id = 5")
    report = verify(logged)
    assert [(p.position, p.kind) for p in report.problems] == [(5, "deleted")]
    assert report.events == 7


def test_deleting_the_last_event_is_caught_by_the_digest(logged):
    digest = verify(logged).head
    _sql(logged, "DELETE FROM stored_events WHERE notification_id = 8")
    report = verify(logged, digest)
    kinds = {(p.position, p.kind) for p in report.problems}
    assert (8, "deleted") in kinds and (8, "digest_missing") in kinds


def test_reordering_two_events_is_detected(logged):
    if logged.url.get_backend_name() == "sqlite":
        _sql(logged, "UPDATE stored_events SET rowid = 100 WHERE rowid = 2")
        _sql(logged, "UPDATE stored_events SET rowid = 2 WHERE rowid = 6")
        _sql(logged, "UPDATE stored_events SET rowid = 6 WHERE rowid = 100")
    else:
        _sql(logged, "UPDATE stored_events SET notification_id = 100 WHERE notification_id = 2")
        _sql(logged, "UPDATE stored_events SET notification_id = 2 WHERE notification_id = 6")
        _sql(logged, "UPDATE stored_events SET notification_id = 6 WHERE notification_id = 100")
    report = verify(logged)
    assert [(p.position, p.kind) for p in report.problems] == [(2, "reordered"), (6, "reordered")]


def test_inserted_event_is_detected(logged):
    if logged.url.get_backend_name() == "sqlite":
        _sql(logged, "DELETE FROM stored_events WHERE rowid = 4")
        _sql(logged, "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
                     "SELECT 4, originator_id, 99, topic, state FROM stored_events WHERE rowid = 3")
    else:
        _sql(logged, "DELETE FROM stored_events WHERE notification_id = 4")
        _sql(logged, "INSERT INTO stored_events (notification_id, originator_id, originator_version, topic, state) "
                     "SELECT 4, originator_id, 99, topic, state FROM stored_events WHERE notification_id = 3")
    kinds = [(p.position, p.kind) for p in verify(logged).problems]
    assert kinds == [(4, "edited")]  # another event now sits at position 4
    _sql(logged, "DELETE FROM stored_events WHERE notification_id = 4")
    assert [(p.position, p.kind) for p in verify(logged).problems] == [(4, "deleted")]


def test_bad_digest_is_a_user_error(logged):
    with pytest.raises(InvalidField):
        verify(logged, "nothex@1")
