"""A guard on the read side's growth: no statement a catch-up issues reads `case_event` or `case_summary` whole.

A catch-up's lookups (the state before an event, the summary rows a page folds on) must cost in proportion to
the page, never to the store: one sequential scan a page makes a catch-up's total cost grow with the square of
the store (issue 23: 172k events took 66 s, 519k took 999 s). This is a plan check, not a timing: the
statements of a real catch-up are recorded and each is explained by the database itself (PostgreSQL's
``EXPLAIN (FORMAT JSON)`` after ``ANALYZE``, SQLite's ``EXPLAIN QUERY PLAN``), on a store whose cases interleave
as live commands write them (the calibrated demo: events in time order).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import event

from entrypoints.bootstrap import open_jejak
from projections.catchup import catch_up, catch_up_page, plan_as_lookups
from projections.readside import ReadSide
from demo import generator

WATCHED = {"case_event", "case_summary"}
LOG = "jejak_events"  # read by the statement that makes case_event in PostgreSQL (projections.case_event_sql)
LAST_PAGE = 2000  # the events of the last weeks: many cases that began in earlier pages


def _recorded_statements(read_side: ReadSide, action) -> list[tuple[str, object]]:
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not executemany:
            statements.append((statement, parameters))

    event.listen(read_side.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(read_side.engine, "before_cursor_execute", record)
    return statements


def _postgres_scans(plan: dict) -> list[str]:
    """Nodes that read a watched table whole: a sequential scan (which PostgreSQL plans, even when told not to,
    for a statement no index can serve), or an index scan with no condition; and any read of the log but an
    index scan (in log order, stopping at the page's end: a bitmap scan reads every event after the page)."""
    found = []
    relation = plan.get("Relation Name")
    kind = plan.get("Node Type", "")
    if relation in WATCHED:
        if "Seq Scan" in kind or (kind.startswith("Index") and "Index Cond" not in plan):
            found.append(f"{kind} on {relation}")
    elif relation == LOG and not (kind.startswith("Index") and "Index Cond" in plan):
        found.append(f"{kind} on {relation}")
    for child in plan.get("Plans", []):
        found += _postgres_scans(child)
    return found


def _sqlite_scans(rows) -> list[str]:
    # EXPLAIN QUERY PLAN says "SCAN table" for a full scan, "SEARCH table USING INDEX …" for a lookup
    return [row[3] for row in rows if row[3].split()[:2] in (["SCAN", name] for name in WATCHED)]


def _explained_scans(read_side: ReadSide, statements) -> tuple[list[str], int]:
    scans, explained = [], 0
    with read_side.engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.exec_driver_sql("ANALYZE case_event")
            conn.exec_driver_sql("ANALYZE case_summary")
        plan_as_lookups(conn)  # as a catch-up's transaction plans them
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith(("SELECT", "DELETE", "UPDATE", "WITH")):
                continue
            explained += 1
            if postgres:
                [[plan]] = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).all()
                plan = plan if isinstance(plan, list) else json.loads(plan)
                found = _postgres_scans(plan[0]["Plan"])
            else:
                found = _sqlite_scans(conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all())
            scans += [f"{text}: {statement[:160]}" for text in found]
        conn.rollback()
    return scans, explained


def test_a_catch_up_of_interleaved_cases_looks_rows_up_by_index(db_url):
    with open_jejak(db_url, clock=generator.DemoClock()) as app:
        generator.generate(app, "pilkada-2020", seed=5, scale=1, progress=False)  # ~12k events of ~2k cases
        events = app.recorder.max_notification_id()
        read_side = ReadSide(app)
        catch_up_page(app, read_side.engine, read_side.projectors, page_size=events - LAST_PAGE)
        fresh = ReadSide(app)  # a new process: nothing remembered from the catch-up above
        # two pages, each committed on time: the summary rows read in the first are kept past its commit and
        # replaced by case id when the log ends
        statements = _recorded_statements(
            fresh, lambda: catch_up(app, fresh.engine, fresh.projectors, page_size=LAST_PAGE // 2, batch_seconds=0))
        assert any("state_after" in s for s, _ in statements), "the state lookup was not exercised"
        assert any("case_summary" in s and "case_id" in s for s, _ in statements)
        assert any(s.startswith("DELETE FROM case_summary WHERE") and "case_id" in s for s, _ in statements)
        in_database = any("INSERT INTO case_event" in s for s, _ in statements)
        assert in_database == (read_side.engine.dialect.name == "postgresql")  # where PostgreSQL makes its rows
        # and there the Python side folds those rows (projections.case_event_feed), read back as a page of them
        assert any("FROM case_event WHERE notification_id >" in s for s, _ in statements) == in_database
        scans, explained = _explained_scans(fresh, statements)
    assert explained >= 3
    assert scans == []


@pytest.mark.parametrize("statement", [
    "SELECT case_id FROM case_event WHERE note = 'x'",  # an unindexed column: read whole
    "SELECT count(*) FROM case_summary",
])
def test_the_guard_sees_a_full_scan(db_url, statement):
    """The check itself can fail: a statement that must read a whole table is reported."""
    with open_jejak(db_url) as app:
        read_side = ReadSide(app)
        read_side.catch_up()
        scans, explained = _explained_scans(read_side, [(statement, {} if read_side.engine.dialect.name ==
                                                           "postgresql" else ())])
    assert explained == 1 and len(scans) == 1



@pytest.mark.postgres
def test_the_log_is_read_bounded_below_only_and_in_order_from_its_index(pg_db_url, monkeypatch):
    """The Python side reads the log through eventsourcing's recorder, in sessions of its own (not planned by
    `plan_as_lookups`), where PostgreSQL does not make `case_event` (a ciphered store, or `in_database=False`). Bounded at both ends (``notification_id > a AND notification_id <= b``), PostgreSQL plans a
    page by its estimate of the range, and on a log grown since its statistics were taken it read every event after
    the page and sorted them on disk (50× store: 1.2 s a page against 8 ms; a catch-up from zero then grows as the
    square of the store). A small test store does not mislead the planner, so this checks the statement's form
    too: bounded below only, which an index scan answers by stopping at the page's end."""
    import psycopg

    ran = []
    execute = psycopg.Cursor.execute

    def record(cursor, query, params=None, **kwargs):
        text = query if isinstance(query, str) else query.as_string(cursor.connection)
        if "jejak_events" in text and "ORDER BY notification_id" in text:
            ran.append((text, params))
        return execute(cursor, query, params, **kwargs)

    with open_jejak(pg_db_url, clock=generator.DemoClock()) as app:
        generator.generate(app, "pilkada-2020", seed=5, scale=0.3, progress=False)
        read_side = ReadSide(app, page_size=1000, batch_seconds=0, in_database=False)
        monkeypatch.setattr(psycopg.Cursor, "execute", record)
        read_side.catch_up()
        monkeypatch.undo()
    reads = [(text, params) for text, params in ran if "INSERT" not in text]  # not PostgreSQL's own projectors
    assert len(reads) > 3, "the log's reads were not seen"
    assert [text for text, _ in reads if "notification_id <=" in text] == []
    with psycopg.connect(pg_db_url) as conn:
        for text, params in reads:
            [[plan]] = conn.execute("EXPLAIN (FORMAT JSON) " + text, params).fetchall()
            assert _postgres_scans(plan[0]["Plan"]) == [], text
