"""One projection follower among many processes: the leader holds a PostgreSQL advisory lock.

Every candidate (each `jejak serve --projections follow` process, and `jejak project --follow`) opens one
connection of its own and tries ``pg_try_advisory_lock`` on it every `retry_interval` seconds; the one that gets
it catches the read models up and listens for the recorder's notifications on that same connection. The lock
is the session's: when the leader dies (even by SIGKILL) or its connection breaks (PostgreSQL restarted),
PostgreSQL releases it and the next candidate to try takes over, within `retry_interval` seconds. A leader that
loses its connection gives the leadership up and stands again once the database answers.

The election saves work; it is not what keeps the read models exactly-once: every catch-up page advances the
positions with a compare-and-set (`projections.catchup`), so even two leaders at once (a connection declared
dead while its process still runs) could not apply an event twice or skip one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading

log = logging.getLogger(__name__)

LOCK_NAME = "jejak.projection-follower"
# advisory locks are per database; a key of our own, derived from a name, so no other user of the database
# (e.g. a scheduled job's lock) collides with it
LOCK_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)
APPLICATION_NAME = "jejak-follower"  # pg_stat_activity.application_name of a candidate's connection


def candidate_connection(url, application_name: str):
    """An autocommit psycopg connection to the store's database, named so that an operator (and the tests) can
    tell which process leads: ``SELECT application_name FROM pg_locks JOIN pg_stat_activity USING (pid)``."""
    import psycopg

    return psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, dbname=url.database,
                           user=url.username or "postgres", password=url.password or "", autocommit=True,
                           connect_timeout=5, application_name=application_name)


class ElectedFollower:
    """Stand for election until stopped; while leader, keep the read models current."""

    def __init__(self, read_side, *, retry_interval: float = 1.0, poll_interval: float = 5.0,
                 on_catch_up=None, on_elected=None, name: str | None = None):
        self.read_side = read_side
        self.retry_interval = retry_interval
        self.poll_interval = poll_interval
        self.on_catch_up = on_catch_up
        self.on_elected = on_elected
        self.application_name = f"{APPLICATION_NAME} pid={os.getpid()}{' ' + name if name else ''}"
        self.leading = threading.Event()  # set while this process holds the lock

    def run(self, stop_event: threading.Event) -> None:
        while not stop_event.is_set():
            conn = None
            try:
                conn = candidate_connection(self.read_side.app.url, self.application_name)
                if self._elected(conn, stop_event):
                    self._lead(conn, stop_event)
            except Exception as error:  # noqa: BLE001 - the database is away: stand again once it answers
                if self.leading.is_set():
                    log.warning("projection follower: lost the leadership (%s)", _one_line(error))
                else:
                    log.info("projection follower: cannot stand for election (%s)", _one_line(error))
            finally:
                self.leading.clear()
                if conn is not None:
                    conn.close()  # releases the lock if this session held it
            stop_event.wait(self.retry_interval)

    def _elected(self, conn, stop_event: threading.Event) -> bool:
        while not stop_event.is_set():
            if conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
                return True
            stop_event.wait(self.retry_interval)
        return False

    def _lead(self, conn, stop_event: threading.Event) -> None:
        from psycopg import sql

        self.leading.set()
        log.info("projection follower: elected (%s)", self.application_name)
        if self.on_elected is not None:
            self.on_elected()
        channel = getattr(self.read_side.app.recorder, "channel_name", "stored_events")
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        while not stop_event.is_set():
            applied = self.read_side.catch_up()  # a failure ends the leadership: the lock is released
            if applied and self.on_catch_up is not None:
                self.on_catch_up(applied)
            self.read_side._wait_notify(conn, stop_event, self.poll_interval)
            conn.execute("SELECT 1")  # the lock's session is alive (a broken one raises)


def follow(read_side, stop_event: threading.Event, poll_interval: float = 5.0, on_catch_up=None,
           on_elected=None) -> None:
    """Keep the read models current: as the elected follower on PostgreSQL, alone on SQLite (one machine)."""
    if read_side.app.url.get_backend_name() == "postgresql":
        ElectedFollower(read_side, poll_interval=poll_interval, on_catch_up=on_catch_up,
                        on_elected=on_elected).run(stop_event)
    else:
        read_side.follow(stop_event, poll_interval, on_catch_up)


def _one_line(error: Exception) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
