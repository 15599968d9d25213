"""The workflow's vocabulary (states, stages, triggers, conditions, categories) and the legal eras loaded from
their data files (`workflow/era_files/*.toml`, read by `workflow.eras`).

An era's definition is a `transitions` table (trigger, source, dest) extended with who may fire each trigger,
plus the stage deadlines and the sanction catalogues in force. Nothing here runs: `rules.py` builds the
machines, `decisions.py` consults them before any event is recorded.
"""

from __future__ import annotations

import os
from datetime import date
from functools import cache

from workflow.eras import COMMISSION, Deadline, Era, Vocabulary, era_files, load_eras  # noqa: F401 - re-exported
from workflow.errors import InvalidField

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

PRE_PPK_OPEN = ["reported", "under_review", "awaiting_correction", "under_examination", "forwarded",
                "under_commission_examination"]
PPK_OPEN = ["recommended", "under_ppk_examination", "overdue"]

# The triggers the code can record (each has its event class in workflow.case) and the facts of a case a rule
# may test (workflow.rules.CaseFacts): an era file may use these and no others.
TRIGGERS = ("report", "begin_review", "request_correction", "submit_correction", "reject_registration", "register",
            "dismiss", "forward", "begin_examination", "return_to_bawaslu", "find_not_proven", "reject", "recommend",
            "begin_ppk_examination", "impose_sanction", "mark_overdue", "block_personnel_data",
            "unblock_personnel_data", "escalate", "cancel", "record_departure", "erase_reporter", "correct_date")
CONDITIONS = ("deadline_passed", "deadline_missed", "personnel_data_blocked", "has_reporter_data",
              "reporter_data_in_clear", "has_time_out_of_range")

ESCALATION_TARGETS = ("president", "kemenpan-rb", "kemendagri")
DEPARTURE_REASONS = ("left", "retired", "resigned")  # berhenti / pensiun / APS
CATEGORIES = ("social_media", "partisan_activity", "photo_with_candidate", "declaration", "approaching_party",
              "other")
POSITION_GROUPS = ("functional", "pelaksana", "jpt", "administrator", "pengawas", "non_asn", "other")
# An agency code starts with its type: pemprov-ntb, pemkab-bima, pemkot-kediri, kementerian-pupr, lembaga-bps.
AGENCY_TYPES = {"pemprov": "province", "pemkab": "regency", "pemkot": "city", "kementerian": "ministry",
                "lembaga": "agency"}


# The eras, from their data files (workflow/era_files, then JEJAK_ERAS_DIR): see workflow.eras.
VOCABULARY = Vocabulary(states=tuple(STATES), triggers=TRIGGERS, conditions=CONDITIONS, initial=NEW)
ERAS: dict[str, Era] = load_eras(era_files(os.environ.get("JEJAK_ERAS_DIR")), VOCABULARY)
# Every role some era declares (the order of first declaration), for actors and the read side's categories.
ROLES: list[str] = list(dict.fromkeys(role for era in ERAS.values() for role in era.roles))


def add_era_file(path) -> Era:
    """Load one more era file into this process (a test's fixture; a deployment sets JEJAK_ERAS_DIR instead)."""
    added = load_eras([path], VOCABULARY, ERAS)
    ERAS.clear()
    ERAS.update(added)
    ROLES[:] = list(dict.fromkeys(role for era in ERAS.values() for role in era.roles))
    return next(era for era in added.values() if era.source == str(path))


TRACKS = ("ethics", "discipline", "non_asn")


# The first era also takes the reports from before its start (the 2020 regional elections' complaints began
# before SKB 2020 was signed, and their stages in 2019). Nothing dated earlier is accepted: the default of the
# `JEJAK_EARLIEST_DATE` setting (workflow.settings).
EARLIEST_DATE = date(2019, 1, 1)


def era_for(day: date) -> Era:
    """The era in force on a report's date. Reports before the first era fall under the first one
    (the 2020 regional-election complaints began in June 2020, before SKB 2020 was signed)."""
    ordered = sorted(ERAS.values(), key=lambda e: e.effective_from)
    chosen = ordered[0]
    for era in ordered:
        if era.effective_from <= day:
            chosen = era
    return chosen


@cache
def acting_for(era_id: str, trigger: str, role: str | None) -> str | None:
    """The body that had ceased to act in whose place `role` fired `trigger` on a case of this era (kasn, when BKN
    recommends on a KASN-era case from Sept 2024: see workflow.eras.Handover), else None."""
    era = ERAS.get(era_id)  # an era this process does not load (JEJAK_ERAS_DIR elsewhere): shown as acted
    return era.acting_for(trigger, role) if era is not None else None


def get_era(era_id: str) -> Era:
    try:
        return ERAS[era_id]
    except (KeyError, TypeError):  # TypeError: a list or dict (from JSON input) is not even hashable
        raise InvalidField("era", f"unknown era {era_id!r}", allowed=list(ERAS)) from None
