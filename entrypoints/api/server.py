"""What one server process holds: the application, the read side, the authenticator and the server's tables,
opened once at start-up and shared by the requests (each runs in a worker thread)."""

from __future__ import annotations

import logging
import os

from sqlalchemy import create_engine

from entrypoints.api.idempotency import Idempotency
from entrypoints.api.settings import ServerSettings
from entrypoints.auth import Authenticator
from entrypoints.tables import ensure_tables

log = logging.getLogger("jejak.server")


class Server:
    def __init__(self, settings: ServerSettings):
        from entrypoints.bootstrap import open_jejak
        from projections.readside import ReadSide

        self.settings = settings
        # eventsourcing's PostgreSQL pool: a few connections kept, more opened as requests need them (at most one
        # per worker thread); POSTGRES_POOL_SIZE / POSTGRES_MAX_OVERFLOW in the environment win.
        pool = {"POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": str(max(0, settings.threads - 2))}
        self.app = open_jejak(settings.db, env={k: v for k, v in pool.items() if k not in os.environ})
        self.read_side = ReadSide(self.app)
        # The server's own tables: a pool with a connection per worker thread, kept open (SQLAlchemy closes a
        # pool's overflow connections when they are returned). Tokens, looked up on every request, are read in
        # autocommit through a pool of their own: one round trip, no BEGIN and ROLLBACK around the SELECT.
        sqlite = {"connect_args": {"timeout": 30}} if not self.app.store.is_postgres else {}
        self.engine = create_engine(self.app.url, pool_size=settings.threads, max_overflow=0, **sqlite)
        self.token_engine = create_engine(self.app.url, pool_size=settings.threads, max_overflow=0,
                                          isolation_level="AUTOCOMMIT", pool_reset_on_return=None, **sqlite)
        ensure_tables(self.engine)
        oidc = None
        if settings.oidc is not None:
            from entrypoints.auth.oidc import OIDCVerifier

            oidc = OIDCVerifier(settings.oidc)
        self.authenticator = Authenticator(self.token_engine, oidc)
        self.idempotency = Idempotency(self.engine)

    def close(self) -> None:
        self.engine.dispose()
        self.token_engine.dispose()
        self.app.close()
