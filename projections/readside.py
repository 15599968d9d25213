"""The read side's front door: an engine on the events' database, caught up before every query.

``ReadSide(app).catch_up()`` applies new events to every projection exactly once; ``rebuild()`` drops and
rebuilds the read models from the events; ``follow(stop_event)`` keeps them current (LISTEN/NOTIFY on
PostgreSQL plus a periodic poll, so a lost notification cannot stall it; polling alone on SQLite).
``ReadSide(app, catch_up_on_read=False)`` reads what a follower has projected (servers behind an elected
follower, `projections.leader`); ``ReadSide(app, url=REPLICA)`` reads a streaming replica's copy, never writing.
``position()`` is the notification position the read models reflect.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from functools import cache
from uuid import UUID

from sqlalchemy import Engine, create_engine, delete, event, select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from projections import case_event_sql, event_chain_sql
from projections.case_event import CaseEventProjector
from projections.case_event_sql import CaseEventInDatabase
from projections.case_summary import CaseSummaryProjector
from projections.catchup import BATCH_ROWS, PAGE_SIZE, catch_up, locked_positions
from projections.event_chain import EventChain
from projections.event_chain_sql import EventChainInDatabase
from projections.tables import READ_MODELS, case_summary, event_chain, fingerprint, metadata, \
    projection_position, read_model_schema
from workflow.definitions import STATES
from workflow.errors import InvalidField, NotAuthorized
from workflow.store import lost_schema_race

log = logging.getLogger(__name__)


@cache
def engine_for(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_read_side)
    else:  # a long-lived follower or server outlives a database restart: dead connections are replaced
        engine = create_engine(url, pool_pre_ping=True)
    for attempt in range(10):
        try:
            metadata.create_all(engine)
            _migrate(engine)
            if url.get_backend_name() == "postgresql":
                event_chain_sql.ready(engine)  # the chain copy's link aggregate, created with the tables it fills
            return engine
        except (IntegrityError, ProgrammingError, OperationalError) as error:
            if _refused(error) and not (error.statement or "").lstrip().upper().startswith("SELECT"):
                # a role that does not own the read models (`jejak db secure`) may not create or migrate them
                raise NotAuthorized(f"the read models need creating or migrating (a new store, or a new version of "
                                    f"them), which only their owner may do, not role {url.username!r}: run "
                                    "`jejak db secure` with the owner's URL") from None
            # Processes using a new store at once (a cron tick, a user's query) race to create the tables:
            # the loser's CREATE or schema-row insert fails, and once more finds everything in place.
            if attempt == 9 or not (isinstance(error, IntegrityError) or lost_schema_race(error)):
                raise
            time.sleep(0.02 * (attempt + 1))
    return engine


@cache
def replica_engine_for(url: URL) -> Engine:
    """An engine on a read-only copy of the store (a streaming replica): no schema is created or migrated there,
    the primary's are replicated."""
    return create_engine(url, pool_pre_ping=True)  # a replica restarts on its own: replace its dead connections


def _refused(error: Exception) -> bool:
    """Whether PostgreSQL refused the statement for lack of a privilege (SQLSTATE 42501)."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) == "42501"


def _sqlite_read_side(connection, _record) -> None:
    """The store is in WAL mode (eventsourcing's recorder sets it): commits need not wait for the disk. A power
    cut can then lose the last read-model commits, never half of one (rows and positions go together), and
    the next catch-up redoes them; the events themselves are written by the recorder's own connections.
    A page cache of up to 128 MiB a connection (SQLite's default: 2 MiB), filled only as pages are read: a
    catch-up inserts into `case_event`'s index on (case_id, version) in case order, not in the file's, and on a
    large store each insert went to the operating system for its pages (50× store: 0.93 of the time)."""
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA cache_size=-131072")  # KiB


def _migrate(engine: Engine) -> None:
    """A read model whose schema changed (a new column…) is dropped and rebuilt from the events."""
    with engine.begin() as conn:
        stored = dict(conn.execute(select(read_model_schema.c.name, read_model_schema.c.fingerprint)).all())
        for table in (*READ_MODELS, event_chain):
            current = fingerprint(table)
            if stored.get(table.name) == current:
                continue
            if table.name in stored or _has_stale_columns(conn, table):
                log.warning("read model %s changed schema: rebuilding it", table.name)
                table.drop(conn)
                table.create(conn)
                conn.execute(update(projection_position).where(projection_position.c.projection == table.name)
                             .values(position=0))
            conn.execute(delete(read_model_schema).where(read_model_schema.c.name == table.name))
            conn.execute(read_model_schema.insert().values(name=table.name, fingerprint=current))


def _has_stale_columns(conn, table) -> bool:
    from sqlalchemy import inspect

    existing = {c["name"] for c in inspect(conn).get_columns(table.name)}
    return existing != {c.name for c in table.columns}


class ReadSide:
    def __init__(self, app, page_size: int = PAGE_SIZE, *, url: str | URL | None = None,
                 catch_up_on_read: bool = True, batch_rows: int = BATCH_ROWS, batch_seconds: float | None = None,
                 in_database: bool | None = None):
        """`url`: read the read models from a replica of the store instead (read-only: it never catches up);
        `catch_up_on_read=False`: queries read what is projected, leaving the catching up to a follower;
        `batch_rows`, `batch_seconds`: how many case rows a catch-up holds before writing them, and how long its
        transaction runs before it commits (projections.catchup; 0 rows: write and commit every page);
        `in_database`: whether PostgreSQL makes `case_event`'s rows and the chain's copy itself
        (projections.case_event_sql, event_chain_sql); None: when it can read the store's events (PostgreSQL,
        neither ciphered nor compressed)."""
        from sqlalchemy.engine import make_url

        self.app = app
        self.replica = url is not None
        self.engine = replica_engine_for(make_url(url)) if self.replica else engine_for(app.url)
        self.catch_up_on_read = catch_up_on_read and not self.replica
        self.page_size = page_size
        self.batch_rows, self.batch_seconds = batch_rows, batch_seconds
        if in_database is None:
            in_database = case_event_sql.usable(app)
        elif in_database and not case_event_sql.usable(app):
            raise InvalidField("in_database", "only a PostgreSQL store whose events are neither ciphered nor "
                                              "compressed can project in the database: this one is projected in "
                                              "Python")
        in_database = in_database and not self.replica  # a replica never catches up (nor creates the aggregate)
        case_events = CaseEventInDatabase(app) if in_database else CaseEventProjector()
        chain = EventChainInDatabase(app) if in_database and event_chain_sql.ready(self.engine) else EventChain()
        self.projectors = [CaseSummaryProjector(app), case_events, chain]

    def catch_up(self, on_page=None) -> int:
        """Apply every new event to every projection, exactly once; returns how many events were read.
        `on_page(n)` is told of each page of n events applied (for a progress bar)."""
        if self.replica:
            raise NotAuthorized("a replica's read models are read-only: catch up on the primary")
        return catch_up(self.app, self.engine, self.projectors, self.page_size, self.batch_rows, self.batch_seconds,
                        on_page)

    def refresh(self) -> int:
        """What every query does first: catch up, unless a follower does it for this read side."""
        return self.catch_up() if self.catch_up_on_read else 0

    def position(self) -> int:
        """The notification position every read model has reached (the least of them): a query made after
        this call reflects at least every event up to it."""
        from sqlalchemy import func

        names = [p.name for p in self.projectors]
        with self.engine.connect() as conn:
            least, count = conn.execute(select(func.min(projection_position.c.position), func.count())
                                        .where(projection_position.c.projection.in_(names))).one()
        return int(least) if count == len(names) else 0

    def rebuild(self, chain: bool = False, on_page=None) -> int:
        """Empty every read model and rebuild it from the events. The hash chain (`event_chain`) is kept unless
        ``chain=True``: rebuilding it from tampered events would erase the evidence. The tables are emptied, not
        dropped, so that they keep their grants (`jejak db secure`); on a secured store only the owner may."""
        tables = [p.table for p in self.projectors if p.table is not event_chain or chain]
        try:
            with self.engine.begin() as conn:
                locked_positions(conn, [p.name for p in self.projectors])  # before the tables, as a catch-up
                for table in tables:
                    if conn.dialect.name == "postgresql":
                        conn.execute(text("TRUNCATE " + conn.dialect.identifier_preparer.format_table(table)))
                    else:
                        conn.execute(delete(table))
                    conn.execute(update(projection_position).where(projection_position.c.projection == table.name)
                                 .values(position=0))
        except ProgrammingError as error:
            if _refused(error):
                raise NotAuthorized(f"rebuilding the read models is the owner's operation, not role "
                                    f"{self.app.url.username!r}'s (it may only catch up): run it with the owner's "
                                    "URL, `jejak project --rebuild --db OWNER_URL`") from None
            raise
        return self.catch_up(on_page)

    def follow(self, stop_event: threading.Event | None = None, poll_interval: float = 5.0,
               on_catch_up=None) -> None:
        """Keep catching up until `stop_event` is set. On PostgreSQL it wakes on the recorder's NOTIFY and
        also every `poll_interval` seconds; on SQLite it polls."""
        stop_event = stop_event or threading.Event()
        listener = self._listen() if self.app.url.get_backend_name() == "postgresql" else None
        try:
            while not stop_event.is_set():
                try:
                    applied = self.catch_up()
                except Exception:  # keep following: a transient failure is retried on the next wake-up
                    log.exception("catch-up failed; retrying")
                    applied = 0
                if on_catch_up is not None and applied:
                    on_catch_up(applied)
                if listener is not None:
                    self._wait_notify(listener, stop_event, poll_interval)
                else:
                    stop_event.wait(poll_interval)
        finally:
            if listener is not None:
                listener.close()

    def _listen(self):
        import psycopg
        from psycopg import sql

        url = self.app.url
        conn = psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, dbname=url.database,
                               user=url.username or "postgres", password=url.password or "", autocommit=True)
        channel = getattr(self.app.recorder, "channel_name", "stored_events")
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        return conn

    @staticmethod
    def _wait_notify(conn, stop_event: threading.Event, poll_interval: float) -> None:
        """Return on a notification, on stop, or after poll_interval (the periodic catch-up)."""
        waited = 0.0
        step = min(0.5, poll_interval)
        while waited < poll_interval and not stop_event.is_set():
            if any(True for _ in conn.notifies(timeout=step, stop_after=1)):
                return
            waited += step

    # --- queries ------------------------------------------------------------------------------------

    def cases(self, state: str | None = None) -> list[dict]:
        self.refresh()
        query = select(case_summary).order_by(case_summary.c.reported_at, case_summary.c.case_id)
        if state is not None:
            if state not in STATES[1:]:
                raise InvalidField("state", f"unknown state {state!r}", allowed=STATES[1:])
            query = query.where(case_summary.c.state == state)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def due_cases(self, now: datetime) -> list[UUID]:
        """Cases whose running deadline has passed and whose miss is not yet recorded."""
        self.refresh()
        query = (select(case_summary.c.case_id)
                 .where(case_summary.c.due_at <= now, case_summary.c.deadline_missed.is_(False))
                 .order_by(case_summary.c.due_at))
        with self.engine.connect() as conn:
            return [UUID(case_id) for case_id in conn.execute(query).scalars()]

    def rows(self, query, catch_up: bool = True) -> list[dict]:
        """Run a query on the read models (after catching up) and return its rows as dicts."""
        if catch_up:
            self.refresh()
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def snapshot(self, catch_up: bool = True) -> dict[str, list[tuple]]:
        """Every read-model table's rows, ordered by primary key (to compare with a rebuild)."""
        if catch_up:
            self.refresh()
        out = {}
        with self.engine.connect() as conn:
            for projector in self.projectors:
                table = projector.table
                out[table.name] = [tuple(row) for row in
                                   conn.execute(select(table).order_by(*table.primary_key.columns))]
        return out
