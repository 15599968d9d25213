"""The read-side queries the dashboard needs beyond the audits: which elections, provinces and eras there are,
the cumulative curve of an election, one agency's cases, one case's timeline, and the hash chain's head.

All of them read the read models (after catching them up, as every audit does); none replays events. The
numbers come from the same functions as `jejak audit` and ``GET /api/v1/audits/…`` (`projections.audits`), so
the pages, the notebooks and the API agree."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from sqlalchemy import func, select

from projections.audit.common import FUNNEL_STEPS, _cutoff, _sql_before, _summary, read_side
from projections.tables import case_event, case_summary, event_chain


def choice_sets(source, columns: list[str], recommended_only: bool = False) -> dict[str, list[str]]:
    """The distinct values of several `case_summary` columns at once (one query), each sorted."""
    rs = read_side(source)
    query = select(*(case_summary.c[name] for name in columns)).distinct()
    if recommended_only:
        query = query.where(case_summary.c.recommended_at.is_not(None))
    rows = rs.rows(query)
    return {name: sorted({str(row[name]) for row in rows if row[name] is not None}) for name in columns}


def elections(source) -> list[str]:
    """Elections in the store, the latest first (by year, then name)."""
    names = choice_sets(source, ["election"])["election"]
    return sorted(names, key=lambda name: (name.rsplit("-", 1)[-1], name), reverse=True)


def election_span(source, election: str) -> tuple[date, date] | None:
    """The first report's and the last event's local dates of an election's cases (None: no cases)."""
    rs = read_side(source)
    c = case_summary.c
    row = rs.rows(select(func.min(c.reported_at).label("first"), func.max(c.updated_at).label("last"))
                  .where(c.election == election))[0]
    if row["first"] is None:
        return None
    zone = rs.app.settings.zone
    return row["first"].astimezone(zone).date(), row["last"].astimezone(zone).date()


def cumulative_curve(source, election: str, until: date | None = None, points: int = 24,
                     recorded: bool = False) -> pd.DataFrame:
    """How many of an election's cases had been reported, registered, forwarded, recommended and followed up
    (sanctioned) by the end of each of `points` evenly spaced local dates, from the day before the first report
    to `until` (default: the last event's day). One row per date (column ``as_of``, a date), the funnel's
    columns: the counts `audits.funnel(by="election", as_of=…)` gives for those dates, from one read of the
    election's milestone times (sorted and searched, rather than one SQL sum per date and step)."""
    rs = read_side(source)
    span = election_span(rs, election)
    if span is None:
        return pd.DataFrame(columns=["as_of", *FUNNEL_STEPS])
    first, last = span[0] - timedelta(days=1), until or span[1]
    last = max(last, first)
    step = max(1, -(-(last - first).days // max(1, points - 1)))
    dates = sorted({*(first + timedelta(days=step * i) for i in range(points)
                      if first + timedelta(days=step * i) < last), last})
    suffix = "_recorded_at" if recorded else "_at"
    times = _summary(rs, [f"{name}{suffix}" for name in FUNNEL_STEPS], case_summary.c.election == election)
    ends = pd.DatetimeIndex([_cutoff(rs, day, "as_of")[0] for day in dates])  # the end of each local day
    out = pd.DataFrame({"as_of": dates})
    for name in FUNNEL_STEPS:
        reached = times[f"{name}{suffix}"].dropna().sort_values()
        out[name] = reached.searchsorted(ends, side="left").astype("int64")  # strictly before the day's end
    return out


def agency_cases(source, ppk: str, now=None) -> pd.DataFrame:
    """The cases addressed to one PPK (recommended to it, or of its staff): state, open or not, days since
    the report (to `now` or the close), the running deadline. Oldest report first."""
    from projections.audit.common import _now

    rs = read_side(source)
    c = case_summary.c
    frame = _summary(rs, ["case_id", "state", "is_open", "era", "election", "province", "reported_at", "closed_at",
                          "deadline", "due_at", "recommended_at", "sanctioned_at"], c.ppk == ppk)
    end = frame["closed_at"].fillna(_now(rs, now))
    frame["age_days"] = (end - frame["reported_at"]) / pd.Timedelta(days=1)
    return frame


def case_timeline(source, case_id: str, as_of=None) -> pd.DataFrame:
    """One case's events from `case_event`, in order; with `as_of` only those that had happened by then (a
    date: by the end of that local day)."""
    rs = read_side(source)
    query = select(case_event).where(case_event.c.case_id == str(case_id)).order_by(case_event.c.version)
    if as_of is not None:
        query = query.where(_sql_before(case_event.c.occurred_at, _cutoff(rs, as_of, "as_of")))
    return pd.DataFrame(rs.rows(query), columns=[column.name for column in case_event.columns])


def case_row(source, case_id: str) -> dict | None:
    """One case's `case_summary` row, or None."""
    rows = read_side(source).rows(select(case_summary).where(case_summary.c.case_id == str(case_id)))
    return rows[0] if rows else None


def chain_head(source) -> dict | None:
    """The hash chain's last link: ``{"digest": HEX, "position": N, "events": seq}``, None on an empty store."""
    rows = read_side(source).rows(select(event_chain.c.link, event_chain.c.position, event_chain.c.seq)
                                  .order_by(event_chain.c.position.desc()).limit(1))
    if not rows:
        return None
    return {"digest": rows[0]["link"], "position": rows[0]["position"], "events": rows[0]["seq"]}
