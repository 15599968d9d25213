"""What one server process holds: the application, the read side (and a replica's), the authenticator and the
server's tables, opened once at start-up and shared by the requests (each runs in a worker thread); with
``--projections follow``, a thread standing for the election of the projection follower.

Nothing here is needed by another process: idempotency records, tokens and their revocation, the access log
and the read models are in the database; what is cached (connections, the identity provider's keys) is safe
to lose. Any number of processes can serve one store."""

from __future__ import annotations

import logging
import os
import threading

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
        # Connections are checked before use (one round trip), so that after a database restart no request
        # meets a dead one; a request waits at most 5 s for a connection before it is answered 503.
        pool = {"POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": str(max(0, settings.threads - 2)),
                "POSTGRES_PRE_PING": "y", "POSTGRES_CONNECT_TIMEOUT": "5"}
        self.app = open_jejak(settings.db, env={k: v for k, v in pool.items() if k not in os.environ})
        self.read_side = ReadSide(self.app, catch_up_on_read=settings.projections == "inline")
        self.replica_read_side = ReadSide(self.app, url=settings.read_db) if settings.read_db else None
        # The server's own tables: a pool with a connection per worker thread, kept open (SQLAlchemy closes a
        # pool's overflow connections when they are returned). Tokens, looked up on every request, are read in
        # autocommit through a pool of their own: one round trip, no BEGIN and ROLLBACK around the SELECT.
        sqlite = {"connect_args": {"timeout": 30}} if not self.app.store.is_postgres else {}
        self.engine = create_engine(self.app.url, pool_size=settings.threads, max_overflow=0, pool_pre_ping=True,
                                    **sqlite)
        self.token_engine = create_engine(self.app.url, pool_size=settings.threads, max_overflow=0,
                                          isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                                          pool_pre_ping=True, **sqlite)
        ensure_tables(self.engine)
        oidc = None
        if settings.oidc is not None:
            from entrypoints.auth.oidc import OIDCVerifier

            oidc = OIDCVerifier(settings.oidc)
        self.authenticator = Authenticator(self.token_engine, oidc)
        self.idempotency = Idempotency(self.engine)
        self.follower, self._stop_following = None, threading.Event()
        if settings.projections == "follow":
            self._start_follower()

    def _start_follower(self) -> None:
        from projections.leader import ElectedFollower

        self.follower = ElectedFollower(self.read_side, name="jejak-serve")
        if self.app.url.get_backend_name() == "postgresql":
            target = self.follower.run
        else:  # one machine: each process follows (the catch-up's compare-and-set keeps it exactly-once)
            def target(stop):
                self.read_side.follow(stop)
        self._following = threading.Thread(target=target, args=(self._stop_following,), name="projection-follower",
                                           daemon=True)
        self._following.start()

    def close(self) -> None:
        self._stop_following.set()
        if self.follower is not None:
            self._following.join(10)  # ends at its next wake-up (at most a second), before the pools close
        self.engine.dispose()
        self.token_engine.dispose()
        self.app.close()
