"""`case_summary`: one row per case with where it stands now, its milestones, sanctions and stage durations."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from functools import cache
from operator import attrgetter
from typing import NamedTuple
from uuid import UUID

from sqlalchemy import Connection, delete

from projections.places import region_columns
from projections.row_writer import insert_rows, new_row, sqlite_rows
from projections.tables import MILESTONES, STAGES, case_summary
from projections.times import event_times, shown
from workflow.case import Case
from workflow.definitions import FINAL_STATES, STAGE_OF_STATE, acting_for, get_era
from workflow.errors import InvalidField

log = logging.getLogger(__name__)
_MILESTONE_OF_TRIGGER = {trigger: name for name, trigger in MILESTONES.items()}
INTAKE_STATES = ("reported", "under_review")


def stage_of(state: str) -> str | None:
    """The stage a state belongs to (see tables.STAGES), None for final states."""
    if state in INTAKE_STATES:
        return "intake"
    return STAGE_OF_STATE.get(state)


def days_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86400.0


def sanction_info(era_id: str, code: str) -> tuple[str | None, int | None]:
    """(level, severity) of a sanction code in an era's catalogues."""
    try:
        found = get_era(era_id).all_sanctions.get(code)
    except Exception:  # an unknown era in old history: keep the code, leave the severity open
        found = None
    return (found.level, found.severity) if found else (None, None)


class EventFacts(NamedTuple):
    """What the fold reads of an event: from the decoded event (`facts_of`) or, where PostgreSQL makes `case_event`,
    from the row it made of it (projections.case_event_feed). A report starts a row from the whole event, and a
    date correction folds its case again from its events: those two are always decoded."""

    originator_version: int
    event_type: str
    trigger: str
    role: str | None
    state: str
    at: datetime  # projections.times.event_times: the time shown, when recorded, the stated time when not shown
    recorded_at: datetime
    stated: str | None
    due_at: datetime | None  # shown
    deadline: str | None
    workflow_version: str
    to: str | None  # Forwarded, Escalated
    ppk: str | None  # Recommended
    track: str | None  # Recommended, SanctionImposed
    sanction: str | None
    decree_number: str | None  # SanctionImposed
    decree_date: str | None
    missed_deadline: str | None  # MarkedOverdue
    reason: str | None  # DepartureRecorded


def facts_of(event: Case.Event, corrected: datetime | None = None) -> EventFacts:
    """The facts of a decoded event; `corrected`: the time a ``correct_date`` event gave it."""
    at, recorded_at, stated = event_times(event, corrected)
    given = vars(event).get  # the fields of one kind of event (`to`…), None on the others
    return _facts((event.originator_version, type(event).__name__, event.trigger, (event.actor or {}).get("role"),
                   event.state, at, recorded_at, stated, shown(event.due_at), event.deadline, event.workflow_version,
                   given("to"), given("ppk"), given("track"), given("sanction"), given("decree_number"),
                   given("decree_date"), given("missed_deadline"), given("reason")))


_facts = EventFacts._make  # from a tuple as it is: no keyword matching


def chunks(items: list, size: int = 2000):
    for i in range(0, len(items), size):
        yield items[i:i + size]


class CaseSummaryProjector:
    """Folds each case's events into its `case_summary` row, written once a batch (see projections.catchup)."""

    name = "case_summary"
    table = case_summary
    folds_facts = True  # may be fed `case_event`'s rows as EventFacts (projections.case_event_feed)

    def __init__(self, app=None):
        self.app = app  # to fold a case again from its events after a `correct_date`
        self.discard()

    def apply(self, conn: Connection, events: list[tuple[int, Case.Event, str]]) -> None:
        # A case's row comes from this batch's earlier pages, else from the table; cases reported in this page
        # have no row yet.
        held = self._held
        rows, wanted = {}, set()
        for _, event, case_id in events:
            if event.originator_version == 1:
                rows[case_id] = None  # made below from its report
            elif case_id not in rows:
                row = held.get(case_id)
                if row is None:
                    wanted.add(case_id)
                else:
                    rows[case_id] = row
        if wanted:
            found_rows, addresses = existing_rows(conn, sorted(wanted), self._texts)
            rows.update(found_rows)
            self._addresses += addresses
            self._read.extend(found_rows)  # their case ids
        for _, event, case_id in events:
            if isinstance(event, Case.Reported):
                rows[case_id] = self._new_row(case_id, event)
            if rows.get(case_id) is None:  # its report is missing from the log: `jejak verify` will say why
                log.warning("case %s: event v%s without a report; skipped", case_id, event.originator_version)
                continue
            refolded = self._refold(case_id, event.originator_version) if isinstance(event, Case.DateCorrected) \
                else None
            if refolded is not None:
                rows[case_id] = refolded
            else:
                self._fold(rows[case_id], event if type(event) is EventFacts else facts_of(event))
        held.update((case_id, row) for case_id, row in rows.items() if row is not None)

    def held_rows(self) -> int:
        return len(self._held)

    def flush(self, conn: Connection) -> None:
        """Replace the rows read from the table with the ones folded."""
        delete_rows(conn, self._addresses, self._read_before)
        if self._held:
            insert_rows(conn, case_summary, map(row_values, self._held.values()), self._texts)
        self.discard()

    def carried_over(self) -> None:
        """The held rows outlived a commit: the addresses of the rows read are no longer theirs to trust."""
        self._read_before += self._read
        self._read, self._addresses = [], []

    def discard(self) -> None:
        self.holding: tuple[int, int] | None = None  # set by the catch-up while rows are kept past a commit
        self._held: dict[str, SummaryRow] = {}  # case id: its folded row
        self._read: list[str] = []  # the cases whose row was read from the table in this transaction,
        self._addresses: list = []  # and where (on PostgreSQL their row addresses, valid in this transaction)
        self._read_before: list[str] = []  # those read in an earlier transaction (the rows are kept past commits)
        self._texts: dict[datetime, str] = {}  # SQLite: the stored text of the times read, written back as it was

    def _refold(self, case_id: str, version: int) -> SummaryRow | None:
        """The case's row folded again from its events up to this correction, each at its corrected time: what
        the row would be had the times been right from the start (page boundaries make no difference)."""
        if self.app is None:
            raise RuntimeError("case_summary needs the application to fold a corrected case again")
        events = list(self.app.events.get(UUID(case_id), lte=version))
        if not events or not isinstance(events[0], Case.Reported):  # a log edited by hand: `jejak verify` says
            log.warning("case %s does not begin with its report; its correction v%s is folded as it is",
                        case_id, version)
            return None
        corrected = {e.corrected_version: e.corrected_at for e in events if isinstance(e, Case.DateCorrected)}
        row = self._new_row(case_id, events[0], corrected.get(1))
        for event in events:
            self._fold(row, facts_of(event, corrected.get(event.originator_version)))
        return row

    @staticmethod
    def _new_row(case_id: str, event: Case.Reported, corrected: datetime | None = None) -> SummaryRow:
        at = event_times(event, corrected)[0]
        filing_due_at = shown(event.filing_due_at)
        values = _NO_VALUES.copy()  # by name, then positional: keywords are matched one by one against 113 names
        values.update(
            case_id=case_id, era=event.era, workflow_version=event.workflow_version, source=event.source,
            has_reporter=bool(event.reporter), external_ref=event.external_ref,
            **region_columns(event.region["province"], event.region["regency"], event.region.get("province_code"),
                             event.region.get("regency_code"), event.occurred_at.date()),
            agency=event.terlapor["agency"], agency_type=event.terlapor["agency_type"],
            ppk=event.terlapor["agency"], position_group=event.terlapor["position_group"],
            category=event.category, election=f"{event.election['kind']}-{event.election['year']}",
            election_kind=event.election["kind"], election_year=int(event.election["year"]),
            filing_deadline=event.filing_deadline, filing_due_at=filing_due_at,
            filed_late=None if filing_due_at is None else at >= filing_due_at, era_reason=event.era_reason,
            replaced_times=0, **import_origin(event),
            state="new", deadline_missed=False, overdue=False, overdue_count=0, ppk_overdue=False,
            personnel_data_blocked=False, ever_blocked=False, escalated=False, escalation_count=0,
            **{f"days_{stage}": 0.0 for stage in STAGES}, **{f"stints_{stage}": 0 for stage in STAGES},
            **{f"had_deadline_{stage}": False for stage in STAGES},
            **{f"over_deadline_{stage}": False for stage in STAGES},
        )
        return SummaryRow(*values.values())

    @staticmethod
    def _fold(row: SummaryRow, event: EventFacts) -> None:
        at, recorded_at, due_at, kind = event.at, event.recorded_at, event.due_at, event.event_type
        if event.stated is not None:
            row.replaced_times += 1
        if (row.deadline, row.due_at) != (event.deadline, due_at):
            row.deadline_missed = False
        # stage durations: close the running stint when the stage changes
        new_stage = stage_of(event.state)
        if new_stage != row.stage:
            if row.stage is not None:
                _close_stint(row, row.stage, at)
            row.stage, row.stage_entered_at = new_stage, (at if new_stage else None)
        milestone = _MILESTONE_OF_TRIGGER.get(event.trigger)
        if milestone and getattr(row, f"{milestone}_at") is None:
            setattr(row, f"{milestone}_at", at)
            setattr(row, f"{milestone}_recorded_at", recorded_at)
        if event.state in FINAL_STATES and row.closed_at is None:
            row.closed_at, row.closed_recorded_at = at, recorded_at
        row.version, row.state, row.is_open = event.originator_version, event.state, event.state not in FINAL_STATES
        row.workflow_version, row.updated_at, row.updated_recorded_at = event.workflow_version, at, recorded_at
        row.deadline, row.due_at = event.deadline, due_at
        role = event.role
        receiver = role if acting_for(row.era, event.trigger, role) else None  # acting for a body that ended
        if kind == "Forwarded":
            row.commission = event.to
            commission = era_commission(row.era)
            if commission is not None and event.to != commission:  # forwarded to the body that took over
                receiver = event.to
        elif kind == "Recommended":
            row.ppk, row.recommended_track, row.recommended_sanction = event.ppk, event.track, event.sanction
            row.recommended_level, row.recommended_severity = sanction_info(row.era, event.sanction)
            _lighter(row)
        elif kind == "SanctionImposed":
            row.imposed_track, row.imposed_sanction = event.track, event.sanction
            row.imposed_level, row.imposed_severity = sanction_info(row.era, event.sanction)
            row.decree_number, row.decree_date = event.decree_number, event.decree_date
            _lighter(row)
        elif kind == "MarkedOverdue":
            row.deadline_missed = row.overdue = True
            row.overdue_count += 1
            if event.missed_deadline == "ppk_follow_up":
                row.ppk_overdue = True
        elif kind == "PersonnelDataBlocked" or kind == "PersonnelDataUnblocked":
            blocked = kind == "PersonnelDataBlocked"
            row.personnel_data_blocked = blocked
            row.ever_blocked = row.ever_blocked or blocked
        elif kind == "Escalated":
            targets = [t for t in (row.escalated_to or "").split(",") if t] + [event.to]
            row.escalated, row.escalation_count, row.escalated_to = True, row.escalation_count + 1, ",".join(targets)
        elif kind == "DepartureRecorded":
            row.departure_reason = event.reason
        elif event.trigger == "erase_reporter":
            row.has_reporter = False
        if receiver and row.handed_over_to is None:
            row.handed_over_to, row.handed_over_at, row.commission = receiver, at, receiver


# A case's row while a catch-up folds it: one slot a column, in the table's order, each None until set. A catch-up
# holds up to `batch_rows` of them; as dicts of 113 keys they took 4.7 KB each (a table of 256 entries), as slots
# 0.9 KB: ~5× the cases in the same memory, so that a large store's cases fit one batch (issue 23).
_NO_VALUES = new_row(case_summary)
_COLUMNS = tuple(_NO_VALUES)
SummaryRow = dataclasses.make_dataclass("SummaryRow", [(name, object, None) for name in _COLUMNS], slots=True)
row_values = attrgetter(*_COLUMNS)  # a row's values as a tuple in the table's order, as `insert_rows` wants them


@cache
def era_commission(era_id: str) -> str | None:
    try:
        return get_era(era_id).commission
    except InvalidField:
        return None


# PostgreSQL: the ids as one array, each looked up by the primary key. The OFFSET 0 keeps the planner from
# flattening the lateral subquery into a join, which it may plan as a sequential scan of the whole table once the
# list is long next to the table: then a catch-up's cost grows with the square of the store (issue 23).
_SELECT_PG = ("SELECT found.* FROM unnest(%(ids)s::text[]) AS wanted(case_id) CROSS JOIN LATERAL"
              " (SELECT *, ctid::text AS row_address FROM case_summary"
              " WHERE case_summary.case_id = wanted.case_id OFFSET 0) AS found")
_DELETE_PG = "DELETE FROM case_summary WHERE ctid = ANY(%(addresses)s::tid[])"  # the rows just read, directly
_DELETE_IDS_PG = "DELETE FROM case_summary WHERE case_id = ANY(%(ids)s::text[])"


def existing_rows(conn: Connection, ids: list[str], texts: dict | None = None) \
        -> tuple[dict[str, SummaryRow], list]:
    """The summary rows of these cases, and what `delete_rows` needs to delete them (on PostgreSQL their row
    addresses, valid in this transaction; SQLite: `texts` learns the stored text of their times, see
    row_writer.sqlite_rows)."""
    if not ids:
        return {}, []
    if conn.dialect.name == "postgresql":  # the driver's rows: psycopg gives timezone-aware times already
        result = conn.exec_driver_sql(_SELECT_PG, {"ids": ids})
        names = list(result.keys())
        at = {name: i for i, name in enumerate(names)}
        order = [at[name] for name in _COLUMNS]
        rows, addresses = {}, []
        for row in result:
            rows[row[0]] = SummaryRow(*[row[i] for i in order])
            addresses.append(row[-1])
        return rows, addresses
    rows = {}
    for part in chunks(ids):
        for values in sqlite_rows(conn, case_summary, case_summary.c.case_id.in_(part), texts):
            row = SummaryRow(*values)
            rows[row.case_id] = row
    return rows, list(rows)


def delete_rows(conn: Connection, addresses: list, ids: list[str] = ()) -> None:
    """Delete the rows `existing_rows` read in this transaction (`addresses`), and those of cases read before
    (`ids`: on PostgreSQL a row's address is not its own past the transaction)."""
    if conn.dialect.name == "postgresql":
        if addresses:
            conn.exec_driver_sql(_DELETE_PG, {"addresses": addresses})
        if ids:
            conn.exec_driver_sql(_DELETE_IDS_PG, {"ids": list(ids)})
        return
    for part in chunks([*addresses, *ids]):
        conn.execute(delete(case_summary).where(case_summary.c.case_id.in_(part)))


def _close_stint(row: SummaryRow, stage: str, left_at: datetime) -> None:
    """A stint in `stage` ends: its days, and whether the deadline running in it (the row's, still) passed."""
    days, stints = f"days_{stage}", f"stints_{stage}"
    setattr(row, days, getattr(row, days) + days_between(row.stage_entered_at, left_at))
    setattr(row, stints, getattr(row, stints) + 1)
    if row.due_at is not None:
        setattr(row, f"had_deadline_{stage}", True)
        if left_at > row.due_at:
            setattr(row, f"over_deadline_{stage}", True)


def _lighter(row: SummaryRow) -> None:
    rec, imp = row.recommended_severity, row.imposed_severity
    row.imposed_lighter = None if rec is None or imp is None else imp < rec


def import_origin(event) -> dict:
    """The `import_*` columns of an event: where `jejak import` read it (all null for a live one)."""
    origin = event.imported_from or {}
    return {"import_file": origin.get("file"), "import_sha256": origin.get("sha256"),
            "import_line": origin.get("line")}


