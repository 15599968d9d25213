"""`case_summary`'s fold fed from `case_event`'s rows, on the path where PostgreSQL makes them
(projections.case_event_sql): the events' JSON is then decoded once, by PostgreSQL, not again in Python.

Reading a page of the log and decoding it with eventsourcing's mapper costs the catch-up's one Python process
~11 µs an event; reading back the row PostgreSQL made of it ~2 µs. So the Python side reads `case_event`'s rows
once PostgreSQL's side has committed them (the two sides run as a pipeline, a page apart) and folds their
`EventFacts`; it decodes in Python only what the fold needs whole: reports (a new row from the whole report) and
date corrections (the case folded again from its events). A row that a later correction patched is folded as
patched; that correction, later in the log, folds its case again from the events, so the rows are the same as the
Python path's (tests/test_case_event_sql.py holds both paths to the same `case_summary`).
"""

from __future__ import annotations

import threading
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from sqlalchemy import Connection

from projections.case_summary import EventFacts
from workflow.case import Case
from workflow.recorder_adapter import postgres_events_table

DECODED = (Case.Reported, Case.DateCorrected)

# Each row's facts in EventFacts' order; the stored event only for the kinds decoded whole (the lateral subquery's
# condition on the row is a one-time filter: no lookup of the log for the others).
_FACTS = """
SELECT c.notification_id, c.case_id,
       c.version, c.event_type, c.trigger, nullif(c.actor_role, '?'), c.state_after, c.occurred_at, c.recorded_at,
       c.occurred_at_stated, c.due_at, c.deadline, c.workflow_version, c.target, c.ppk, c.track, c.sanction,
       c.decree_number, c.decree_date, c.missed_deadline, c.reason,
       e.state
FROM (SELECT * FROM case_event WHERE notification_id > %(after)s AND notification_id <= %(until)s
      ORDER BY notification_id LIMIT %(limit)s) AS c
LEFT JOIN LATERAL (SELECT state FROM {events} WHERE c.event_type = ANY(%(decoded)s)
                   AND notification_id = c.notification_id OFFSET 0) AS e ON true
ORDER BY c.notification_id
"""


class Committed:
    """How far PostgreSQL's side has committed `case_event`, for the Python side to wait on."""

    def __init__(self, position: int):
        self.position = position
        self.over = False  # PostgreSQL's side has stopped (done or failed): nothing more will come
        self._changed = threading.Condition()

    def advance(self, position: int) -> None:
        with self._changed:
            self.position = max(self.position, position)
            self._changed.notify_all()

    def end(self) -> None:
        with self._changed:
            self.over = True
            self._changed.notify_all()

    def past(self, after: int, up_to: int) -> int:
        """Wait until PostgreSQL's side has committed past `after` (or stopped); how far one may read."""
        with self._changed:
            self._changed.wait_for(lambda: self.position > after or self.over)
            return up_to if self.over else min(self.position, up_to)


class CaseEventFeed:
    """`read(conn, after, size, up_to)`: the next page as (notification id, facts or decoded event, case id), as
    projections.catchup hands pages to projectors, once `case_event` holds it."""

    def __init__(self, app, committed: Committed):
        from psycopg import sql

        self.mapper = app.mapper
        self.committed = committed
        self._facts = sql.SQL(_FACTS).format(events=postgres_events_table(app.recorder)).as_string(None)
        self._topics = {cls.__name__: get_topic(cls) for cls in DECODED}

    def read(self, conn: Connection, after: int, size: int, up_to: int) -> list[tuple[int, object, str]]:
        if after >= up_to:  # nothing left to fold: no need to wait for PostgreSQL's side
            return []
        until = self.committed.past(after, up_to)
        rows = conn.exec_driver_sql(self._facts, {"after": after, "until": until, "limit": size,
                                                  "decoded": list(self._topics)})
        to_domain_event, topics, make = self.mapper.to_domain_event, self._topics, EventFacts._make
        page = []
        for row in rows:
            state = row[-1]
            if state is None:
                page.append((row[0], make(row[2:-1]), row[1]))
            else:  # a report or a correction: the whole event
                stored = StoredEvent(originator_id=UUID(row[1]), originator_version=row[2], topic=topics[row[3]],
                                     state=bytes(state))
                page.append((row[0], to_domain_event(stored), row[1]))
        return page


def feeds(in_python, in_database) -> bool:
    """Whether the Python side can be fed from `case_event`: PostgreSQL makes it in this catch-up, and every
    projector left in Python folds facts."""
    return any(p.name == "case_event" for p in in_database) and bool(in_python) \
        and all(getattr(p, "folds_facts", False) for p in in_python)

