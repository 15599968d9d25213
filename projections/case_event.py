"""`case_event`: the audit trail, one row per event in log order (no reporter identity)."""

from __future__ import annotations

from sqlalchemy import Connection, Integer, String, and_, column, select, update, values

from projections.case_summary import chunks, import_origin, sanction_info, stage_of
from projections.row_writer import insert_rows, new_row
from projections.tables import case_event
from projections.times import event_times, shown
from workflow.case import Case
from workflow.definitions import NEW, acting_for


def era_of(workflow_version: str) -> str:
    return workflow_version.rsplit("@", 1)[0]


class CaseEventProjector:
    """Projects each event into its `case_event` row (the read model; the domain event is `Case.Event`)."""

    name = "case_event"
    table = case_event

    def __init__(self):
        # The state after the latest event of each case this projector has seen: {case_id: (version, state)}.
        # Events never change, so an entry is right for its version even if the transaction that applied it
        # rolled back; a catch-up from zero, and a follower, then find the state before an event here.
        self._last: dict[str, tuple[int, str]] = {}

    def apply(self, conn: Connection, events: list[tuple[int, Case.Event, str]]) -> None:
        last = self._last
        if len(last) > REMEMBERED_CASES:
            last.clear()
        # The state before each event: the previous event's, from the page, from memory, else from the table.
        wanted: dict[str, int] = {}
        seen: set[str] = set()
        for _, event, case_id in events:
            if case_id not in seen:
                seen.add(case_id)
                version = event.originator_version
                known = last.get(case_id)
                if version > 1 and (known is None or known[0] != version - 1):
                    wanted[case_id] = version - 1
        if wanted:
            for case_id, state in states_after(conn, list(wanted.items())):
                last[case_id] = (wanted[case_id], state)
        rows = []
        for notification_id, event, case_id in events:
            version = event.originator_version
            known = last.get(case_id)
            before = NEW if version == 1 else (known[1] if known and known[0] == version - 1 else "?")
            last[case_id] = (version, event.state)
            rows.append(self.row(notification_id, event, case_id, before))
        corrections = [(case_id, event) for _, event, case_id in events if isinstance(event, Case.DateCorrected)]
        elsewhere = _correct(rows, corrections) if corrections else []
        insert_rows(conn, case_event, [tuple(row.values()) for row in rows])
        for case_id, version, values in elsewhere:  # rows of earlier pages
            conn.execute(update(case_event).where(case_event.c.case_id == case_id, case_event.c.version == version)
                         .values(**values))

    @staticmethod
    def row(notification_id: int, event: Case.Event, case_id: str, before: str) -> dict:
        actor = event.actor or {}
        role = actor.get("role")
        era = era_of(event.workflow_version)
        occurred_at, recorded_at, stated = event_times(event)
        row = _ROW.copy()
        row.update(
            notification_id=notification_id, case_id=case_id, version=event.originator_version,
            trigger=event.trigger, event_type=type(event).__name__, actor_role=role or "?",
            actor_scope=actor.get("scope"), actor_id=None if role == "reporter" else actor.get("id"),
            state_before=before, state_after=event.state, stage_after=stage_of(event.state),
            occurred_at=occurred_at, recorded_at=recorded_at, workflow_version=event.workflow_version,
            era=era, note=event.note, deadline=event.deadline, due_at=shown(event.due_at), occurred_at_stated=stated,
            **import_origin(event), acting_for=acting_for(era, event.trigger, role),
        )
        if isinstance(event, (Case.Forwarded, Case.Escalated)):
            row["target"] = event.to
        elif isinstance(event, Case.Recommended):
            row.update(track=event.track, sanction=event.sanction, ppk=event.ppk,
                       severity=sanction_info(era, event.sanction)[1])
        elif isinstance(event, Case.SanctionImposed):
            row.update(track=event.track, sanction=event.sanction, decree_number=event.decree_number,
                       decree_date=event.decree_date,
                       severity=sanction_info(era, event.sanction)[1])
        elif isinstance(event, Case.MarkedOverdue):
            row.update(missed_deadline=event.missed_deadline, missed_due_at=shown(event.missed_due_at))
        elif isinstance(event, Case.DepartureRecorded):
            row["reason"] = event.reason
        elif isinstance(event, Case.DateCorrected):
            row["corrects_version"] = event.corrected_version
        return row


def _correct(rows: list[dict], corrections: list[tuple[str, Case.DateCorrected]]) -> list[tuple[str, int, dict]]:
    """A corrected event's row shows the corrected time (its stated one kept beside it): patched here when it is
    in this page, else returned to be updated (a read model is derived data; the events stay as they are)."""
    in_page = {(row["case_id"], row["version"]): row for row in rows}
    elsewhere = []
    for case_id, correction in corrections:
        values = {"occurred_at": shown(correction.corrected_at),
                  "occurred_at_stated": correction.stated_at.isoformat()}
        row = in_page.get((case_id, correction.corrected_version))
        if row is not None:
            row.update(values)
        else:
            elsewhere.append((case_id, correction.corrected_version, values))
    return elsewhere


_ROW = new_row(case_event)
REMEMBERED_CASES = 1_000_000  # ~150 MB at most; past it the memory starts over (and asks the table again)


_STATES_PG = ("SELECT wanted.case_id, found.state_after"
              " FROM unnest(%(ids)s::text[], %(versions)s::int[]) AS wanted(case_id, version) CROSS JOIN LATERAL"
              " (SELECT state_after FROM case_event WHERE case_event.case_id = wanted.case_id"
              " AND case_event.version = wanted.version OFFSET 0) AS found")


def states_after(conn: Connection, pairs: list[tuple[str, int]]) -> list[tuple[str, str]]:
    """(case id, state after) of the given (case id, version) events, by index lookups on (case_id, version).

    On PostgreSQL the pairs go as two arrays, each pair looked up in a lateral subquery that OFFSET 0 keeps from
    being flattened into a join: one index probe a pair, whatever the planner estimates. A row-value ``IN`` list
    was planned there, from a few hundred pairs on, as a sequential scan of the whole table with one OR term a
    pair, once a page: a catch-up's cost grew with the square of the store. SQLite scans the table for
    such an ``IN`` list at any length; it is given the pairs as a ``VALUES`` table joined to the index instead
    (tests/test_read_side_plans.py checks both plans)."""
    if conn.dialect.name == "postgresql":
        ids, versions = [case_id for case_id, _ in pairs], [version for _, version in pairs]
        return list(conn.exec_driver_sql(_STATES_PG, {"ids": ids, "versions": versions}))
    found = []
    for part in chunks(pairs):
        wanted = values(column("case_id", String), column("version", Integer), name="wanted").data(part).cte()
        query = select(case_event.c.case_id, case_event.c.state_after).join_from(
            wanted, case_event,
            and_(case_event.c.case_id == wanted.c.case_id, case_event.c.version == wanted.c.version))
        found += conn.execute(query).all()
    return found


