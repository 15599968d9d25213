"""The case aggregate: one event class per trigger.

Event bodies only assign what was decided; they never validate, because they run again on every replay and
old history must not be re-judged by newer rules. Every event carries the actor, when it happened as stated
(``occurred_at``), the workflow version it was decided under, the state it led to, and the deadline running
after it (decided when its stage began). When it was recorded is the event's own ``timestamp``. An event written
by `jejak import` says where it came from (``imported_from``: file name, the file's SHA-256, line number), so that
audits can tell a migration of old spreadsheets from an officer recording late.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate


class Case(Aggregate):
    """A complaint that an ASN broke political neutrality, from report to sanction.

    Its attributes are assigned by its events: ``state``, ``era``, ``milestones`` (trigger -> first
    ``occurred_at``), ``history`` (per version: trigger, ``occurred_at`` as corrected, recorded time), the running
    ``deadline``/``due_at``/``deadline_missed`` and the version that started it (``deadline_since``),
    ``personnel_data_blocked``,
    ``escalations``, ``recommendation``, ``sanction``, ``departure`` and the report's parts. (Not annotated:
    eventsourcing would take annotations for constructor arguments.)
    """

    class Event(Aggregate.Event):
        trigger: ClassVar[str]
        class_version = 2  # v2 added imported_from (events of earlier versions were all recorded live)

        actor: dict[str, Any]
        occurred_at: datetime
        workflow_version: str
        state: str
        deadline: str | None
        due_at: datetime | None
        note: str | None
        imported_from: dict[str, Any] | None  # {"file", "sha256", "line"} of the row an import read it from

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["imported_from"] = None

        def apply(self, case: Case) -> None:
            if (self.deadline, self.due_at) != (case.deadline, case.due_at):
                case.deadline_missed = False
                case.deadline_since = self.originator_version
            case.state = self.state
            case.deadline, case.due_at = self.deadline, self.due_at
            case.last_occurred_at = self.occurred_at
            case.milestones.setdefault(self.trigger, self.occurred_at)
            case.history.append((self.trigger, self.occurred_at, self.timestamp))

    class Reported(Event, Aggregate.Created):
        trigger = "report"
        era: str
        source: str  # "report" (laporan) or "finding" (temuan)
        terlapor: dict[str, Any]  # the reported civil servant: name, nip, position, position_group, agency…
        region: dict[str, Any]  # province, regency
        category: str
        election: dict[str, Any]  # kind, year
        incident: dict[str, Any]  # description, place, date, witnesses, evidence
        reporter: dict[str, Any] | None  # {"subject", "sealed"}: encrypted under its own key (privacy.py)
        external_ref: str | None
        class_version = 4  # v2 added the filing deadline, v3 the reason for an explicit era, v4 imported_from
        filing_deadline: str | None  # report_filing or finding_record, when the incident's date was given
        filing_due_at: datetime | None  # by when the report was due after the incident
        era_reason: str | None  # why another era than the one in force on the report's date; None: that one

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["filing_deadline"] = state["filing_due_at"] = None  # not decided before v2

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["era_reason"] = None  # an explicit era needed no reason before v3

        @staticmethod
        def upcast_v3_v4(state: dict[str, Any]) -> None:
            state["imported_from"] = None

        def apply(self, case: Case) -> None:
            case.milestones = {}
            case.history = []
            case.deadline = case.due_at = case.deadline_since = None
            case.deadline_missed = False
            case.personnel_data_blocked = False
            case.escalations = []
            case.recommendation = case.sanction = case.departure = None
            case.commission = None
            case.ppk = self.terlapor["agency"]
            case.era, case.source, case.terlapor = self.era, self.source, self.terlapor
            case.region, case.category, case.election = self.region, self.category, self.election
            case.incident, case.reporter, case.external_ref = self.incident, self.reporter, self.external_ref
            case.filing_due_at = self.filing_due_at
            case.reporter_erased = False
            super().apply(case)

    class ReviewBegun(Event):
        trigger = "begin_review"

    class CorrectionRequested(Event):
        trigger = "request_correction"

    class CorrectionSubmitted(Event):
        trigger = "submit_correction"

    class RegistrationRejected(Event):
        trigger = "reject_registration"

    class Registered(Event):
        trigger = "register"

    class Dismissed(Event):
        trigger = "dismiss"

    class Forwarded(Event):
        trigger = "forward"
        to: str  # kasn or bkn, by era

        def apply(self, case: Case) -> None:
            case.commission = self.to
            super().apply(case)

    class ExaminationBegun(Event):
        trigger = "begin_examination"

    class ReturnedToBawaslu(Event):
        trigger = "return_to_bawaslu"

    class FoundNotProven(Event):
        trigger = "find_not_proven"

    class Rejected(Event):
        trigger = "reject"

    class Recommended(Event):
        trigger = "recommend"
        track: str
        sanction: str
        ppk: str  # agency code of the staffing authority addressed

        def apply(self, case: Case) -> None:
            case.recommendation = {"track": self.track, "sanction": self.sanction, "ppk": self.ppk}
            case.ppk = self.ppk
            super().apply(case)

    class PpkExaminationBegun(Event):
        trigger = "begin_ppk_examination"

    class SanctionImposed(Event):
        trigger = "impose_sanction"
        class_version = 3  # v2 added decree_date, v3 imported_from
        track: str
        sanction: str
        decree_number: str
        decree_date: str | None  # ISO date of the decree (SK), when given

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["decree_date"] = None  # not recorded before v2

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["imported_from"] = None

        def apply(self, case: Case) -> None:
            case.sanction = {"track": self.track, "sanction": self.sanction, "decree_number": self.decree_number,
                             "decree_date": self.decree_date}
            super().apply(case)

    class MarkedOverdue(Event):
        trigger = "mark_overdue"
        missed_deadline: str
        missed_due_at: datetime

        def apply(self, case: Case) -> None:
            super().apply(case)
            case.deadline_missed = True

    class PersonnelDataBlocked(Event):
        trigger = "block_personnel_data"

        def apply(self, case: Case) -> None:
            case.personnel_data_blocked = True
            super().apply(case)

    class PersonnelDataUnblocked(Event):
        trigger = "unblock_personnel_data"

        def apply(self, case: Case) -> None:
            case.personnel_data_blocked = False
            super().apply(case)

    class Escalated(Event):
        trigger = "escalate"
        to: str  # president, kemenpan-rb or kemendagri

        def apply(self, case: Case) -> None:
            case.escalations = [*case.escalations, self.to]
            super().apply(case)

    class Cancelled(Event):
        trigger = "cancel"

    class ReporterErased(Event):
        trigger = "erase_reporter"

        def apply(self, case: Case) -> None:
            case.reporter_erased = True
            super().apply(case)

    class DateCorrected(Event):
        """A stated time that today's rules refuse (an older version took a report dated in year 1), corrected:
        the event keeps what it stated, this one says what it should have said. The case's milestones and, when
        that event started the running deadline, the deadline (recorded here, re-decided) follow the correction."""

        trigger = "correct_date"
        corrected_version: int
        stated_at: datetime  # the occurred_at that event stated
        corrected_at: datetime  # the time it should have stated

        def apply(self, case: Case) -> None:
            trigger, _, recorded_at = case.history[self.corrected_version - 1]
            case.history[self.corrected_version - 1] = (trigger, self.corrected_at, recorded_at)
            case.milestones = {}
            for earlier, at, _ in case.history:
                case.milestones.setdefault(earlier, at)
            super().apply(case)

    class DepartureRecorded(Event):
        trigger = "record_departure"
        reason: str  # left, retired or resigned

        def apply(self, case: Case) -> None:
            case.departure = self.reason
            super().apply(case)

    @property
    def agencies(self) -> set[str]:
        """The agencies whose PPK may act: the employer, and the PPK a recommendation was addressed to."""
        return {self.terlapor["agency"], self.ppk}


EVENT_FOR_TRIGGER: dict[str, type[Case.Event]] = {
    cls.trigger: cls for cls in vars(Case).values() if isinstance(cls, type) and hasattr(cls, "trigger")
    and issubclass(cls, Case.Event) and cls is not Case.Event
}
