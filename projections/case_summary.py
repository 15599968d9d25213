"""`case_summary`: one row per case with where it stands now."""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from projections.tables import case_summary
from workflow.case import Case


class CaseSummary:
    name = "case_summary"
    table = case_summary

    def apply(self, conn: Connection, events: list[tuple[int, Case.Event]]) -> None:
        ids = {str(event.originator_id) for _, event in events}
        rows = {row.case_id: dict(row._mapping)
                for row in conn.execute(select(case_summary).where(case_summary.c.case_id.in_(ids)))}
        for _, event in events:
            case_id = str(event.originator_id)
            if isinstance(event, Case.Reported):
                rows[case_id] = self._new_row(case_id, event)
            self._fold(rows[case_id], event)
        conn.execute(delete(case_summary).where(case_summary.c.case_id.in_(ids)))
        conn.execute(case_summary.insert(), list(rows.values()))

    @staticmethod
    def _new_row(case_id: str, event: Case.Reported) -> dict:
        return dict(
            case_id=case_id, era=event.era, workflow_version=event.workflow_version, source=event.source,
            province=event.region["province"], regency=event.region["regency"],
            agency=event.terlapor["agency"], agency_type=event.terlapor["agency_type"],
            ppk=event.terlapor["agency"], position_group=event.terlapor["position_group"],
            category=event.category, election=f"{event.election['kind']}-{event.election['year']}",
            reported_at=event.occurred_at, deadline_missed=False, personnel_data_blocked=False, escalated=False,
        )

    @staticmethod
    def _fold(row: dict, event: Case.Event) -> None:
        if (row.get("deadline"), row.get("due_at")) != (event.deadline, event.due_at):
            row["deadline_missed"] = False
        row.update(version=event.originator_version, state=event.state, updated_at=event.occurred_at,
                   deadline=event.deadline, due_at=event.due_at)
        if isinstance(event, Case.Recommended):
            row["ppk"] = event.ppk
        elif isinstance(event, Case.MarkedOverdue):
            row["deadline_missed"] = True
        elif isinstance(event, (Case.PersonnelDataBlocked, Case.PersonnelDataUnblocked)):
            row["personnel_data_blocked"] = isinstance(event, Case.PersonnelDataBlocked)
        elif isinstance(event, Case.Escalated):
            row["escalated"] = True
