"""The workflow of a complaint, as data, one definition per legal era.

An era's definition is a `transitions` table (trigger, source, dest) extended with who may fire each trigger,
plus the stage deadlines and the sanction catalogues in force. Nothing here runs: `rules.py` builds the
machines, `commands.py` consults them before any event is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from workflow import sanctions
from workflow.errors import InvalidField
from workflow.sanctions import Sanction

# States. `new` is the machine's initial pseudo-state: a case exists only once reported.
NEW = "new"
STATES = [
    NEW,
    "reported",
    "under_review",
    "awaiting_correction",
    "not_registered",
    "under_examination",
    "dismissed",
    "forwarded",
    "under_commission_examination",
    "not_proven",
    "rejected",
    "recommended",
    "under_ppk_examination",
    "overdue",
    "sanctioned",
    "cancelled",
    "departed",
]
FINAL_STATES = frozenset(
    {"not_registered", "dismissed", "not_proven", "rejected", "sanctioned", "cancelled", "departed"}
)
OPEN_STATES = [s for s in STATES if s != NEW and s not in FINAL_STATES]

# The stage a state belongs to; entering a new stage starts that stage's deadline.
STAGE_OF_STATE = {
    "awaiting_correction": "correction",
    "under_examination": "bawaslu_handling",
    "forwarded": "commission_examination",
    "under_commission_examination": "commission_examination",
    "recommended": "ppk_follow_up",
    "under_ppk_examination": "ppk_follow_up",
    "overdue": "ppk_follow_up",
}

ROLES = ("reporter", "bawaslu", "kasn", "bkn", "ppk", "auditor", "system")
COMMISSION = "commission"  # placeholder in the table: KASN until Aug 2024, BKN from Sept 2024

PRE_PPK_OPEN = ["reported", "under_review", "awaiting_correction", "under_examination", "forwarded",
                "under_commission_examination"]
PPK_OPEN = ["recommended", "under_ppk_examination", "overdue"]

# The lifecycle. `dest: None` is an internal transition: it records an event without changing state.
# `conditions` / `unless` name facts of the case (see rules.CaseFacts); they are pure reads.
LIFECYCLE = [
    dict(trigger="report", source=NEW, dest="reported", roles=["reporter", "bawaslu"]),
    dict(trigger="begin_review", source="reported", dest="under_review", roles=["bawaslu"]),
    dict(trigger="request_correction", source="under_review", dest="awaiting_correction", roles=["bawaslu"]),
    dict(trigger="submit_correction", source="awaiting_correction", dest="under_review", roles=["reporter"]),
    dict(trigger="reject_registration", source=["under_review", "awaiting_correction"], dest="not_registered",
         roles=["bawaslu"]),
    dict(trigger="register", source="under_review", dest="under_examination", roles=["bawaslu"]),
    dict(trigger="dismiss", source="under_examination", dest="dismissed", roles=["bawaslu"]),
    dict(trigger="forward", source="under_examination", dest="forwarded", roles=["bawaslu"]),
    dict(trigger="begin_examination", source="forwarded", dest="under_commission_examination",
         roles=[COMMISSION]),
    dict(trigger="return_to_bawaslu", source=["forwarded", "under_commission_examination"],
         dest="under_examination", roles=[COMMISSION]),
    dict(trigger="find_not_proven", source="under_commission_examination", dest="not_proven",
         roles=[COMMISSION]),
    dict(trigger="recommend", source="under_commission_examination", dest="recommended", roles=[COMMISSION]),
    dict(trigger="begin_ppk_examination", source=["recommended", "overdue"], dest="under_ppk_examination",
         roles=["ppk"]),
    dict(trigger="impose_sanction", source=PPK_OPEN, dest="sanctioned", roles=["ppk"]),
    dict(trigger="mark_overdue", source=["recommended", "under_ppk_examination"], dest="overdue",
         roles=["system"], conditions="deadline_passed", unless="deadline_missed"),
    dict(trigger="mark_overdue", source=["awaiting_correction", "under_examination", "forwarded",
                                         "under_commission_examination", "overdue"], dest=None,
         roles=["system"], conditions="deadline_passed", unless="deadline_missed"),
    dict(trigger="block_personnel_data", source=PPK_OPEN, dest=None, roles=["bkn"],
         unless="personnel_data_blocked"),
    dict(trigger="unblock_personnel_data", source=PPK_OPEN + ["sanctioned", "departed", "cancelled"], dest=None,
         roles=["bkn"], conditions="personnel_data_blocked"),
    dict(trigger="escalate", source="overdue", dest=None, roles=[COMMISSION]),
    dict(trigger="cancel", source=PRE_PPK_OPEN + PPK_OPEN, dest="cancelled", roles=["bawaslu", COMMISSION]),
    dict(trigger="record_departure", source=PRE_PPK_OPEN + PPK_OPEN, dest="departed", roles=["ppk", "bkn"]),
    # On the reporter's request, Bawaslu (which received the report) erases their personal data.
    # Reports recorded before the data was sealed (an early version) hold it in clear: no key to destroy.
    dict(trigger="erase_reporter", source=STATES[1:], dest=None, roles=["bawaslu"], conditions="has_reporter_data",
         unless="reporter_data_in_clear"),
    # An event stating a time that today's rules refuse (an older version took a report dated in year 1) is
    # corrected by Bawaslu, which keeps the case file, with a new event: the history keeps both.
    dict(trigger="correct_date", source=STATES[1:], dest=None, roles=["bawaslu"], conditions="has_time_out_of_range"),
]

# Seen in BKN's 2024 system: a complaint can be rejected outright at verification.
BKN_2024_EXTRAS = [
    dict(trigger="reject", source=["forwarded", "under_commission_examination"], dest="rejected",
         roles=[COMMISSION]),
]

TRIGGERS = sorted({t["trigger"] for t in LIFECYCLE + BKN_2024_EXTRAS})


@dataclass(frozen=True)
class Deadline:
    """How long a stage may take. `days=None` means no deadline is published (off by default)."""

    days: int | None
    working_days: bool = False
    party: str = ""  # the role that owes the next step
    basis: str = ""
    verified: bool = False

    def describe(self) -> str:
        if self.days is None:
            return "none"
        return f"{self.days} {'working ' if self.working_days else ''}days"


# Deadline defaults (DOMAIN.md); every one can be overridden by a setting (settings.py).
# `bawaslu_handling` differs by election kind, hence the suffixed keys.
COMMON_DEADLINES = {
    "report_filing": Deadline(7, party="reporter", basis="Perbawaslu 7/2022; UU 7/2017 Art. 454 (law: 7 working days)"),
    "finding_record": Deadline(7, party="bawaslu", basis="UU 7/2017 Art. 454(5)", verified=True),
    "correction": Deadline(3, party="reporter", basis="Bawaslu guidance"),
    "bawaslu_handling.pemilu": Deadline(7, party="bawaslu", basis="UU 7/2017 Art. 454(7)-(8)", verified=True),
    "bawaslu_handling.pilkada": Deadline(5, party="bawaslu", basis="UU 10/2016 Art. 134 (3 + 2 days)"),
    "commission_examination": Deadline(None, party="kasn", basis="none published"),
    "ppk_follow_up": Deadline(14, party="ppk", basis="SKB 2020/2022 (a 2020 statement says 10)"),
}
BKN_2024_DEADLINES = {
    **COMMON_DEADLINES,
    "commission_examination": Deadline(7, party="bkn", basis="BKN statement (task-force verification)",
                                       verified=True),
}

ESCALATION_TARGETS = ("president", "kemenpan-rb", "kemendagri")
DEPARTURE_REASONS = ("left", "retired", "resigned")  # berhenti / pensiun / APS
CATEGORIES = ("social_media", "partisan_activity", "photo_with_candidate", "declaration", "approaching_party",
              "other")
POSITION_GROUPS = ("functional", "pelaksana", "jpt", "administrator", "pengawas", "non_asn", "other")
# An agency code starts with its type: pemprov-ntb, pemkab-bima, pemkot-kediri, kementerian-pupr, lembaga-bps.
AGENCY_TYPES = {"pemprov": "province", "pemkab": "regency", "pemkot": "city", "kementerian": "ministry",
                "lembaga": "agency"}


@dataclass(frozen=True)
class Era:
    """A legal era's workflow: the rule table, deadlines and sanctions in force from a date."""

    id: str
    title: str
    effective_from: date
    revision: int
    commission: str  # the role that examines and recommends: kasn or bkn
    discipline: dict[str, Sanction]
    deadlines: dict[str, Deadline]
    extra_transitions: list[dict] = field(default_factory=list)

    @property
    def version(self) -> str:
        """The workflow version recorded on every event decided under this era."""
        return f"{self.id}@{self.revision}"

    @property
    def transitions(self) -> list[dict]:
        """The rule table with the commission placeholder resolved to this era's role."""
        resolved = []
        for row in LIFECYCLE + self.extra_transitions:
            roles = [self.commission if r == COMMISSION else r for r in row["roles"]]
            resolved.append({**row, "roles": roles})
        return resolved

    def sanctions(self, track: str) -> dict[str, Sanction]:
        return {"ethics": sanctions.ETHICS, "discipline": self.discipline, "non_asn": sanctions.NON_ASN}[track]

    @property
    def all_sanctions(self) -> dict[str, Sanction]:
        return {**sanctions.ETHICS, **self.discipline, **sanctions.NON_ASN}


ERAS = {
    era.id: era
    for era in [
        Era("skb-2020", "SKB 2020: BKN blocking introduced, PP 53/2010 sanctions, KASN recommends",
            date(2020, 9, 10), 1, "kasn", sanctions.PP_53_2010, COMMON_DEADLINES),
        Era("pp94-2021", "PP 94/2021 discipline catalogue, KASN recommends",
            date(2021, 8, 31), 1, "kasn", sanctions.PP_94_2021, COMMON_DEADLINES),
        Era("skb-2022", "SKB 2022 joint guidelines, PP 94/2021 sanctions, KASN recommends",
            date(2022, 9, 22), 1, "kasn", sanctions.PP_94_2021, COMMON_DEADLINES),
        Era("bkn-2024", "Post-KASN: BKN verifies within 7 days and recommends (UU 20/2023, Perpres 92/2024)",
            date(2024, 9, 1), 1, "bkn", sanctions.PP_94_2021, BKN_2024_DEADLINES, BKN_2024_EXTRAS),
    ]
}
TRACKS = ("ethics", "discipline", "non_asn")


# The first era also takes the reports from before its start (the 2020 regional elections' complaints began
# before SKB 2020 was signed, and their stages in 2019). Nothing dated earlier is accepted: the default of the
# `JEJAK_EARLIEST_DATE` setting (workflow.settings).
EARLIEST_DATE = date(2019, 1, 1)


def era_for(day: date) -> Era:
    """The era in force on a report's date. Reports before the first era fall under the first one
    (the 2020 regional-election complaints began in June 2020, before SKB 2020 was signed)."""
    chosen = ERAS["skb-2020"]
    for era in sorted(ERAS.values(), key=lambda e: e.effective_from):
        if era.effective_from <= day:
            chosen = era
    return chosen


def get_era(era_id: str) -> Era:
    try:
        return ERAS[era_id]
    except (KeyError, TypeError):  # TypeError: a list or dict (from JSON input) is not even hashable
        raise InvalidField("era", f"unknown era {era_id!r}", allowed=list(ERAS)) from None
