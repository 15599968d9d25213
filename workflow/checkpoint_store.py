"""The log's published checkpoints (signed tree heads), kept beside the events in ``jejak_checkpoint``.

Append-only like the events (`jejak db secure` guards it): a checkpoint once published is never rewritten.
Nothing here is trusted by a verifier: each note carries its signatures, checked against keys kept elsewhere.
"""

from __future__ import annotations

from datetime import datetime, timezone

CHECKPOINT_TABLE = "jejak_checkpoint"


class CheckpointStore:
    def __init__(self, postgres: bool, schema: str = "public"):
        self.postgres = postgres
        if postgres:
            from psycopg import sql  # only for PostgreSQL

            table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(CHECKPOINT_TABLE))
            create = ("CREATE TABLE IF NOT EXISTS {} (size bigint NOT NULL, root text NOT NULL, created_at text "
                      "NOT NULL, note text NOT NULL, PRIMARY KEY (size, root))")
            self.create = sql.SQL(create).format(table)
            insert = "INSERT INTO {} (size, root, created_at, note) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
            self.insert = sql.SQL(insert).format(table)
            self.since = sql.SQL("SELECT * FROM {} WHERE size >= %s ORDER BY size, created_at").format(table)
            self.newest_first = sql.SQL("SELECT * FROM {} ORDER BY size DESC, created_at DESC LIMIT %s").format(table)
            return
        table = f'"{CHECKPOINT_TABLE}"'  # a name from code, not a value
        self.create = (f"CREATE TABLE IF NOT EXISTS {table} (size INTEGER NOT NULL, root TEXT NOT NULL, "
                       "created_at TEXT NOT NULL, note TEXT NOT NULL, PRIMARY KEY (size, root))")
        self.insert = (f"INSERT INTO {table} (size, root, created_at, note) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT DO NOTHING")
        self.since = f"SELECT * FROM {table} WHERE size >= ? ORDER BY size, created_at"
        self.newest_first = f"SELECT * FROM {table} ORDER BY size DESC, created_at DESC LIMIT ?"

    def add(self, datastore, size: int, root_b64: str, note: str) -> None:
        with datastore.transaction(commit=True) as cursor:
            cursor.execute(self.insert, (size, root_b64, datetime.now(timezone.utc).isoformat(), note))

    def list_since(self, datastore, size: int = 0) -> list[dict]:
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(self.since, (size,))
            return [dict(row) for row in cursor.fetchall()]

    def newest(self, datastore, limit: int) -> list[dict]:
        """The `limit` newest checkpoints, newest first (by tree size, then time of signing)."""
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(self.newest_first, (limit,))
            return [dict(row) for row in cursor.fetchall()]

    def last(self, datastore) -> dict | None:
        newest = self.newest(datastore, 1)
        return newest[0] if newest else None
