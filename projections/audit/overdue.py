"""`overdue`: open cases past their deadline, and who owes the next step (after a handover, the body that
took over)."""

from __future__ import annotations

import pandas as pd

from projections.tables import case_summary
from workflow.definitions import get_era
from projections.audit.common import _app, _days, _now, _sql_before, _summary, read_side
from projections.places import with_names


def _responsible(row, day, settings) -> tuple[str, str, str | None]:
    """(role, who, handover) owing the next step for a case's running deadline on `day`; a commission that had
    ceased to act by then is replaced by the body that took its pending cases over (`handover` says so)."""
    stage = row.stage
    handovers = ()
    try:
        era = get_era(row.era)
        key = f"{stage}.{row.election_kind}" if stage == "bawaslu_handling" else stage
        party = era.deadlines[key].party if key in era.deadlines else ""
        commission, handovers = era.commission, era.handovers
    except Exception:
        party, commission = "", row.commission or ""
    if stage == "ppk_follow_up":
        return "ppk", f"ppk:{row.ppk}", None
    if stage == "bawaslu_handling":
        return "bawaslu", f"bawaslu:{row.regency or row.province}", None
    if stage == "commission_examination":
        role = row.commission or commission
        for handover in handovers:
            if handover.role == role and day >= settings.handover_day(handover):
                return handover.to, handover.to, f"{role} -> {handover.to} on {settings.handover_day(handover)}"
        return role, role, None
    if stage == "correction":
        return "reporter", "reporter", None
    return party or "?", party or "?", None


def overdue(source, now=None) -> pd.DataFrame:
    """Open cases whose running deadline has passed by `now`, most overdue first, with the party that owes
    the next step. `marked` says whether the miss is already recorded (mark_overdue)."""
    rs = read_side(source)
    now = _now(rs, now)
    c = case_summary.c
    df = _summary(rs, ["case_id", "state", "stage", "deadline", "due_at", "deadline_missed", "era", "province",
                       "regency", "agency", "ppk", "escalated", "election_kind", "commission"],
                  c.is_open.is_(True), c.due_at.is_not(None), _sql_before(c.due_at, (now, True)))
    settings = _app(rs).settings
    day = now.tz_convert(settings.zone).date()
    parties = [_responsible(row, day, settings) for row in df.itertuples(index=False)]
    df["responsible_role"] = [p[0] for p in parties]
    df["responsible"] = [p[1] for p in parties]
    df["handover"] = pd.array([p[2] for p in parties], dtype="str")
    df["days_overdue"] = _days(now - df["due_at"])
    df["marked"] = df["deadline_missed"].astype(bool)
    columns = ["case_id", "state", "stage", "deadline", "due_at", "days_overdue", "responsible_role", "responsible",
               "handover", "marked", "era", "province", "regency", "agency", "ppk", "escalated"]
    return with_names(df.sort_values(["days_overdue", "case_id"], ascending=[False, True])[columns]
                      .reset_index(drop=True))
