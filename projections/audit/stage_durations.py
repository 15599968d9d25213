"""`stage_durations` and `stage_stints`: per stage, the days cases spent there and the share over the deadline."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from sqlalchemy import select

from projections.tables import STAGES, case_event
from projections.audit.common import _by, _days, _frame, _now, _summary, read_side
from projections.places import with_names


def _stint_starts(rs) -> pd.DataFrame:
    """The events that begin a stint (their stage is set and differs from the case's previous event's), by
    case and version, with the time the stint ended: the case's next event in another stage (NaT: still
    there). Only the columns this needs are read, and ordered here (SQLite sorts them 2x slower) by their
    codes: the text columns are taken once, for the stints."""
    e = case_event.c
    events = _frame(rs, case_event, select(e.case_id, e.version, e.era, e.stage_after, e.occurred_at, e.deadline,
                                           e.due_at))
    cases, stages = pd.factorize(events["case_id"])[0], pd.factorize(events["stage_after"])[0]  # no stage: -1
    order = np.lexsort((events["version"].to_numpy(), cases))
    cases, stages = cases[order], stages[order]
    previous = np.full(len(stages), -1)
    previous[1:] = np.where(cases[1:] == cases[:-1], stages[:-1], -1)
    changed = stages != previous
    changes, change_cases, begins = order[changed], cases[changed], stages[changed] != -1
    next_in_case = np.zeros(len(changes), dtype=bool)
    next_in_case[:-1] = change_cases[:-1] == change_cases[1:]
    left_at = events["occurred_at"].take(changes).shift(-1).where(next_in_case)
    starts = events.take(changes[begins]).reset_index(drop=True)
    return pd.DataFrame({"case_id": starts["case_id"], "era": starts["era"], "stage": starts["stage_after"],
                         "entered_at": starts["occurred_at"], "left_at": left_at[begins].reset_index(drop=True),
                         "deadline": starts["deadline"], "due_at": starts["due_at"]})


def stage_stints(source, now=None) -> pd.DataFrame:
    """One row per stint of a case in a stage: entered_at, left_at (NaT if still there), days (to `now` if
    open), the deadline running in it and whether the stint went past it."""
    rs = read_side(source)
    now = _now(rs, now)
    frame = _stint_starts(rs)
    frame["open"] = frame["left_at"].isna()
    end = frame["left_at"].fillna(now)
    frame["days"] = _days(end - frame["entered_at"])
    frame["over_deadline"] = (end > frame["due_at"]).where(frame["due_at"].notna())
    frame["stage"] = pd.Categorical(frame["stage"], categories=STAGES)
    return frame.sort_values(["case_id", "entered_at"], kind="stable").reset_index(drop=True)


def stage_durations(source, now=None, include_open: bool = False, by: str | Iterable[str] | None = None
                    ) -> pd.DataFrame:
    """Per stage: how many cases went through it, the distribution of days spent there (per case, summed over
    stints) and the share of cases that went past the deadline running in it. Open stints count up to `now`
    only with `include_open=True`. Read from `case_summary`, which keeps each case's finished stints per
    stage (the same stints as `stage_stints`, without reading every event)."""
    rs = read_side(source)
    columns = _by(by)
    now = _now(rs, now)
    kept = [f"{kind}_{stage}" for stage in STAGES for kind in ("days", "stints", "had_deadline", "over_deadline")]
    cases = _summary(rs, ["case_id", *columns, "stage", "stage_entered_at", "due_at", *kept])
    parts = []
    for stage in STAGES:
        part = cases[["case_id", *columns]].assign(
            days=cases[f"days_{stage}"].astype("float64"), went=cases[f"stints_{stage}"] > 0,
            has_deadline=cases[f"had_deadline_{stage}"].astype(bool),
            over=cases[f"over_deadline_{stage}"].astype(bool))
        if include_open:  # the stint the case is in now, up to `now`
            here = cases["stage"].eq(stage).to_numpy()
            due = cases["due_at"][here]
            part.loc[here, "days"] += _days(now - cases["stage_entered_at"][here]).to_numpy()
            part.loc[here, "went"] = True
            part.loc[here, "has_deadline"] |= due.notna().to_numpy()
            part.loc[here, "over"] |= (now > due).where(due.notna(), False).to_numpy(dtype=bool)
        parts.append(part[part["went"]].assign(stage=stage))
    per_case = pd.concat(parts, ignore_index=True)
    per_case["stage"] = pd.Categorical(per_case["stage"], categories=STAGES)
    out = per_case.groupby(["stage", *columns], observed=True, sort=True).agg(
        cases=("case_id", "size"),
        mean_days=("days", "mean"),
        median_days=("days", "median"),
        p90_days=("days", lambda s: s.quantile(0.9)),
        max_days=("days", "max"),
        with_deadline=("has_deadline", "sum"),
        over_deadline=("over", "sum"),
    ).reset_index()
    out[["cases", "with_deadline", "over_deadline"]] = out[["cases", "with_deadline", "over_deadline"]].astype("int64")
    out["share_over_deadline"] = (out["over_deadline"] / out["with_deadline"]).where(out["with_deadline"] > 0)
    out["stage"] = out["stage"].astype(str)
    return with_names(out)
