"""What every audit shares: the read side, reading frames, cutoffs and durations, grouping, narrow queries."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import select

from projections.cutoffs import before as _before  # noqa: F401 - the audits import it from here
from projections.cutoffs import cutoff
from projections.tables import STAGES, case_event, case_summary
from workflow.definitions import ROLES, STATES, TRIGGERS
from workflow.errors import InvalidField


AUDITS = ("responsiveness", "funnel", "stage_durations", "overdue", "backdating")
FUNNEL_STEPS = ("reported", "registered", "forwarded", "recommended", "sanctioned")
GROUPABLE = ("election", "election_kind", "election_year", "province", "regency", "agency_type", "agency", "ppk",
             "category", "position_group", "era", "source", "province_reported", "regency_reported")
DAY = pd.Timedelta(days=1)


# --- loading --------------------------------------------------------------------------------------------

def read_side(source):
    from projections.readside import ReadSide

    return source if isinstance(source, ReadSide) else ReadSide(source)


def _frame(rs, table, query=None) -> pd.DataFrame:
    from projections.frames import read_frame  # column-wise, without per-row result processing (2x faster)

    return read_frame(rs, table, query if query is not None else select(table))


def case_summary_frame(source, categorical: bool = False) -> pd.DataFrame:
    """`case_summary` as a DataFrame (one row per case), ordered by report time."""
    rs = read_side(source)
    frame = _frame(rs, case_summary, select(case_summary).order_by(case_summary.c.reported_at,
                                                                   case_summary.c.case_id))
    if categorical:
        frame["state"] = pd.Categorical(frame["state"], categories=STATES[1:])
        frame["stage"] = pd.Categorical(frame["stage"], categories=STAGES)
        for name in ("era", "source", "province", "regency", "agency", "agency_type", "ppk", "position_group",
                     "category", "election", "election_kind", "commission", "recommended_track",
                     "recommended_sanction", "recommended_level", "imposed_track", "imposed_sanction",
                     "imposed_level", "deadline"):
            frame[name] = frame[name].astype("category")
    return frame


def case_event_frame(source, case_id=None, categorical: bool = False) -> pd.DataFrame:
    """`case_event` as a DataFrame (one row per event), in log order; one case's if `case_id` is given."""
    rs = read_side(source)
    query = select(case_event).order_by(case_event.c.notification_id)
    if case_id is not None:
        query = query.where(case_event.c.case_id == str(case_id))
    frame = _frame(rs, case_event, query)
    if categorical:
        frame["trigger"] = pd.Categorical(frame["trigger"], categories=TRIGGERS)
        frame["state_before"] = pd.Categorical(frame["state_before"], categories=STATES)
        frame["state_after"] = pd.Categorical(frame["state_after"], categories=STATES)
        frame["stage_after"] = pd.Categorical(frame["stage_after"], categories=STAGES)
        frame["actor_role"] = pd.Categorical(frame["actor_role"], categories=ROLES)
        for name in ("event_type", "actor_scope", "workflow_version", "era", "deadline", "target", "track",
                     "sanction", "ppk", "reason", "missed_deadline"):
            frame[name] = frame[name].astype("category")
    return frame


# --- time helpers ---------------------------------------------------------------------------------------

def _zone(source):
    app = getattr(source, "app", source)
    return app.settings.zone


def _app(source):
    return getattr(source, "app", source)


def _now(source, now) -> pd.Timestamp:
    return _cutoff(source, _app(source).clock() if now is None else now, "now")[0]


def _cutoff(source, when, name: str = "date") -> tuple[pd.Timestamp, bool]:
    return cutoff(_app(source), when, name)


def _label(when) -> str:
    return when.isoformat() if hasattr(when, "isoformat") else str(when)


def _days(delta: pd.Series) -> pd.Series:
    return delta / DAY


def _by(by) -> list[str]:
    if by is None:
        return []
    columns = [by] if isinstance(by, str) else list(by)
    for column in columns:
        if column not in GROUPABLE:
            raise InvalidField("by", f"cannot group by {column!r}", allowed=GROUPABLE)
    return columns


def _dates(as_of) -> list:
    if as_of is None:
        return []
    if isinstance(as_of, (str, date, datetime, pd.Timestamp)):
        return [as_of]
    return list(as_of)


# --- narrow queries -------------------------------------------------------------------------------------

def _summary(rs, names: list[str], *where) -> pd.DataFrame:
    """These `case_summary` columns of the cases matching `where`, ordered by report time (as
    `case_summary_frame`): only what an audit uses crosses into pandas. No match: no rows, each column typed
    by its SQL type (read_frame's empty frame)."""
    query = select(*(case_summary.c[name] for name in dict.fromkeys(names)))
    order = (case_summary.c.reported_at, case_summary.c.case_id)
    return _frame(rs, case_summary, query.where(*where).order_by(*order))


def _sql_before(column, cutoff: tuple[pd.Timestamp, bool]):
    """`_before` in SQL (the instant is a whole microsecond, as `_cutoff` makes it and as times are stored)."""
    instant, inclusive = cutoff
    bound = instant.to_pydatetime()
    return (column <= bound) if inclusive else (column < bound)
