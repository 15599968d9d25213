"""`case_event` made by PostgreSQL (projections.case_event_sql) is the same read model as the Python projector's:
the two paths, on one store holding every kind of event (both legal eras and the handover, imports, year-1 times
and their corrections), make the same rows, whole or page by page."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from demo.generator import generate
from entrypoints.bootstrap import open_jejak
from projections.case_event import CaseEventProjector
from projections.case_event_sql import CaseEventInDatabase, UnreadableEvents, _parameters, usable
from projections.event_chain_sql import EventChainInDatabase
from projections import catchup
from projections.catchup import catch_up_in_database
from projections.readside import ReadSide
from projections.tables import case_event, case_summary, event_chain, projection_position
from tests.conftest import PG_ADMIN, TO_RECOMMENDED, new_case, walk
from tests.test_dates_within_reason import BIMA, FIXED, old_store
from tests.test_handover import _at, _kasn_case
from tests.test_import import BASE, TO_SANCTION, write_csv
from workflow.case import EVENT_FOR_TRIGGER, Case
from workflow.definitions import ERAS
from workflow.errors import InvalidField
from workflow.importer import import_file


def test_upcasts_only_add_null_fields():
    """A missing JSON key reads as null in PostgreSQL: the in-database path upcasts nothing, which is right only
    while every upcast adds fields as None. An upcast that computes a value must be mirrored there first."""
    upcasts = [(cls, name) for cls in {Case.Event, *EVENT_FOR_TRIGGER.values()} for name in vars(cls)
               if name.startswith("upcast_")]
    assert upcasts
    for cls, name in upcasts:
        state: dict = {}
        getattr(cls, name)(state)
        assert state and set(state.values()) == {None}, f"{cls.__name__}.{name} sets {state}"


def test_the_rules_handed_over_follow_the_eras_loaded(monkeypatch):
    """An era added while the process runs (an era file) reaches the statement, as it reaches the Python path."""
    assert "later-era" not in _parameters()["sev_eras"]
    monkeypatch.setitem(ERAS, "later-era", ERAS["skb-2022"])
    assert "later-era" in _parameters()["sev_eras"] and "later-era" in _parameters()["ho_eras"]


def test_sqlite_takes_the_python_path(tmp_path):
    with open_jejak(f"sqlite:///{tmp_path / 'j.db'}") as app:
        assert not usable(app)
        assert isinstance(ReadSide(app).projectors[1], CaseEventProjector)
        with pytest.raises(InvalidField, match="this one is projected in Python"):
            ReadSide(app, in_database=True)


def _rows(read_side: ReadSide) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """`case_event`'s rows and the chain copy's, in log order, and `case_summary`'s (folded from `case_event`'s rows
    on the in-database path, projections.case_event_feed)."""
    with read_side.engine.connect() as conn:
        return tuple([tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))]
                     for table in (case_event, event_chain, case_summary))


@pytest.mark.postgres
def test_both_paths_make_the_same_rows(pg_db_url, monkeypatch, tmp_path):
    with open_jejak(pg_db_url) as app:
        assert usable(app)
        generate(app, "all", seed=1, scale=0.05, progress=False)  # both eras, the handover to BKN, departures…
        _, attacked, imported = old_store(app, monkeypatch)  # year-1 times
        import_file(app, write_csv(tmp_path / "cases.csv", [{**BASE, **TO_SANCTION}]))
        rejected = new_case(app)
        walk(app, rejected, TO_RECOMMENDED[:4] + [("return_to_bawaslu", "bkn", {}), *TO_RECOMMENDED[2:4],
                                                  ("reject", "bkn", {})])
        app.advance(rejected, "erase_reporter", BIMA, note="the reporter asked")
        handed_over = _kasn_case(app)  # KASN's era, recommended by BKN after KASN ceased to act
        app.advance(handed_over, "begin_examination", "kasn", occurred_at=_at(8, 28))
        app.advance(handed_over, "recommend", "bkn", occurred_at=_at(10, 5), track="discipline",
                    sanction="written_reprimand")
        # the two paths share the table: each one's rows are read before the other rebuilds it
        python, in_database = ReadSide(app, in_database=False), ReadSide(app, in_database=True)
        assert isinstance(in_database.projectors[1], CaseEventInDatabase)
        assert isinstance(in_database.projectors[2], EventChainInDatabase)
        python.rebuild(chain=True)
        expected = _rows(python)
        assert any(row[28] for row in expected[0]), "no year-1 time"  # shown as recorded, stated kept as text
        in_database.rebuild(chain=True)
        assert _rows(in_database) == expected
        app.advance(attacked, "correct_date", BIMA, version=1, to=FIXED, note="typo")
        for version in range(6, 0, -1):  # the latest first: a history does not go backwards
            app.advance(imported, "correct_date", BIMA, version=version, to=FIXED + timedelta(days=version),
                        note="typo")
        in_database.catch_up()  # the corrections patch rows caught up before
        caught_up = _rows(in_database)
        python.rebuild(chain=True)
        expected = _rows(python)
        kinds = {row[4] for row in expected[0]}
        assert kinds == {cls.__name__ for cls in EVENT_FOR_TRIGGER.values()}, "the store misses an event class"
        assert any(row[-1] for row in expected[0]), "no act under the era's handover"
        assert any(row[-4] for row in expected[0]), "no imported event"
        assert caught_up == expected
        paged = ReadSide(app, in_database=True, page_size=7)  # state before and corrections across pages
        paged.rebuild(chain=True)
        assert _rows(paged) == expected
        with paged.engine.begin() as conn:  # `case_summary` folded again from rows later corrections patched
            conn.execute(case_summary.delete())
            conn.execute(projection_position.update().where(projection_position.c.projection == "case_summary")
                         .values(position=0))
        assert paged.catch_up() == len(expected[0])
        assert _rows(paged) == expected

@pytest.mark.postgres
def test_a_ciphered_store_takes_the_python_path(pg_db_url, monkeypatch):
    """PostgreSQL cannot read events it holds only as ciphertext (JEJAK_CIPHER_KEY): they are decoded here."""
    from eventsourcing.cryptography import AESCipher

    monkeypatch.setenv("JEJAK_CIPHER_KEY", AESCipher.create_key(32))
    with open_jejak(pg_db_url) as app:
        case_id = new_case(app)
        assert not usable(app)
        read_side = ReadSide(app)
        assert isinstance(read_side.projectors[1], CaseEventProjector)
        assert read_side.catch_up() == 1
        assert [row["case_id"] for row in read_side.cases()] == [str(case_id)]


@pytest.mark.postgres
def test_an_unknown_topic_is_refused_and_nothing_is_written(pg_db_url):
    with open_jejak(pg_db_url) as app:
        new_case(app)
        read_side = ReadSide(app)
        read_side.catch_up()
        with read_side.engine.begin() as conn:  # an event of a class this version does not know
            conn.exec_driver_sql("UPDATE jejak_events SET topic = 'workflow.case:Case.Unheard' "
                                 "WHERE notification_id = 1")
            conn.exec_driver_sql("TRUNCATE case_event")
            conn.exec_driver_sql("UPDATE projection_position SET position = 0 WHERE projection = 'case_event'")
        with pytest.raises(UnreadableEvents, match="Case.Unheard"):
            catch_up_in_database(read_side.engine, [read_side.projectors[1]])
        with read_side.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(case_event)).scalar_one() == 0


@pytest.mark.postgres
def test_a_failed_catch_up_stops_the_database_side_after_its_page(pg_db_url, monkeypatch):
    """When the Python side fails (or Ctrl-C interrupts it), PostgreSQL's side ends after the page it is on instead
    of going on through the whole backlog before the error is seen. (The Python side folds the pages PostgreSQL's
    side has committed, so it fails on the first page, and that side's next pages wait for the failure.)"""
    from projections.case_summary import CaseSummaryProjector

    with open_jejak(pg_db_url) as app:
        for _ in range(8):
            walk(app, new_case(app), TO_RECOMMENDED)  # 48 events: 12 pages
        read_side = ReadSide(app, page_size=4)
        failed = threading.Event()
        project = CaseEventInDatabase.project

        def pages_after_the_first_wait_for_the_failure(self, conn, after, until, limit):
            if after:
                assert failed.wait(10)
            return project(self, conn, after, until, limit)

        def dying(self, conn, events):
            failed.set()
            raise KeyboardInterrupt

        monkeypatch.setattr(CaseEventInDatabase, "project", pages_after_the_first_wait_for_the_failure)
        monkeypatch.setattr(CaseSummaryProjector, "apply", dying)
        with pytest.raises(KeyboardInterrupt):
            read_side.catch_up()
        with read_side.engine.connect() as conn:
            made = conn.execute(select(func.count()).select_from(case_event)).scalar_one()
        # the first page, the one it was on when the failure came, and at most one begun before it was told
        assert 8 <= made <= 12


@pytest.mark.postgres
def test_progress_follows_the_slower_side(pg_db_url, monkeypatch):
    """`jejak project`'s bar is told of what both sides have applied: while the Python side lags, PostgreSQL's
    side's pages do not fill it, and it is full when both are done."""
    from projections.case_summary import CaseSummaryProjector

    with open_jejak(pg_db_url) as app:
        for _ in range(3):
            walk(app, new_case(app), TO_RECOMMENDED)  # 18 events
        read_side = ReadSide(app, page_size=4)
        database_done = threading.Event()
        folded = []  # the events the Python side has applied, page by page
        apply = CaseSummaryProjector.apply

        def lagging(self, conn, events):
            database_done.wait(10)  # PostgreSQL's sides go through the whole log first
            apply(self, conn, events)
            folded.append(len(events))

        told = []
        monkeypatch.setattr(CaseSummaryProjector, "apply", lagging)
        original_database = catchup.catch_up_in_database
        sides = [p.name for p in read_side.projectors if getattr(p, "in_database", False)]
        assert sides == ["case_event", "event_chain"]  # each in a transaction of its own
        ended = []

        def database_then_release(engine, projectors, *args, **kwargs):
            applied = original_database(engine, projectors, *args, **kwargs)
            if applied == 0:
                ended.extend(p.name for p in projectors)
                if sorted(ended) == sides:
                    assert sum(told) == 0, "the bar moved with PostgreSQL's sides alone"
                    database_done.set()
            return applied

        monkeypatch.setattr(catchup, "catch_up_in_database", database_then_release)
        applied = read_side.catch_up(on_page=told.append)
        assert applied == 18 and sum(told) == 18 and sum(folded) == 18
        assert len(folded) >= 4 and len(told) >= 4  # it moved page by page with the Python side


@pytest.mark.postgres
def test_a_python_side_with_nothing_to_fold_does_not_wait_for_postgresql(pg_db_url, monkeypatch):
    """`case_summary` caught up, `case_event` from zero (its table rebuilt alone): the Python side, which folds the
    rows PostgreSQL's side commits, ends at once instead of holding its transaction open until that side is done."""
    with open_jejak(pg_db_url) as app:
        walk(app, new_case(app), TO_RECOMMENDED)  # 6 events
        read_side = ReadSide(app, page_size=2)
        read_side.catch_up()
        with read_side.engine.begin() as conn:
            conn.execute(case_event.delete())
            conn.execute(projection_position.update().where(projection_position.c.projection == "case_event")
                         .values(position=0))
        python_ended = threading.Event()
        original_batch, project = catchup.catch_up_batch, CaseEventInDatabase.project

        def python_side(*args, **kwargs):
            applied = original_batch(*args, **kwargs)
            if applied == 0:
                python_ended.set()
            return applied

        def after_the_python_side(self, conn, after, until, limit):
            assert python_ended.wait(10), "the Python side waited for PostgreSQL's"
            return project(self, conn, after, until, limit)

        monkeypatch.setattr(catchup, "catch_up_batch", python_side)
        monkeypatch.setattr(CaseEventInDatabase, "project", after_the_python_side)
        assert read_side.catch_up() == 6
        assert len(_rows(read_side)[0]) == 6


@pytest.mark.postgres
def test_both_sides_stop_at_the_same_end_of_the_log(pg_db_url, monkeypatch):
    """An event committed while a catch-up runs is left by both sides to the next one: neither applies it now
    while the other waits for it, so a follower counts each event once (`applied N event(s)`)."""
    with open_jejak(pg_db_url) as app:
        walk(app, new_case(app), TO_RECOMMENDED)  # 6 events
        read_side = ReadSide(app, page_size=4)
        database_done = threading.Event()
        original_database, original_batch = catchup.catch_up_in_database, catchup.catch_up_batch

        def database_side(*args, **kwargs):
            count = original_database(*args, **kwargs)
            if count == 0:
                database_done.set()
            return count

        def python_side_after_a_new_event(*args, **kwargs):
            if not database_done.is_set():
                assert database_done.wait(10)
                new_case(app)  # committed after PostgreSQL's side has finished, before this side reads the log
            return original_batch(*args, **kwargs)

        monkeypatch.setattr(catchup, "catch_up_in_database", database_side)
        monkeypatch.setattr(catchup, "catch_up_batch", python_side_after_a_new_event)
        assert read_side.catch_up() == 6
        with read_side.engine.connect() as conn:
            positions = set(conn.execute(select(projection_position.c.position)).scalars())
        assert positions == {6}
        assert read_side.catch_up() == 1


@pytest.mark.postgres
def test_a_role_that_may_not_create_the_aggregate_keeps_the_python_chain(pg_db_url):
    """Without CREATE on the schema (PostgreSQL 15 gives it to the owner only), the link aggregate cannot be made:
    that is no error, and the chain copy stays in Python; the owner makes it."""
    import uuid

    import psycopg
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from projections import event_chain_sql

    role = f"jejak_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        url = make_url(pg_db_url).set(drivername="postgresql+psycopg")
        restricted = create_engine(url.set(username=role))
        assert event_chain_sql.ready(restricted) is False
        restricted.dispose()
        owner = create_engine(url)
        assert event_chain_sql.ready(owner) is True
        owner.dispose()
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


# the link step as versions before PL/pgSQL made it: the same hashes, run by the SQL function executor at each row
_SQL_STEP = ("CREATE OR REPLACE FUNCTION jejak_chain_link(previous bytea, start bytea, at bigint, content bytea)"
             " RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE"
             " AS $$ SELECT sha256(coalesce(previous, start) || int8send(at) || content) $$")


@pytest.mark.postgres
def test_an_earlier_sql_step_is_replaced_by_the_owner_and_still_used_by_other_roles(pg_db_url):
    import uuid

    import psycopg
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from projections import event_chain_sql

    def step_language(engine) -> str:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT l.lanname FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang"
                                        " WHERE p.oid = to_regprocedure(%(f)s)",
                                        {"f": event_chain_sql._SIGNATURES[0]}).scalar_one()

    with open_jejak(pg_db_url) as app:
        generate(app, "pilkada-2020", seed=3, scale=0.01, progress=False)
        python = ReadSide(app, in_database=False)
        python.rebuild(chain=True)
        expected = [tuple(row) for row in python.snapshot(catch_up=False)["event_chain"]]
        with python.engine.begin() as conn:
            conn.exec_driver_sql(_SQL_STEP)
    role = f"jejak_t_{uuid.uuid4().hex[:10]}"
    url = make_url(pg_db_url).set(drivername="postgresql+psycopg")
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        restricted, owner = create_engine(url.set(username=role)), create_engine(url)
        assert event_chain_sql.ready(restricted) is True  # not its to replace: the SQL step makes the same rows
        assert step_language(owner) == "sql"
        with open_jejak(pg_db_url) as app:
            in_database = ReadSide(app, in_database=True)
            in_database.rebuild(chain=True)
            assert [tuple(row) for row in in_database.snapshot(catch_up=False)["event_chain"]] == expected
        assert step_language(owner) == "sql"  # the rows above were linked by it
        assert event_chain_sql.ready(owner) is True
        assert step_language(owner) == "plpgsql"
        restricted.dispose()
        owner.dispose()
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')
