"""One URL selects the store: a SQLite file (the default, ``jejak.db`` here) or a PostgreSQL database.

Events go through eventsourcing's own recorders, configured from the URL; the read side gets a SQLAlchemy
URL for the same database.
"""

from __future__ import annotations

import os

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from workflow.errors import InvalidField

DEFAULT_URL = "sqlite:///jejak.db"
_ALLOWED = "sqlite:///PATH (or a plain file path) or postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME"


def resolve_url(db: str | None = None) -> URL:
    """``--db`` wins, then ``JEJAK_DB``, then ``jejak.db`` in the working directory."""
    raw = db or os.environ.get("JEJAK_DB") or DEFAULT_URL
    if "://" not in raw:
        raw = f"sqlite:///{raw}"
    try:
        url = make_url(raw)
    except ArgumentError:
        raise InvalidField("database URL", f"cannot read {raw!r}", allowed=_ALLOWED) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise InvalidField("database URL", "SQLite needs a file (the read side shares it)", allowed=_ALLOWED)
        return url
    if backend in ("postgresql", "postgres"):
        if not url.database:
            raise InvalidField("database URL", "PostgreSQL needs a database name", allowed=_ALLOWED)
        return url.set(drivername="postgresql+psycopg")
    raise InvalidField("database URL", f"unsupported store {backend!r}", allowed=_ALLOWED)


def is_postgres(url: URL) -> bool:
    return url.get_backend_name() == "postgresql"


def eventsourcing_env(url: URL) -> dict[str, str]:
    """The eventsourcing settings for this store (its native SQLite or PostgreSQL recorders)."""
    if not is_postgres(url):
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": url.database,
                "SQLITE_LOCK_TIMEOUT": "30"}
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.database,
        "POSTGRES_HOST": url.host or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
    }
