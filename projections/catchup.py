"""Pull-based catch-up: read the notification log after the projections' positions, apply a page, and write
the rows and the new positions in one transaction.

Works on SQLite (which has no subscription) and PostgreSQL alike. Each page is read once and given to every
projection that has not applied it yet. The positions are locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite
serialises writers) and advanced with a compare-and-set, so two catch-ups racing on one page cannot both
apply it: the slower one rolls back and starts over from the new positions. A process killed mid-page
leaves the previous commit intact and the next run redoes only that page.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Protocol

from eventsourcing.persistence import Notification
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from projections.row_writer import paused_gc
from projections.tables import projection_position
from workflow.case import Case

PAGE_SIZE = 20000
RETRIES = 5


class Projector(Protocol):
    name: str

    def apply(self, conn: Connection, events: list[tuple[int, Case.Event, str]]) -> None:
        """Apply a page of (notification id, event, case id) in log order, within the caller's transaction.
        A projector with ``raw = True`` gets the stored notifications instead."""


class CatchUpConflict(RuntimeError):
    """Another catch-up applied this page first; this one was rolled back and can simply run again."""


def ensure_positions(conn: Connection, names: Iterable[str]) -> None:
    known = set(conn.execute(select(projection_position.c.projection)).scalars())
    missing = [{"projection": name, "position": 0} for name in names if name not in known]
    if missing:
        try:
            with conn.begin_nested():
                conn.execute(projection_position.insert(), missing)
        except IntegrityError:
            pass  # created by a concurrent catch-up


def position(conn: Connection, name: str) -> int:
    ensure_positions(conn, [name])
    return conn.execute(select(projection_position.c.position)
                        .where(projection_position.c.projection == name)).scalar_one()


def _locked_positions(conn: Connection, names: list[str]) -> dict[str, int]:
    ensure_positions(conn, names)
    query = (select(projection_position.c.projection, projection_position.c.position)
             .where(projection_position.c.projection.in_(names)))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return dict(conn.execute(query).all())


def catch_up(app, engine: Engine, projectors: Projector | Sequence[Projector], page_size: int = PAGE_SIZE) -> int:
    """Apply every notification after each projector's position; returns how many were read and applied."""
    if not isinstance(projectors, Sequence):
        projectors = [projectors]
    applied = 0
    conflicts = 0
    while True:
        try:
            count = catch_up_page(app, engine, projectors, page_size)
        except (CatchUpConflict, IntegrityError, OperationalError) as error:
            # a concurrent catch-up got there first (or SQLite stayed locked): start over from the positions
            conflicts += 1
            if conflicts > RETRIES or (isinstance(error, OperationalError) and "lock" not in str(error).lower()):
                raise
            time.sleep(0.05 * conflicts)
            continue
        if count == 0:
            return applied
        applied += count


def plan_as_lookups(conn: Connection) -> None:
    """Every statement of a page looks up rows the page names (the state before an event, the summary rows it
    folds on, those rows' deletion): its cost must follow the page, never the store. PostgreSQL's planner picks a
    sequential scan of the whole table once such a list is long next to the table (and would compile the
    statement to machine code first: JIT, ~35 ms, longer than running it); one scan a page makes a catch-up's
    cost grow with the square of the store. So, for this transaction only, the lookups go through the indexes
    (tests/test_read_side_plans.py checks the plans)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("SET LOCAL jit = off")


def catch_up_page(app, engine: Engine, projectors: Sequence[Projector], page_size: int = PAGE_SIZE) -> int:
    """Apply one page to every projector that is behind, in one transaction; returns its length (0: done)."""
    names = [p.name for p in projectors]
    with engine.begin() as conn:
        plan_as_lookups(conn)
        starts = _locked_positions(conn, names)
        start = min(starts.values())
        notifications: Sequence[Notification] = app.recorder.select_notifications(
            start=start, limit=page_size, inclusive_of_start=False)
        if not notifications:
            return 0
        last = notifications[-1].id
        with paused_gc():  # a page makes tens of thousands of objects, none cyclic: collections only rescan
            events = _decode(app, notifications, projectors, starts)
            for projector in projectors:
                since = starts[projector.name]
                if getattr(projector, "raw", False):
                    behind = [n for n in notifications if n.id > since]
                else:
                    behind = events if events and events[0][0] > since else [e for e in events if e[0] > since]
                if behind:
                    projector.apply(conn, behind)
                    _advance(conn, projector.name, since, last)
        return len(notifications)


def _decode(app, notifications: Sequence[Notification], projectors: Sequence[Projector],
            starts: dict[str, int]) -> list[tuple[int, Case.Event, str]]:
    """The page's events as (notification id, domain event, case id as text), each decoded once, from the
    earliest position a projector of domain events needs."""
    since = min((starts[p.name] for p in projectors if not getattr(p, "raw", False)), default=None)
    if since is None:
        return []
    to_domain_event = app.mapper.to_domain_event
    events = []
    for n in notifications:
        if n.id > since:
            event = to_domain_event(n)
            events.append((n.id, event, str(event.originator_id)))
    return events


def _advance(conn: Connection, name: str, since: int, last: int) -> None:
    """Move a projection's position from `since` to `last`, or refuse if another catch-up moved it."""
    moved = conn.execute(update(projection_position)
                         .where(projection_position.c.projection == name, projection_position.c.position == since)
                         .values(position=last))
    if moved.rowcount != 1:
        raise CatchUpConflict(f"projection {name!r} moved past {since} meanwhile; rolled back")
