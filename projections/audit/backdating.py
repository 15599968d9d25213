"""`backdating`: events recorded live long after they happened or out of order, times out of range, and
(when asked) imported history, apart."""

from __future__ import annotations

import math
from datetime import timezone

import numpy as np
import pandas as pd
from sqlalchemy import or_, select

from projections.tables import case_event
from workflow.errors import InvalidField
from projections.audit.common import _app, _days, _frame, read_side


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
