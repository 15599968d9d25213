"""`responsiveness`: per PPK (or other grouping), how recommendations were followed up."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from projections.tables import case_summary
from workflow.definitions import PPK_OPEN
from projections.audit.common import _by, _days, _now, _summary, read_side
from projections.places import with_names


def responsiveness(source, now=None, by: str | Iterable[str] = "ppk") -> pd.DataFrame:
    """Per PPK (or other grouping): how recommendations were followed up.

    received: cases recommended; followed_up: a sanction imposed; pending: still awaiting the PPK
    (recommended, under PPK examination or overdue); closed_otherwise: departed or cancelled after the
    recommendation; overdue: pending and past the follow-up deadline (or marked overdue); missed_deadline: the
    follow-up deadline was missed at some point; blocked: personnel data blocked by BKN now;
    mean_days (the *rata-rata* official reports quote)/median_days/p90_days: recommendation to sanction; share_lighter: imposed lighter than recommended,
    among followed-up cases.
    """
    rs = read_side(source)
    columns = _by(by)
    now = _now(rs, now)
    df = _summary(rs, [*columns, "case_id", "imposed_sanction", "state", "due_at", "personnel_data_blocked",
                       "imposed_lighter", "sanctioned_at", "recommended_at", "ppk_overdue"],
                  case_summary.c.recommended_at.is_not(None))
    df["followed_up"] = df["imposed_sanction"].notna()
    df["pending"] = df["state"].isin(PPK_OPEN)
    df["closed_otherwise"] = ~df["followed_up"] & ~df["pending"]
    df["overdue_now"] = df["pending"] & ((df["state"] == "overdue") | (df["due_at"].notna() & (df["due_at"] <= now)))
    df["blocked"] = df["personnel_data_blocked"].astype(bool)
    df["lighter"] = df["imposed_lighter"].eq(True)
    df["days"] = _days(df["sanctioned_at"] - df["recommended_at"]).where(df["followed_up"])
    out = df.groupby(columns, observed=True, sort=True).agg(
        received=("case_id", "size"),
        followed_up=("followed_up", "sum"),
        pending=("pending", "sum"),
        closed_otherwise=("closed_otherwise", "sum"),
        overdue=("overdue_now", "sum"),
        missed_deadline=("ppk_overdue", "sum"),
        blocked=("blocked", "sum"),
        mean_days=("days", "mean"),
        median_days=("days", "median"),
        p90_days=("days", lambda s: s.quantile(0.9)),
        lighter=("lighter", "sum"),
    ).reset_index()
    count_columns = ["received", "followed_up", "pending", "closed_otherwise", "overdue", "missed_deadline",
                     "blocked", "lighter"]
    out[count_columns] = out[count_columns].astype("int64")
    out["follow_up_rate"] = out["followed_up"] / out["received"]
    out["share_lighter"] = (out["lighter"] / out["followed_up"]).where(out["followed_up"] > 0)
    return with_names(out[columns + ["received", "followed_up", "pending", "closed_otherwise", "overdue",
                                     "missed_deadline", "blocked", "follow_up_rate", "mean_days", "median_days",
                                     "p90_days", "lighter", "share_lighter"]])
