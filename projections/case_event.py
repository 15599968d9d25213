"""`case_event`: the audit trail, one row per event in log order (no reporter identity)."""

from __future__ import annotations

from sqlalchemy import Connection, select, tuple_

from projections.case_summary import chunks, sanction_info, stage_of
from projections.bulk import insert_rows, new_row
from projections.tables import case_event
from workflow.case import Case
from workflow.definitions import NEW


def era_of(workflow_version: str) -> str:
    return workflow_version.rsplit("@", 1)[0]


class CaseEvent:
    name = "case_event"
    table = case_event

    def apply(self, conn: Connection, events: list[tuple[int, Case.Event, str]]) -> None:
        # The state before each event: from the page itself, else from the case's previous row.
        first_version: dict[str, int] = {}
        for _, event, case_id in events:
            first_version.setdefault(case_id, event.originator_version)
        wanted = [(case_id, version - 1) for case_id, version in first_version.items() if version > 1]
        state: dict[str, str] = {}
        for part in chunks(wanted):
            query = (select(case_event.c.case_id, case_event.c.state_after)
                     .where(tuple_(case_event.c.case_id, case_event.c.version).in_(part)))
            state.update({row.case_id: row.state_after for row in conn.execute(query)})
        rows = []
        for notification_id, event, case_id in events:
            before = NEW if event.originator_version == 1 else state.get(case_id, "?")
            state[case_id] = event.state
            rows.append(self.row(notification_id, event, case_id, before))
        insert_rows(conn, case_event, rows)

    @staticmethod
    def row(notification_id: int, event: Case.Event, case_id: str, before: str) -> dict:
        actor = event.actor or {}
        role = actor.get("role")
        era = era_of(event.workflow_version)
        row = _ROW.copy()
        row.update(
            notification_id=notification_id, case_id=case_id, version=event.originator_version,
            trigger=event.trigger, event_type=type(event).__name__, actor_role=role or "?",
            actor_scope=actor.get("scope"), actor_id=None if role == "reporter" else actor.get("id"),
            state_before=before, state_after=event.state, stage_after=stage_of(event.state),
            occurred_at=event.occurred_at, recorded_at=event.timestamp, workflow_version=event.workflow_version,
            era=era, note=event.note, deadline=event.deadline, due_at=event.due_at,
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
            row.update(missed_deadline=event.missed_deadline, missed_due_at=event.missed_due_at)
        elif isinstance(event, Case.DepartureRecorded):
            row["reason"] = event.reason
        return row


_ROW = new_row(case_event)
