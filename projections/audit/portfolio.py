"""`portfolio_as_of` / `portfolio`: which cases were in which state on a date."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from projections.tables import STAGES, case_event
from workflow.definitions import STATES
from projections.audit.common import _before, _cutoff, _dates, _frame, _label, read_side


def portfolio_as_of(source, when, recorded: bool = False) -> pd.DataFrame:
    """Every case that existed at `when` (a date: end of that local day; a datetime: inclusive), with the
    state it was in then, computed from `case_event`. `recorded=True`: as the record stood then."""
    rs = read_side(source)
    return _portfolio_as_of(rs, _portfolio_events(rs), when, recorded)


def _portfolio_as_of(rs, events: pd.DataFrame, when, recorded: bool) -> pd.DataFrame:
    at = events["recorded_at"] if recorded else events["occurred_at"]
    known = events[_before(at, _cutoff(rs, when, "as_of"))]
    if recorded:
        known = known.sort_values("notification_id")
    else:
        known = known.sort_values(["case_id", "version"])
    last = known.groupby("case_id", sort=True).tail(1)
    out = pd.DataFrame({
        "case_id": last["case_id"].to_numpy(),
        "state": pd.Categorical(last["state_after"], categories=STATES[1:]),
        "stage": pd.Categorical(last["stage_after"], categories=STAGES),
        "version": last["version"].to_numpy(),
        "since": last["occurred_at"].to_numpy(),
        "era": last["era"].to_numpy(),
    })
    out["since"] = pd.to_datetime(out["since"], utc=True)
    return out.sort_values("case_id").reset_index(drop=True)


def _portfolio_events(rs) -> pd.DataFrame:
    """The columns of `case_event` a portfolio needs."""
    e = case_event.c
    return _frame(rs, case_event, select(e.notification_id, e.case_id, e.version, e.state_after, e.stage_after,
                                         e.occurred_at, e.recorded_at, e.era))


def portfolio(source, dates, recorded: bool = False) -> pd.DataFrame:
    """How many cases were in each state on each date: one row per date, one column per state."""
    rs = read_side(source)
    events = _portfolio_events(rs)  # read once for all the dates
    rows = []
    for when in _dates(dates):
        counts = _portfolio_as_of(rs, events, when, recorded)["state"].value_counts()
        rows.append({"as_of": _label(when), **{state: int(counts.get(state, 0)) for state in STATES[1:]}})
    return pd.DataFrame(rows, columns=["as_of", *STATES[1:]])
