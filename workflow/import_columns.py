"""The columns of an import file: the report's, who acted, and one dated column per milestone with the fields it
needs (`jejak import --columns` lists them). Standard library only: the CLI loads this on every start."""

from __future__ import annotations

from workflow.fields import REPORT_FIELDS

# The report: REPORT_FIELDS plus these.
REPORT_COLUMNS = {
    "reported_at": "when the report was filed (or the finding recorded) [required]",
    "actor": "who filed it (default: reporter if reporter_name is given, else the Bawaslu of the region)",
    "era": "handle the case under this era, not the one in force on reported_at (needs era_reason)",
    "era_reason": "why the case is under another era than the one in force on reported_at",
    "note": "a note on the report",
}


class Milestone:
    """A dated column and the trigger it stands for. (Plain classes here, not dataclasses: the CLI imports
    this module on every start, and each dataclass costs about a millisecond to create.)"""

    __slots__ = ("column", "trigger", "role", "fields", "by_column")

    def __init__(self, column: str, trigger: str, role: str, fields: dict[str, str] | None = None):
        self.column = column  # the date column, e.g. registered_at
        self.trigger = trigger
        self.role = role  # default actor: bawaslu, commission, ppk, bkn or system
        self.fields = fields or {}  # column -> the trigger's field
        self.by_column = column.removesuffix("_at") + "_by"  # per-step actor override

    def __repr__(self) -> str:
        return f"Milestone({self.column!r}, {self.trigger!r})"


# In the order they apply when two fall on the same moment.
MILESTONES = (
    Milestone("review_begun_at", "begin_review", "bawaslu"),
    Milestone("not_registered_at", "reject_registration", "bawaslu"),
    Milestone("registered_at", "register", "bawaslu"),
    Milestone("dismissed_at", "dismiss", "bawaslu"),
    Milestone("forwarded_at", "forward", "bawaslu"),
    Milestone("examination_begun_at", "begin_examination", "commission"),
    Milestone("not_proven_at", "find_not_proven", "commission"),
    Milestone("rejected_at", "reject", "commission"),
    Milestone("recommended_at", "recommend", "commission",
              {"recommended_track": "track", "recommended_sanction": "sanction", "recommended_ppk": "ppk"}),
    Milestone("ppk_examination_begun_at", "begin_ppk_examination", "ppk"),
    Milestone("overdue_at", "mark_overdue", "system"),
    Milestone("blocked_at", "block_personnel_data", "bkn"),
    Milestone("escalated_at", "escalate", "commission", {"escalated_to": "to"}),
    Milestone("unblocked_at", "unblock_personnel_data", "bkn"),
    Milestone("sanctioned_at", "impose_sanction", "ppk",
              {"sanction": "sanction", "decree_number": "decree_number", "decree_date": "decree_date"}),
    Milestone("cancelled_at", "cancel", "bawaslu"),
    Milestone("departed_at", "record_departure", "ppk", {"departure_reason": "reason"}),
)

# Default actors per role, overridable for the whole row (e.g. bawaslu_actor=bawaslu:prov-ntb@andi) or per
# step (registered_by=bawaslu:kab-bima@rina).
ROLE_COLUMNS = {
    "bawaslu_actor": "Bawaslu steps (default bawaslu:<regency, else province>)",
    "commission_actor": "KASN/BKN steps (default kasn or bkn, by the case's era)",
    "ppk_actor": "PPK steps (default ppk:<recommended_ppk, else agency>)",
}

COLUMNS: dict[str, str] = {
    **{key: description + (" [required]" if required else "") for key, (required, description) in REPORT_FIELDS.items()},
    **REPORT_COLUMNS,
    **{column: description for column, description in ROLE_COLUMNS.items()},
}
for _m in MILESTONES:
    COLUMNS[_m.column] = f"when '{_m.trigger}' happened (date or date-time)"
    for _column, _name in _m.fields.items():
        COLUMNS[_column] = f"{_m.trigger}: {_name}"
    COLUMNS[_m.by_column] = f"who did '{_m.trigger}' (default: by role {_m.role})"
REQUIRED_COLUMNS = [key for key, (required, _) in REPORT_FIELDS.items() if required] + ["reported_at"]
