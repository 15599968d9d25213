"""Accountability audits over the read models, as pandas DataFrames.

Every function takes the application (a `workflow.application.Jejak`) or a `ReadSide`, catches the read models
up first, and returns a DataFrame. Durations are in days (fractional). Times are timezone-aware (UTC).
A *date* cutoff (``2020-09-30``) means "by the end of that day" in the configured local time zone
(``JEJAK_TZ``, Asia/Jakarta by default); a *datetime* cutoff is inclusive.

- `responsiveness`: per PPK — recommendations received, followed up, pending, overdue, blocked, median and
  90th-percentile days from recommendation to sanction, share imposed lighter than recommended.
- `funnel`: reported → registered → forwarded → recommended → sanctioned, counts and step rates, optionally
  grouped and cumulative as of one or more dates.
- `stage_durations` (and `stage_stints`): per stage, distribution of days and share over the deadline.
- `overdue`: open cases past their deadline, days overdue and the responsible party.
- `backdating`: events recorded long after they are said to have occurred, and events recorded out of order.
- `portfolio_as_of` / `portfolio`: which cases were in which state on a date.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, func, or_, select

from projections.tables import STAGES, case_event, case_summary
from workflow.definitions import PPK_OPEN, ROLES, STATES, TRIGGERS, get_era
from workflow.commands import CLOCK_SKEW, check_moment
from workflow.errors import InvalidField

AUDITS = ("responsiveness", "funnel", "stage_durations", "overdue", "backdating")
FUNNEL_STEPS = ("reported", "registered", "forwarded", "recommended", "sanctioned")
GROUPABLE = ("election", "election_kind", "election_year", "province", "regency", "agency_type", "agency", "ppk",
             "category", "position_group", "era", "source")
DAY = pd.Timedelta(days=1)


# --- loading --------------------------------------------------------------------------------------------

def read_side(source):
    from projections.readside import ReadSide

    return source if isinstance(source, ReadSide) else ReadSide(source)


def _frame(rs, table, query=None) -> pd.DataFrame:
    from projections.bulk import read_frame  # column-wise, without per-row result processing (2x faster)

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
    """(UTC instant, inclusive): a date means the end of that local day (exclusive), a datetime is inclusive.
    Either within reason, as every stated time: from the earliest date accepted up to now."""
    app = _app(source)
    if isinstance(when, str):
        text = when.strip()
        try:
            when = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise InvalidField(name, f"cannot read {when!r}", allowed="YYYY-MM-DD or an ISO datetime") from None
    if isinstance(when, pd.Timestamp):
        when = when.to_pydatetime()
    if isinstance(when, datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=_zone(source))
        when = check_moment(name, when, app.clock(), app.settings)
        return pd.Timestamp(when.astimezone(timezone.utc)), True
    if isinstance(when, date):
        today = (app.clock() + CLOCK_SKEW).astimezone(_zone(source)).date()
        if not app.settings.earliest_date <= when <= today:
            raise InvalidField(name, f"{when.isoformat()} is not a date from {app.settings.earliest_date} "
                                     f"(JEJAK_EARLIEST_DATE) to today ({today})")
        end = datetime.combine(when + timedelta(days=1), time(0), tzinfo=_zone(source))
        return pd.Timestamp(end.astimezone(timezone.utc)), False
    raise InvalidField(name, f"not a date: {when!r}", allowed="a date, a datetime or YYYY-MM-DD")


def _before(series: pd.Series, cutoff: tuple[pd.Timestamp, bool]) -> pd.Series:
    instant, inclusive = cutoff
    return (series <= instant) if inclusive else (series < instant)


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


# --- audits ---------------------------------------------------------------------------------------------

def responsiveness(source, now=None, by: str | Iterable[str] = "ppk") -> pd.DataFrame:
    """Per PPK (or other grouping): how recommendations were followed up.

    received: cases recommended; followed_up: a sanction imposed; pending: still awaiting the PPK
    (recommended, under PPK examination or overdue); closed_otherwise: departed or cancelled after the
    recommendation; overdue: pending and past the follow-up deadline (or marked overdue); missed_deadline: the
    follow-up deadline was missed at some point; blocked: personnel data blocked by BKN now;
    median_days/p90_days: recommendation to sanction; share_lighter: imposed lighter than recommended,
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
        median_days=("days", "median"),
        p90_days=("days", lambda s: s.quantile(0.9)),
        lighter=("lighter", "sum"),
    ).reset_index()
    count_columns = ["received", "followed_up", "pending", "closed_otherwise", "overdue", "missed_deadline",
                     "blocked", "lighter"]
    out[count_columns] = out[count_columns].astype("int64")
    out["follow_up_rate"] = out["followed_up"] / out["received"]
    out["share_lighter"] = (out["lighter"] / out["followed_up"]).where(out["followed_up"] > 0)
    return out[columns + ["received", "followed_up", "pending", "closed_otherwise", "overdue", "missed_deadline",
                          "blocked", "follow_up_rate", "median_days", "p90_days", "lighter", "share_lighter"]]


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
    return out


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
    return out


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
    return df.sort_values(["days_overdue", "case_id"], ascending=[False, True])[columns].reset_index(drop=True)


def backdating(source, threshold_days: float = 7, order_tolerance_days: float | None = None,
               include_imported: bool = False) -> pd.DataFrame:
    """Events an auditor should look at:

    - ``late_recording``: recorded live more than `threshold_days` after they are said to have occurred
      (``lag_days``);
    - ``out_of_order``: recorded live, said to have occurred more than `order_tolerance_days` (default: the
      threshold) before an event recorded earlier in the log (``earlier_by_days`` before the one at
      ``after_notification_id``), i.e. slipped into the past after later facts were already on record;
    - ``time_out_of_range``: stating a time before the earliest date accepted (``JEJAK_EARLIEST_DATE``; an older
      version took a report dated in year 1), not corrected yet: ``occurred_at_stated`` is what it says, and
      ``occurred_at`` the recorded time when the stated one cannot be shown (see projections.times);
      ``jejak advance CASE correct_date`` corrects it;
    - ``time_corrected``: such a time, corrected by a ``correct_date`` event (``occurred_at`` is the corrected
      time, ``occurred_at_stated`` the stated one);
    - with `include_imported`, ``imported_late_recording`` and ``imported_out_of_order``: the same tests on
      history brought in by `jejak import` (``import_file``, ``import_line``), which is recorded late by nature:
      a migration of old spreadsheets, not an officer recording late, so left out by default.
    """
    threshold_days = _days_option("threshold", threshold_days)
    tolerance = threshold_days if order_tolerance_days is None else _days_option("order_tolerance",
                                                                                 order_tolerance_days)
    rs = read_side(source)
    # "recorded earlier" is by recording time: a batch save (the demo's) stores a batch case by case, so the
    # notification order can differ from the recording order within a batch
    # ordered and computed on the times alone (sorted here: SQLite would sort without an index, 6x slower);
    # the other columns are read afterwards, only as far as the times were
    e = case_event.c
    log = _frame(rs, case_event, select(e.notification_id, e.occurred_at, e.recorded_at, e.import_line)
                 .order_by(e.notification_id))  # row i: the i-th event in log order
    times = log.sort_values(["recorded_at", "notification_id"])
    lag_days = _days(times["recorded_at"] - times["occurred_at"])
    # the latest occurred_at among events recorded before each one, and where it was
    previous_max = times["occurred_at"].cummax().shift(1)
    is_new_max = times["occurred_at"] >= times["occurred_at"].cummax()
    max_at = times["notification_id"].where(is_new_max).ffill().shift(1)
    earlier_by_days = _days(previous_max - times["occurred_at"])
    late, out_of_order = lag_days > threshold_days, earlier_by_days > tolerance
    imported = times["import_line"].notna()
    nan = float("nan")
    parts = [_flags(times, late & ~imported, 0, lag_days, nan, nan),
             _flags(times, out_of_order & ~imported, 1, lag_days, earlier_by_days, max_at),
             _time_flags(rs, log, lag_days)]
    if include_imported:
        parts += [_flags(times, late & imported, 4, lag_days, nan, nan),
                  _flags(times, out_of_order & imported, 5, lag_days, earlier_by_days, max_at)]
    flagged = pd.concat(parts, ignore_index=True).sort_values(["row", "kind"])
    rows = flagged["row"].to_numpy()
    details = _event_details(rs, log["notification_id"], rows)
    out = pd.concat([log.take(rows).reset_index(drop=True), details.loc[rows].reset_index(drop=True)], axis=1)
    out = out[list(_EVENT_COLUMNS)]
    # taken as a string array, not through NumPy objects pandas would infer again (1.25M rows: 0.3 -> 0.05 s)
    out.insert(0, "kind", pd.array(_BACKDATING_KINDS, dtype="str").take(flagged["kind"].to_numpy()))
    for name in ("lag_days", "earlier_by_days"):
        out[name] = flagged[name].to_numpy()
    out["after_notification_id"] = pd.array(flagged["after_notification_id"].to_numpy()).astype("Int64")
    out["occurred_at_stated"] = pd.array(flagged["stated"].to_numpy(), dtype="str")
    out["import_line"] = out["import_line"].astype("Int64")
    return out


def _time_flags(rs, log: pd.DataFrame, lag_days: pd.Series) -> pd.DataFrame:
    """The events stating a time out of range (uncorrected: kind 2) or corrected (kind 3), as `_flags` gives
    them, with the stated time. Few rows: read by a filtered query, not with the whole log."""
    e = case_event.c
    ids = log["notification_id"].to_numpy()
    last = int(ids[-1]) if len(ids) else 0
    marked = _frame(rs, case_event, select(e.notification_id, e.case_id, e.version, e.occurred_at_stated,
                                           e.corrects_version)
                    .where(or_(e.occurred_at_stated.is_not(None), e.corrects_version.is_not(None)),
                           e.notification_id <= last))
    fixes = marked[marked["corrects_version"].notna()]
    corrected = set(zip(fixes["case_id"], fixes["corrects_version"].astype("int64")))
    stated = marked[marked["occurred_at_stated"].notna()]
    kinds = [3 if (case, int(version)) in corrected else 2 for case, version in zip(stated["case_id"],
                                                                                    stated["version"])]
    rows = np.searchsorted(ids, stated["notification_id"].to_numpy())
    texts = list(stated["occurred_at_stated"])
    # shown as stated (1900-2199), but before the earliest date accepted: not corrected (that would move it)
    earliest = pd.Timestamp(_app(rs).settings.earliest_moment.astimezone(timezone.utc))
    early = np.flatnonzero((log["occurred_at"] < earliest).to_numpy())
    early = early[~np.isin(early, rows)]
    rows = np.concatenate([rows, early]).astype("int64")
    kinds += [2] * len(early)
    texts += [log["occurred_at"].iloc[i].isoformat() for i in early]
    return pd.DataFrame({"row": rows, "kind": np.array(kinds, dtype="int64"),
                         "lag_days": lag_days.loc[rows].to_numpy() if len(rows) else np.array([], dtype=float),
                         "earlier_by_days": float("nan"), "after_notification_id": float("nan"), "stated": texts})


def _days_option(name: str, value) -> float:
    """A number of days given as an option: finite (NaN would flag nothing, infinity nothing either)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidField(name, f"must be a finite number of days, got {value!r}", allowed="e.g. 7")
    return float(value)


def _event_details(rs, notification_ids: pd.Series, rows) -> pd.DataFrame:
    """`_EVENT_COLUMNS` other than the times, for the events at these positions of `notification_ids` (all of
    the log read, in order) and at no others: read for just those, or, when they are a large part of the log
    (a store of imported history is all recorded late), for the whole log in one read."""
    e = case_event.c
    names = [name for name in _EVENT_COLUMNS
             if name not in ("notification_id", "occurred_at", "recorded_at", "import_line")]
    query = select(*(e[name] for name in names)).order_by(e.notification_id)
    if len(rows) > len(notification_ids) // 5:
        last = int(notification_ids.iloc[-1])  # events caught up since the times were read are not wanted
        whole = _frame(rs, case_event, query.where(e.notification_id <= last))
        if len(whole) == len(notification_ids):  # row i is still the i-th event (else: by id, below)
            return whole
    wanted = pd.unique(rows)
    ids = notification_ids.take(wanted).tolist()
    parts = [_frame(rs, case_event, query.where(e.notification_id.in_(ids[i:i + 10_000])))
             for i in range(0, len(ids), 10_000)]
    found = pd.concat(parts, ignore_index=True) if parts else _frame(rs, case_event, query.limit(0))
    text = {name: "str" for name in names if name != "version"}  # as whole columns are typed, null or not
    return found.astype(text).set_axis(np.sort(wanted))  # in log order, as read: labelled by position in the log


def _flags(times: pd.DataFrame, mask: pd.Series, kind: int, lag_days, earlier_by_days, after) -> pd.DataFrame:
    """The flagged events of one kind: their row in the log read, and the figures to report."""
    def picked(values):
        return values[mask].to_numpy() if isinstance(values, pd.Series) else values

    return pd.DataFrame({"row": times.index[mask], "kind": kind, "lag_days": picked(lag_days),
                         "earlier_by_days": picked(earlier_by_days), "after_notification_id": picked(after)})


_EVENT_COLUMNS = ("notification_id", "case_id", "version", "trigger", "actor_role", "actor_scope", "occurred_at",
                  "recorded_at", "import_file", "import_line")
_BACKDATING_KINDS = ("late_recording", "out_of_order", "time_out_of_range", "time_corrected",
                     "imported_late_recording", "imported_out_of_order")


# --- point in time --------------------------------------------------------------------------------------

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


def run(source, name: str, **options) -> pd.DataFrame:
    """Run an audit by name (as the CLI does)."""
    if name not in AUDITS:
        raise InvalidField("audit", f"unknown audit {name!r}", allowed=AUDITS)
    return globals()[name](source, **options)


__all__ = ["AUDITS", "FUNNEL_STEPS", "backdating", "case_event_frame", "case_summary_frame", "funnel", "overdue",
           "portfolio", "portfolio_as_of", "responsiveness", "run", "stage_durations", "stage_stints"]
