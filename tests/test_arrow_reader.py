"""The helper process that reads a large SQLite store through ADBC's SQLite driver, out of the caller's process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from projections.arrow_reader import ArrowReader, ArrowReaderError


@pytest.fixture
def reader(tmp_path):
    db = tmp_path / "store.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(1, "satu"), (2, None), (3, "tiga")])
    reader = ArrowReader(db)
    yield reader
    reader.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_query_and_its_parameters_come_back_as_an_arrow_table(reader):
    table = reader.read("SELECT id, name FROM t WHERE id >= ? ORDER BY id", (2,))
    assert table.column_names == ["id", "name"]
    assert table.to_pylist() == [{"id": 2, "name": None}, {"id": 3, "name": "tiga"}]


def test_each_query_sees_what_was_committed_before_it(reader, tmp_path):
    assert reader.read("SELECT count(*) AS n FROM t").to_pylist() == [{"n": 3}]
    with sqlite3.connect(tmp_path / "store.db") as conn:
        conn.execute("INSERT INTO t VALUES (4, 'empat')")
    assert reader.read("SELECT count(*) AS n FROM t").to_pylist() == [{"n": 4}]


def test_a_query_it_cannot_run_is_refused_with_the_drivers_reason_and_the_helper_goes_on(reader):
    with pytest.raises(ArrowReaderError, match="no such table: missing"):
        reader.read("SELECT * FROM missing")
    pid = reader._process.pid
    assert reader.read("SELECT id FROM t ORDER BY id").column("id").to_pylist() == [1, 2, 3]
    assert reader._process.pid == pid


def test_the_helper_never_writes(reader):
    with pytest.raises(ArrowReaderError, match="readonly"):
        reader.read("INSERT INTO t VALUES (9, 'x')")


def test_a_helper_that_died_is_started_again(reader):
    reader.read("SELECT 1 AS one")
    first = reader._process
    first.kill()
    first.wait()
    assert reader.read("SELECT 1 AS one").to_pylist() == [{"one": 1}]
    assert reader._process.pid != first.pid


def test_a_helper_that_dies_during_a_query_is_reported_and_the_next_query_starts_another(reader):
    reader.read("SELECT 1 AS one")
    helper = reader._process
    threading.Timer(0.3, helper.kill).start()
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) AS m FROM n"
    with pytest.raises(ArrowReaderError, match="exited"):
        reader.read(endless)
    assert reader.read("SELECT 1 AS one").to_pylist() == [{"one": 1}]
    assert reader._process.pid != helper.pid


def test_stop_ends_the_helper_and_removes_its_results(reader):
    reader.read("SELECT 1 AS one")
    process, results = reader._process, reader._results.name
    reader.stop()
    assert process.poll() is not None and not os.path.exists(results)


def test_the_helper_ends_with_the_process_that_started_it(reader, tmp_path):
    code = ("import sys; from projections.arrow_reader import reader_for; r = reader_for(sys.argv[1]); "
            "r.read('SELECT 1 AS one'); print(r._process.pid, r._results.name)")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "store.db")], capture_output=True,
                            text=True, check=True)
    pid, results = result.stdout.split()
    for _ in range(50):
        if not _alive(int(pid)):
            break
        time.sleep(0.1)
    assert not _alive(int(pid)) and not os.path.exists(results)



def test_a_result_the_helper_cannot_write_is_refused_and_the_helper_goes_on(reader, monkeypatch):
    """As when /dev/shm is full: the caller is told (and `read_frame` then reads row by row)."""
    reader.read("SELECT 1 AS one")
    gone = type("Results", (), {"name": os.path.join(reader._results.name, "gone")})()
    with monkeypatch.context() as patch:
        patch.setattr(reader, "_results", gone)
        with pytest.raises(ArrowReaderError, match="gone"):
            reader.read("SELECT id FROM t")
    assert reader.read("SELECT count(*) AS n FROM t").to_pylist() == [{"n": 3}]
