"""Pull-based catch-up: read the notification log after a projection's position, apply a page, and write the
rows and the new position in one transaction.

Works on SQLite (which has no subscription) and PostgreSQL alike. The position is advanced with a
compare-and-set, so two catch-ups racing on one page cannot both apply it: the slower one rolls back.
A process killed mid-page leaves the previous commit intact and the next run redoes only that page.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from projections.tables import projection_position
from workflow.case import Case

PAGE_SIZE = 5000


class Projector(Protocol):
    name: str

    def apply(self, conn: Connection, events: list[tuple[int, Case.Event]]) -> None:
        """Apply a page of (notification id, event) in log order, within the caller's transaction."""


class CatchUpConflict(RuntimeError):
    """Another catch-up applied this page first; this one was rolled back and can simply run again."""


def position(conn: Connection, name: str) -> int:
    found = conn.execute(select(projection_position.c.position).where(projection_position.c.projection == name))
    row = found.first()
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(projection_position.insert().values(projection=name, position=0))
        except IntegrityError:
            pass  # created by a concurrent catch-up
        return 0
    return row[0]


def catch_up(app, engine: Engine, projector: Projector, page_size: int = PAGE_SIZE) -> int:
    """Apply every notification after the projector's position; returns how many were applied."""
    applied = 0
    while True:
        with engine.begin() as conn:
            start = position(conn, projector.name)
            notifications = app.recorder.select_notifications(start=start, limit=page_size,
                                                              inclusive_of_start=False)
            if not notifications:
                return applied
            projector.apply(conn, [(n.id, app.mapper.to_domain_event(n)) for n in notifications])
            moved = conn.execute(
                update(projection_position)
                .where(projection_position.c.projection == projector.name, projection_position.c.position == start)
                .values(position=notifications[-1].id)
            )
            if moved.rowcount != 1:
                raise CatchUpConflict(f"projection {projector.name!r} moved past {start} meanwhile; rolled back")
        applied += len(notifications)
