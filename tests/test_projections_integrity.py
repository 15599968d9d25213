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


def _copy_row(app, source: int, *, position: int | None = None, version: int, topic_of: int | None = None,
              case_of_new: bool = False) -> None:
    """Insert a forged row copied from the one at `source` (SQLite rowid / PostgreSQL notification_id)."""
    key = "rowid" if app.url.get_backend_name() == "sqlite" else "notification_id"
    columns = "originator_id, originator_version, topic, state"
    origin = "'00000000-0000-4000-8000-000000000001'" if case_of_new else "originator_id"
    if case_of_new and app.url.get_backend_name() == "sqlite":
        origin = "'00000000000040008000000000000001'"  # eventsourcing stores hex on SQLite
    topic = f"(SELECT topic FROM stored_events WHERE {key} = {topic_of})" if topic_of else "topic"
    where = f"FROM stored_events WHERE {key} = {source}"
    if position is None:
        _sql(app, f"INSERT INTO stored_events ({columns}) SELECT {origin}, {version}, {topic}, state {where}")
    else:
        _sql(app, f"INSERT INTO stored_events ({key}, {columns}) SELECT {position}, {origin}, {version}, "
                  f"{topic}, state {where}")


def test_a_forged_event_the_chain_sees_first_must_be_its_case_next(logged):
    _copy_row(logged, 3, version=9)  # case A has versions 1..4: v9 cannot follow v4
    report = verify(logged)
    assert [p.kind for p in report.problems] == ["out_of_sequence"] and report.newly_chained == 1
    assert "v9 follows v4" in report.problems[0].detail


def test_a_case_that_does_not_begin_with_its_report_is_reported(logged):
    _copy_row(logged, 2, version=1, case_of_new=True)  # a new case whose first event is a review
    assert [p.kind for p in verify(logged).problems] == ["not_a_report"]


def test_a_row_forged_below_the_first_id_is_found(logged):
    _copy_row(logged, 3, position=-5, version=7)
    kinds = [(p.position, p.kind) for p in verify(logged).problems]
    assert kinds == [(-5, "inserted")]


def test_a_well_formed_event_at_the_end_is_only_vouched_for_from_now_on(logged):
    """The limit of a chain: the next version of a case, forged at the end of the log, looks like a real
    event; verify says it chained it for the first time, and a digest published before still holds."""
    digest = verify(logged).head
    _copy_row(logged, 4, version=5)
    report = verify(logged, digest)
    assert report.ok and report.newly_chained == 1 and report.digest_ok
    assert verify(logged).newly_chained == 0


@pytest.mark.parametrize("tamper", ["UPDATE stored_events SET state = state || x'20' WHERE notification_id = 3",
                                    "DELETE FROM stored_events WHERE notification_id = 3"])
def test_jejak_verify_exits_1_naming_the_position(logged, tamper, capsys):
    from entrypoints.cli.main import main

    db = str(logged.store)
    assert main(["--db", db, "verify"]) == 0
    _sql(logged, tamper)
    assert main(["--db", db, "verify"]) == 1
    out = capsys.readouterr().out
    assert "TAMPERING" in out and "position 3:" in out
