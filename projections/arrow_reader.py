"""Queries on an SQLite file read into Arrow by ADBC's SQLite driver, in a helper process of their own.

ADBC's SQLite driver links its own copy of SQLite, and two copies of SQLite in one process break SQLite's
POSIX locks: a lock released, or a file closed, by one copy drops the other's locks on the same file (a
notebook's WAL lock lost; a `jejak advance` exiting then deletes the -wal under the notebook's connections).
So the driver never runs beside Python's sqlite3: a child process, which opens the file read-only and holds
no other connection, runs each query and writes the result as an Arrow IPC file in memory (``/dev/shm``
where there is one: through a pipe, 600k events took ~0.3 s longer). Starting it (Python, pyarrow and the
driver) takes ~0.5 s, so it pays only for large stores; it lives as long as its parent.

Protocol: the parent writes one JSON line ``{"sql": ..., "params": [...], "path": ...}``; the child writes
the result to `path` and answers ``ok``, or answers ``error: REASON``.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import threading
from functools import cache
from pathlib import Path
from urllib.parse import quote

_MEMORY = "/dev/shm" if os.path.isdir("/dev/shm") else None  # None: the system's temporary directory


class ArrowReaderError(Exception):
    """The helper process could not run a query (or could not be started)."""


class ArrowReader:
    """One helper process reading one SQLite file; queries from several threads take turns."""

    def __init__(self, path: str | Path):
        self.uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro"
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._results: tempfile.TemporaryDirectory | None = None

    def read(self, sql: str, params: tuple = ()):
        """The query's result as a pyarrow Table; ArrowReaderError if the helper refused or failed."""
        import pyarrow as pa

        with self._lock:
            try:
                process = self._started()
            except OSError as error:
                raise ArrowReaderError(f"the Arrow reader could not be started: {error}") from error
            path = os.path.join(self._results.name, "result.arrow")
            try:
                request = json.dumps({"sql": sql, "params": list(params), "path": path}).encode() + b"\n"
            except (TypeError, ValueError) as error:  # a parameter JSON cannot carry
                raise ArrowReaderError(f"the Arrow reader cannot pass these parameters: {error}") from error
            try:
                process.stdin.write(request)
                process.stdin.flush()
                status = process.stdout.readline().decode(errors="replace").strip()
                if status == "ok":
                    return pa.ipc.open_file(path).read_all()  # read into this process's memory
            except (OSError, pa.ArrowException) as error:  # the helper died or wrote garbage: start afresh
                self.stop()
                raise ArrowReaderError(f"the Arrow reader of {self.uri} failed: {error}") from error
            finally:
                if os.path.exists(path):
                    os.unlink(path)
            if not status:
                self.stop()
                status = "the helper process exited"
            raise ArrowReaderError(status)

    def _started(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            self.stop()
            self._results = tempfile.TemporaryDirectory(prefix="jejak-arrow-", dir=_MEMORY)
            self._process = subprocess.Popen([sys.executable, "-c", _CHILD, self.uri], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return self._process

    def stop(self) -> None:
        """End the helper process (it also ends by itself when this process exits and its pipe closes)."""
        process, self._process = self._process, None
        if process is not None:
            process.stdin.close()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()
        results, self._results = self._results, None
        if results is not None:
            results.cleanup()


@cache
def reader_for(path: str) -> ArrowReader:
    """The helper process of this file in this process (started on its first query)."""
    reader = ArrowReader(path)
    atexit.register(reader.stop)
    return reader


# The child: only the standard library, pyarrow and the driver (it must not open the file through sqlite3).
_CHILD = r"""
import json, sys
import pyarrow as pa
import pyarrow.ipc
from adbc_driver_sqlite import dbapi

out = sys.stdout.buffer
with dbapi.connect(sys.argv[1]) as connection:
    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            with connection.cursor() as cursor:
                # types are inferred from the first batch: one batch, so a column that starts with NULLs is
                # typed too (a later value of another type is an error; the parent then reads row by row)
                cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(10**9)})
                cursor.execute(request["sql"], request["params"] or None)
                table = cursor.fetch_arrow_table()
            connection.rollback()  # end the read transaction: the next query sees what was committed since
            with pa.OSFile(request["path"], "wb") as sink, pyarrow.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        except Exception as error:
            out.write(("error: " + " ".join(str(error).split()) + "\n").encode())
        else:
            out.write(b"ok\n")
        out.flush()
"""
