"""`funnel`: reported → registered → forwarded → recommended → sanctioned, counted in SQL, grouped and
cumulative as of dates."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import and_, case, func, select

from projections.tables import case_summary
from projections.audit.common import _by, _cutoff, _dates, _frame, _label, _sql_before, read_side
from projections.audit.common import FUNNEL_STEPS
from projections.places import with_names


def _reached(rs, columns: list[str], suffix: str, cutoffs: list) -> pd.DataFrame:
    """Per group (ungrouped: one row), how many cases reached each funnel step (by each cutoff: column
    ``<step>_<i>``), counted in SQL; groups sorted as pandas sorts them, cases with a null key left out."""
    sums = []
    for i, cutoff in enumerate(cutoffs):
        for step in FUNNEL_STEPS:
            at = case_summary.c[f"{step}{suffix}"]
            reached = at.is_not(None) if cutoff is None else and_(at.is_not(None), _sql_before(at, cutoff))
            sums.append(func.coalesce(func.sum(case((reached, 1), else_=0)), 0).label(f"{step}_{i}"))
    keys = [case_summary.c[name] for name in columns]
    query = select(*keys, *sums).where(*(key.is_not(None) for key in keys)).group_by(*keys)
    counts = _frame(rs, case_summary, query)
    if columns:
        counts = counts.sort_values(columns, kind="stable").reset_index(drop=True)
    return counts


def funnel(source, by: str | Iterable[str] | None = None, as_of=None, recorded: bool = False) -> pd.DataFrame:
    """Reported → registered → forwarded → recommended → sanctioned: how many cases reached each step.

    `by`: group by one or more of GROUPABLE. `as_of`: a date/datetime or a list of them — counts of the
    cases that had reached each step by then (one row per date and group, column ``as_of``), so a cumulative
    curve can be drawn. `recorded=True` counts by when the steps were recorded instead of when they happened.
    ``<step>_rate`` is the share of the previous step that reached this one; ``overall_rate`` sanctioned/reported.
    """
    rs = read_side(source)
    columns = _by(by)
    suffix = "_recorded_at" if recorded else "_at"
    dates = _dates(as_of)
    cutoffs = [None] if not dates else [_cutoff(rs, when, "as_of") for when in dates]
    counts = _reached(rs, columns, suffix, cutoffs)
    frames = []
    for i, when in enumerate(dates or [None]):
        frame = counts[columns + [f"{step}_{i}" for step in FUNNEL_STEPS]]
        frame = frame.set_axis(columns + list(FUNNEL_STEPS), axis=1)
        if when is not None:
            frame.insert(0, "as_of", _label(when))
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out[list(FUNNEL_STEPS)] = out[list(FUNNEL_STEPS)].astype("int64")
    for previous, step in zip(FUNNEL_STEPS, FUNNEL_STEPS[1:]):
        out[f"{step}_rate"] = (out[step] / out[previous]).where(out[previous] > 0)
    out["overall_rate"] = (out["sanctioned"] / out["reported"]).where(out["reported"] > 0)
    return with_names(out)
