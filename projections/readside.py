"""The read side's front door: an engine on the events' database, caught up before every query."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from uuid import UUID

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.engine import URL

from projections.case_summary import CaseSummary
from projections.catchup import catch_up
from projections.tables import case_summary, metadata
from workflow.definitions import STATES
from workflow.errors import InvalidField


@cache
def engine_for(url: URL) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30} if url.get_backend_name() == "sqlite" else {})
    metadata.create_all(engine)
    return engine


class ReadSide:
    def __init__(self, app):
        self.app = app
        self.engine = engine_for(app.url)
        self.projectors = [CaseSummary()]

    def catch_up(self) -> int:
        return sum(catch_up(self.app, self.engine, projector) for projector in self.projectors)

    def cases(self, state: str | None = None) -> list[dict]:
        self.catch_up()
        query = select(case_summary).order_by(case_summary.c.reported_at, case_summary.c.case_id)
        if state is not None:
            if state not in STATES[1:]:
                raise InvalidField("state", f"unknown state {state!r}", allowed=STATES[1:])
            query = query.where(case_summary.c.state == state)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def due_cases(self, now: datetime) -> list[UUID]:
        """Cases whose running deadline has passed and whose miss is not yet recorded."""
        self.catch_up()
        query = (select(case_summary.c.case_id)
                 .where(case_summary.c.due_at <= now, case_summary.c.deadline_missed.is_(False))
                 .order_by(case_summary.c.due_at))
        with self.engine.connect() as conn:
            return [UUID(case_id) for case_id in conn.execute(query).scalars()]
