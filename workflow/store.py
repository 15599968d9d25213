"""One URL selects the store: a SQLite file (the default, ``jejak.db`` here) or a PostgreSQL database.

Events go through eventsourcing's own recorders, configured from the URL; the read side gets a SQLAlchemy
URL for the same database. Parsing uses the standard library: importing SQLAlchemy costs a write command
~0.2 s of start-up, and scripts call the CLI in loops.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

from workflow.errors import InvalidField

DEFAULT_URL = "sqlite:///jejak.db"
_ALLOWED = "sqlite:///PATH (or a plain file path) or postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME"
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


@dataclass(frozen=True)
class Store:
    backend: str  # "sqlite" or "postgresql"
    database: str  # a file path, or a database name
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing settings for this store (its native SQLite or PostgreSQL recorders)."""
        if not self.is_postgres:
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": self.database,
                    "SQLITE_LOCK_TIMEOUT": "30"}
        return {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": self.database,
                "POSTGRES_HOST": self.host, "POSTGRES_PORT": str(self.port), "POSTGRES_USER": self.user,
                "POSTGRES_PASSWORD": self.password}

    def sqlalchemy_url(self):
        from sqlalchemy.engine import URL

        if not self.is_postgres:
            return URL.create("sqlite", database=self.database)
        return URL.create("postgresql+psycopg", username=self.user, password=self.password or None,
                          host=self.host, port=self.port, database=self.database)

    def __str__(self) -> str:
        if not self.is_postgres:
            return f"sqlite:///{self.database}"
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"


def lost_schema_race(error: Exception) -> bool:
    """Whether PostgreSQL refused a CREATE … IF NOT EXISTS (or CREATE OR REPLACE) because another session ran
    the same statement at the same moment: the object exists now, so doing it again (or not at all) is fine."""
    return any(text in str(error) for text in ("concurrently updated", "pg_type_typname_nsp_index",
                                               "already exists"))


def resolve_store(db: str | None = None) -> Store:
    """``--db`` wins, then ``JEJAK_DB``, then ``jejak.db`` in the working directory."""
    raw = db or os.environ.get("JEJAK_DB") or DEFAULT_URL
    if "://" not in raw:
        raw = f"sqlite:///{raw}"
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise InvalidField("database URL", f"cannot read {raw!r}", allowed=_ALLOWED) from None
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path or path == ":memory:":
            raise InvalidField("database URL", "SQLite needs a file (the read side shares it)", allowed=_ALLOWED)
        return Store("sqlite", path)
    if parts.scheme in _POSTGRES_SCHEMES:
        return _postgres(parts, port, raw)
    raise InvalidField("database URL", f"unsupported store {parts.scheme!r}", allowed=_ALLOWED)


def _postgres(parts: SplitResult, port: int | None, raw: str) -> Store:
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise InvalidField("database URL", f"{raw!r} names no database", allowed=_ALLOWED)
    return Store("postgresql", database, host=parts.hostname or "127.0.0.1", port=port or 5432,
                 user=unquote(parts.username or "postgres"), password=unquote(parts.password or ""))
