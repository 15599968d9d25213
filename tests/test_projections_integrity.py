"""Tamper evidence against whoever holds the database: SQL edits, deletions, insertions and reorderings of the
stored events, and of the write side's chain rows, are reported naming case and version."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from projections.integrity import verify
from tests.conftest import T0, TO_RECOMMENDED, new_case, report_fields, walk
from workflow.chain import CHAIN_TABLE
from workflow.errors import InvalidField
from workflow.signing import SignerKey


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
    return app  # 8 events, notification ids 1..8: case A 1..4, case B 5..8


def kinds(report) -> list[tuple[int, str]]:
    return [(p.position, p.kind) for p in report.problems]


def test_clean_log_verifies_signed_and_gives_a_digest(logged):
    report = verify(logged)
    assert report.ok and report.events == report.chained == report.signed == 8, str(report)
    assert report.head.endswith("@8")
    assert verify(logged, report.head).digest_ok is True


def test_edit_of_the_newest_event_is_detected_at_once(logged):
    """The first attack of issue 20: no read command ran between the write and the edit."""
    case = logged.advance(next(iter({e.originator_id for e in logged.recorder.select_notifications(1, 1)})),
                          "begin_examination", "bkn@rina", occurred_at=T0.replace(day=9))
    _sql(logged, "UPDATE stored_events SET state = state || x'20' WHERE notification_id = 9")
    report = verify(logged)
    assert kinds(report)[0] == (9, "edited") and report.problems[0].case_id == str(case.id)
    assert report.problems[0].version == 5


def test_sql_update_of_one_stored_event_is_detected(logged):
    digest = verify(logged).head
    _sql(logged, "UPDATE stored_events SET state = state || x'20' WHERE notification_id = 3")
    assert (3, "edited") in kinds(verify(logged))
    again = verify(logged, digest)
    assert again.digest_ok is False and any(p.kind == "digest_mismatch" for p in again.problems)


def test_sql_delete_of_one_stored_event_names_its_case(logged):
    case_b = verify(logged).problems == [] and logged.recorder.select_notifications(5, 1)[0].originator_id
    _sql(logged, "DELETE FROM stored_events WHERE notification_id = 5")
    report = verify(logged)
    assert kinds(report) == [(5, "deleted"), (6, "out_of_sequence")] and report.events == 7
    assert {p.case_id for p in report.problems} == {str(case_b)} and report.problems[0].version == 1


def test_deleting_the_tail_with_its_chain_rows_is_caught_by_a_head_kept_outside(logged):
    digest = verify(logged).head
    _sql(logged, "DELETE FROM stored_events WHERE notification_id >= 7")
    _sql(logged, f"DELETE FROM {CHAIN_TABLE} WHERE position >= 7")
    assert verify(logged).ok  # the chain left in the store is consistent: only a head kept outside shows it
    assert kinds(verify(logged, digest)) == [(8, "digest_missing")]
    # The writer remembers the head it committed (8). On SQLite the next event reuses rowid 7: the writer reads the
    # head again and the cut stays invisible to the store alone. On PostgreSQL the next is 9, which follows its
    # head: it links to the deleted row, and the cut shows.
    new_case(logged, T0.replace(hour=12))
    assert kinds(verify(logged)) == ([(9, "chain_broken")] if logged.store.is_postgres else [])


def test_reordering_two_events_is_detected(logged):
    if logged.url.get_backend_name() == "sqlite":
        _sql(logged, "UPDATE stored_events SET rowid = 100 WHERE rowid = 2")
        _sql(logged, "UPDATE stored_events SET rowid = 2 WHERE rowid = 6")
        _sql(logged, "UPDATE stored_events SET rowid = 6 WHERE rowid = 100")
    else:
        _sql(logged, "UPDATE stored_events SET notification_id = 100 WHERE notification_id = 2")
        _sql(logged, "UPDATE stored_events SET notification_id = 2 WHERE notification_id = 6")
        _sql(logged, "UPDATE stored_events SET notification_id = 6 WHERE notification_id = 100")
    found = kinds(verify(logged))
    assert (2, "reordered") in found and (6, "reordered") in found


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


def _forge_chain_row(app, position: int, signature: bool = False) -> None:
    """A chain row for the event at `position`, computed exactly as the writer would, without the writer's key
    (or signed by another key): what an administrator can do."""
    from workflow.chain import ChainWriter

    writer = app.recorder.chain
    forger = ChainWriter(writer.postgres, app.recorder.datastore.schema if writer.postgres else "public",
                         app.recorder.events_table_name)
    forger.signer = SignerKey.generate("forger") if signature else None
    with app.recorder.datastore.transaction(commit=True) as cursor:
        forger.append_after(cursor, position - 1)


def test_a_forged_event_appended_by_sql_is_detected_with_or_without_a_forged_chain_row(logged):
    """A well-formed next version of case B (a copy of its last event) at the end of the log."""
    digest = verify(logged).head
    _copy_row(logged, 8, version=5)
    report = verify(logged, digest)
    assert kinds(report) == [(9, "inserted"), (9, "rule_violation")] and report.digest_ok
    assert report.problems[0].version == 5
    _forge_chain_row(logged, 9)
    assert kinds(verify(logged)) == [(9, "rule_violation"), (9, "unsigned")]
    _sql(logged, f"DELETE FROM {CHAIN_TABLE} WHERE position = 9")
    _forge_chain_row(logged, 9, signature=True)
    assert kinds(verify(logged)) == [(9, "bad_signature"), (9, "rule_violation"), (9, "unsigned")]


def test_a_forged_tail_with_a_rebuilt_chain_is_detected(logged):
    """Tail cut, another event forged in its place, the chain rows rebuilt from there (without the key)."""
    _sql(logged, "DELETE FROM stored_events WHERE notification_id = 8")
    _sql(logged, f"DELETE FROM {CHAIN_TABLE} WHERE position = 8")
    _copy_row(logged, 7, position=8, version=4, topic_of=4)  # case B v4: another step than the real one
    _forge_chain_row(logged, 8)
    assert (8, "unsigned") in kinds(verify(logged))


def test_a_chain_rebuilt_after_an_edit_is_detected(logged):
    _sql(logged, "UPDATE stored_events SET state = state || x'20' WHERE notification_id = 3")
    _sql(logged, f"DELETE FROM {CHAIN_TABLE} WHERE position >= 3")
    _forge_chain_row(logged, 3)
    found = kinds(verify(logged))
    assert [k for k in found if k[1] == "unsigned"] == [(p, "unsigned") for p in range(3, 9)]


def test_a_forged_event_the_chain_never_saw_must_be_its_case_next(logged):
    _copy_row(logged, 3, version=9)  # case A has versions 1..4: v9 cannot follow v4
    report = verify(logged)
    assert kinds(report) == [(9, "inserted"), (9, "out_of_sequence")]
    assert "follows v4" in report.problems[1].detail and report.problems[1].version == 9


def test_a_case_that_does_not_begin_with_its_report_is_reported(logged):
    _copy_row(logged, 2, version=1, case_of_new=True)  # a new case whose first event is a review
    assert [p.kind for p in verify(logged).problems] == ["inserted", "not_a_report"]


def test_a_row_forged_below_the_first_id_is_found(logged):
    _copy_row(logged, 3, position=-5, version=7)
    assert (-5, "inserted") in kinds(verify(logged))


def test_unsigned_mode_is_reported_and_a_signed_store_checks_with_the_public_key_alone(logged):
    from tests.conftest import WRITER_KEY

    report = verify(logged, writer_keys=[])
    assert report.ok and report.signed is None and report.signature_rows == 8 and "NOT checked" in str(report)
    logged.recorder.chain.signer = None  # a writer without a key from here on
    new_case(logged, T0.replace(hour=12))
    assert kinds(verify(logged)) == [(9, "unsigned")]
    unsigned = verify(logged, writer_keys=[])
    assert unsigned.ok and "NOT checked" in str(unsigned)
    assert verify(logged, writer_keys=[WRITER_KEY.verifier]).signed == 8  # of 9 rows
    stranger = SignerKey.generate("stranger").verifier
    assert {p.kind for p in verify(logged, writer_keys=[stranger]).problems} == {"bad_signature", "unsigned"}


def test_a_store_written_without_a_key_is_in_unsigned_mode(db_url):
    from entrypoints.bootstrap import open_jejak

    with open_jejak(db_url, signer=False) as app:
        new_case(app)
        report = verify(app)
    assert report.ok and report.signed is None and report.signature_rows == 0 and "UNSIGNED MODE" in str(report)


@pytest.mark.parametrize("tamper", ["UPDATE stored_events SET state = state || x'20' WHERE notification_id = 3",
                                    "DELETE FROM stored_events WHERE notification_id = 3"])
def test_jejak_verify_exits_1_naming_the_position_and_case(logged, tamper, capsys):
    from entrypoints.cli.main import main

    db = str(logged.store)
    assert main(["--db", db, "verify"]) == 0
    _sql(logged, tamper)
    assert main(["--db", db, "verify"]) == 1
    out = capsys.readouterr().out
    assert "TAMPERING" in out and "position 3:" in out and " v3:" in out


def test_bulk_paths_chain_and_sign_in_their_transactions(app):
    """`jejak import` (SQLite executemany, PostgreSQL COPY) and `record_cases` (the demo's path): every event
    chained and covered by a signature, with nothing to catch up."""
    from pathlib import Path

    from workflow.importer import import_file

    result = import_file(app, Path(__file__).resolve().parents[1] / "examples" / "import-sample.csv")
    assert result.written and not result.bad
    cases = [app.new_case("reporter", occurred_at=T0, **report_fields())
             for _ in range(3)]
    app.record_cases(*cases)
    report = verify(app)
    assert report.ok and report.events == report.chained == report.signed > 3, str(report)


def test_a_store_written_before_the_chain_is_chained_by_its_first_write(db_url):
    """Events stored by an earlier version (eventsourcing's plain recorder, no chain) are chained and signed, in
    the transaction of the first write after the upgrade."""
    from entrypoints.bootstrap import open_jejak

    plain = ("eventsourcing.postgres:PostgresApplicationRecorder" if db_url.startswith("postgresql")
             else "eventsourcing.sqlite:SQLiteApplicationRecorder")
    with open_jejak(db_url, env={"APPLICATION_RECORDER_TOPIC": plain}) as old:
        walk(old, new_case(old), TO_RECOMMENDED[:2])
    with open_jejak(db_url) as app:
        assert kinds(verify(app)) == [(1, "inserted"), (2, "inserted"), (3, "inserted")]  # not chained yet
        new_case(app, T0.replace(hour=11))
        report = verify(app)
        assert report.ok and report.events == report.chained == report.signed == 4, str(report)
