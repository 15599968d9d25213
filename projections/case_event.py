"""`case_event`: the audit trail, one row per event in log order (no reporter identity)."""

from __future__ import annotations

from sqlalchemy import Connection, select, tuple_, update

from projections.case_summary import chunks, sanction_info, stage_of
from projections.bulk import insert_rows, new_row
from projections.tables import case_event
from projections.times import event_times, shown
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
        corrections = [(case_id, event) for _, event, case_id in events if isinstance(event, Case.DateCorrected)]
        elsewhere = _correct(rows, corrections) if corrections else []
        insert_rows(conn, case_event, rows)
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
