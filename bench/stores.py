"""Where the benchmarks' stores live: SQLite files in a work directory, PostgreSQL databases ``jejak_bench_*`` made
on an admin URL and dropped afterwards (`Stores` for many, `bench_database` for one); and a store's size on disk."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path


def new_database(pg_admin: str, label: str) -> tuple[str, str]:
    """A fresh PostgreSQL database ``jejak_bench_<label>`` on the server `pg_admin` (one left by an earlier run is
    dropped first); returns its name and URL."""
    import psycopg

    name = f"jejak_bench_{label}".replace("-", "_").lower()
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, pg_admin.rsplit("/", 1)[0] + f"/{name}"


def drop_databases(pg_admin: str, names: list[str]) -> None:
    import psycopg

    with psycopg.connect(pg_admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def bench_database(pg_admin: str, label: str):
    """A fresh PostgreSQL database for one run; yields its URL, dropped afterwards."""
    name, url = new_database(pg_admin, label)
    try:
        yield url
    finally:
        from projections.readside import engine_for

        engine_for.cache_clear()
        drop_databases(pg_admin, [name])


class Stores:
    def __init__(self, workdir: Path, pg_admin: str, keep: bool):
        self.workdir, self.pg_admin, self.keep = workdir, pg_admin, keep
        self.databases: list[str] = []

    def new(self, kind: str, label: str) -> str:
        if kind == "sqlite":
            path = self.workdir / f"{label}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return f"sqlite:///{path}"
        name, url = new_database(self.pg_admin, label)
        self.databases.append(name)
        return url

    def cleanup(self) -> None:
        if not self.keep:
            drop_databases(self.pg_admin, self.databases)


def store_bytes(app, url: str, tables: list[str]) -> int:
    if url.startswith("sqlite"):
        with app.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        path = url.removeprefix("sqlite:///")
        return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    total = 0
    with app.recorder.datastore.transaction(commit=False) as cursor:
        for table in tables:
            cursor.execute("SELECT COALESCE(pg_total_relation_size(to_regclass(%s)), 0) AS n", (table,))
            total += cursor.fetchone()["n"]
    return total
