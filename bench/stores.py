"""Where the benchmarks' stores live: SQLite files in a work directory, PostgreSQL databases ``jejak_bench_*`` made
on an admin URL and dropped afterwards; and a store's size on disk."""

from __future__ import annotations

import os
from pathlib import Path


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
        import psycopg

        name = f"jejak_bench_{label}".replace("-", "_").lower()
        with psycopg.connect(self.pg_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return self.pg_admin.rsplit("/", 1)[0] + f"/{name}"

    def cleanup(self) -> None:
        if self.keep:
            return
        import psycopg

        with psycopg.connect(self.pg_admin, autocommit=True) as conn:
            for name in self.databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
