"""`read_frame` reads the read models into pandas without SQLAlchemy's per-row processing (PostgreSQL through
ADBC's driver; a large SQLite store through ADBC's in a helper process, a small one from sqlite3's rows): it
must give the values SQLAlchemy's own rows give, with the dtypes pandas infers from them."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import select, text

from projections import frames
from projections.frames import read_frame
from projections.readside import ReadSide
from projections.tables import UTCDateTime, case_event, case_summary
from tests.conftest import T0, TO_RECOMMENDED, new_case, walk

SANCTION = ("impose_sanction", "ppk:pemkab-bima", {"sanction": "written_reprimand", "decree_number": "800/1"})


@pytest.fixture(params=["small", "large"])
def size(request, monkeypatch):
    """How an SQLite store is read: small, row by row; large (as from 100k events), through the helper process
    (PostgreSQL is read through ADBC either way)."""
    if request.param == "large":  # ("any": PostgreSQL, which does not look)
        monkeypatch.setattr(frames, "ARROW_READER_MIN_EVENTS", 0)
    return request.param


# Each store and the ways it is read: PostgreSQL is read through ADBC at any size, so once.
EACH_STORE_AND_SIZE = pytest.mark.parametrize(
    ("db_url", "size"),
    [("sqlite", "small"), ("sqlite", "large"), pytest.param("postgres", "any", marks=pytest.mark.postgres)],
    ids=["sqlite-small", "sqlite-large", "postgres"], indirect=True)


def _forbid_rows(monkeypatch):
    monkeypatch.setattr(frames, "_row_columns", lambda *args: pytest.fail("read row by row"))


def _cases(app) -> None:
    """Open and closed cases: columns with values, with NULLs only, and NULLs before values."""
    new_case(app)  # only reported: most summary columns stay NULL
    for i in range(3):
        case_id = new_case(app, T0 + timedelta(hours=i))
        walk(app, case_id, TO_RECOMMENDED + ([SANCTION] if i else []), start=T0 + timedelta(hours=i))


def _normal(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if hasattr(value, "tzinfo") and value.tzinfo is not None:
        return pd.Timestamp(value).tz_convert(timezone.utc)
    return value.item() if hasattr(value, "item") else value


def _values(frame: pd.DataFrame) -> list[list]:
    return [[_normal(v) for v in frame[name].tolist()] for name in frame.columns]


@EACH_STORE_AND_SIZE
@pytest.mark.parametrize("table", [case_summary, case_event], ids=lambda t: t.name)
def test_read_frame_gives_sqlalchemys_values_and_inferred_dtypes(app, size, table):
    _cases(app)
    read_side = ReadSide(app)
    query = select(table).order_by(*table.primary_key.columns)
    frame = read_frame(read_side, table, query)
    inferred = pd.DataFrame(read_side.rows(query), columns=[c.name for c in table.columns])
    assert list(frame.columns) == list(inferred.columns)
    assert _values(frame) == _values(inferred)
    times = [c.name for c in table.columns if isinstance(c.type, UTCDateTime)]
    assert all(str(frame[name].dtype) == "datetime64[us, UTC]" for name in times)
    assert frame["version"].dtype == "int64"


@EACH_STORE_AND_SIZE
def test_a_query_with_parameters_gives_sqlalchemys_rows(app, size, monkeypatch):
    """Times, texts and IN lists are bound as each driver wants them (SQLite: UTC text; ADBC's PostgreSQL driver:
    $1, $2, …)."""
    _cases(app)
    read_side = ReadSide(app)
    e = case_event.c
    wanted = [row["case_id"] for row in read_side.rows(select(e.case_id).where(e.version == 1))][1:3]
    query = (select(e.notification_id, e.case_id, e.trigger, e.occurred_at)
             .where(e.case_id.in_(wanted), e.occurred_at > T0 + timedelta(minutes=30), e.trigger != "report")
             .order_by(e.notification_id))
    with monkeypatch.context() as patch:
        if app.store.is_postgres or size == "large":
            _forbid_rows(patch)
        frame = read_frame(read_side, case_event, query)
    assert len(frame) > 0 and set(frame["case_id"]) <= set(wanted)
    assert _values(frame) == _values(pd.DataFrame(read_side.rows(query), columns=list(frame.columns)))


def test_postgres_and_a_large_sqlite_store_are_read_through_adbc(app, monkeypatch):
    monkeypatch.setattr(frames, "ARROW_READER_MIN_EVENTS", 21)
    _cases(app)
    read_side = ReadSide(app)
    _forbid_rows(monkeypatch)
    assert len(read_frame(read_side, case_event)) == app.recorder.max_notification_id() == 21


def test_a_small_sqlite_store_is_read_row_by_row(tmp_path, monkeypatch):
    """Starting the helper process (~0.5 s) would cost more than it saves."""
    from workflow.application import Jejak

    monkeypatch.setattr(frames, "ARROW_READER_MIN_EVENTS", 22)
    monkeypatch.setattr(frames, "_adbc_sqlite", lambda *args: pytest.fail("read through the helper process"))
    with Jejak(f"sqlite:///{tmp_path / 'jejak.db'}") as app:
        _cases(app)
        assert len(read_frame(ReadSide(app), case_event)) == 21


@pytest.mark.parametrize("name", ["jejak.db", "a b#c%20.db"])
def test_an_sqlite_file_of_any_name_is_read_through_the_helper_process(tmp_path, monkeypatch, name):
    from workflow.application import Jejak

    monkeypatch.setattr(frames, "ARROW_READER_MIN_EVENTS", 0)
    with Jejak(f"sqlite:///{tmp_path / name}") as app:
        _cases(app)
        _forbid_rows(monkeypatch)
        assert len(read_frame(ReadSide(app), case_event)) == 21


def test_reading_an_sqlite_file_leaves_the_processes_writing_it_their_locks(tmp_path, size):
    """An audit in a notebook while scripts call `jejak advance`: the notebook's connections keep their WAL
    lock, so a script exiting does not delete the -wal file under them. (ADBC's SQLite driver in the notebook's
    process, a second copy of SQLite there, dropped those locks when it closed its file: the -wal went.) The
    helper process sees what was committed after its previous query."""
    from workflow.application import Jejak

    db = tmp_path / "jejak.db"
    with Jejak(f"sqlite:///{db}") as app:
        _cases(app)
        case_id = new_case(app)
        read_side = ReadSide(app)
        assert len(read_frame(read_side, case_event)) == 22
        result = subprocess.run([sys.executable, "-m", "entrypoints.cli", "--db", str(db), "advance", str(case_id),
                                 "begin_review", "--as", "bawaslu:kab-bima", "--at", "2024-10-02T09:00+07:00"],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "jejak.db-wal").exists()
        assert len(read_frame(read_side, case_event)) == 23
        assert app.get_case(case_id).state == "under_review"


def test_times_another_tool_wrote_in_another_form_are_still_read(tmp_path, size):
    """Text that is not SQLAlchemy's UTC form (here: with an offset) is still read as UTC times."""
    from workflow.application import Jejak

    with Jejak(f"sqlite:///{tmp_path / 'jejak.db'}") as app:
        _cases(app)
        read_side = ReadSide(app)
        read_side.catch_up()
        with read_side.engine.begin() as conn:
            conn.execute(text("UPDATE case_event SET occurred_at = '2024-10-01T09:00:00+07:00' "
                              "WHERE notification_id = 1"))
        frame = read_frame(read_side, case_event, select(case_event).order_by(case_event.c.notification_id))
    assert frame["occurred_at"].iloc[0] == pd.Timestamp("2024-10-01 02:00", tz="UTC")
    assert str(frame["occurred_at"].dtype) == "datetime64[us, UTC]"


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_postgres_store_adbc_cannot_open_is_read_row_by_row(app, monkeypatch):
    from adbc_driver_postgresql import dbapi
    from sqlalchemy.pool import QueuePool

    _cases(app)
    read_side = ReadSide(app)
    query = select(case_event).order_by(case_event.c.notification_id)
    nowhere = "postgresql://postgres@127.0.0.1:1/nowhere"  # a real refusal from libpq, as for a wrong password
    monkeypatch.setattr(frames, "_adbc_postgres_pool", lambda uri: QueuePool(lambda: dbapi.connect(nowhere)))
    frame = read_frame(read_side, case_event, query)
    assert _values(frame) == _values(pd.DataFrame(read_side.rows(query), columns=list(frame.columns)))
