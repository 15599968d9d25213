"""Accountability audits over the read models, as pandas DataFrames.

Every function takes the application (a `workflow.application.Jejak`) or a `ReadSide`, catches the read models
up first, and returns a DataFrame. Durations are in days (fractional). Times are timezone-aware (UTC).
A *date* cutoff (``2020-09-30``) means "by the end of that day" in the configured local time zone
(``JEJAK_TZ``, Asia/Jakarta by default); a *datetime* cutoff is inclusive.

- `responsiveness`: per PPK — recommendations received, followed up, pending, overdue, blocked, mean (the
  *rata-rata* official reports quote), median and 90th-percentile days from recommendation to sanction, share
  imposed lighter than recommended.
- `funnel`: reported → registered → forwarded → recommended → sanctioned, counts and step rates, optionally
  grouped and cumulative as of one or more dates.
- `stage_durations` (and `stage_stints`): per stage, distribution of days and share over the deadline.
- `overdue`: open cases past their deadline, days overdue and the responsible party.
- `backdating`: events recorded long after they are said to have occurred, and events recorded out of order.
- `portfolio_as_of` / `portfolio`: which cases were in which state on a date.

Regions group by the region as it stands today (``province_reported``/``regency_reported`` by the one
reported); a region or agency column comes with its official name beside it (``ppk_name``…).
"""

from __future__ import annotations

# One audit a module (projections/audit/); the names other code imports from here stay here.
from projections.audit.backdating import backdating
from projections.audit.common import (AUDITS, FUNNEL_STEPS, GROUPABLE, _cutoff, case_event_frame, case_summary_frame,
                                      read_side)
from projections.audit.funnel import funnel
from projections.audit.overdue import overdue
from projections.audit.portfolio import portfolio, portfolio_as_of
from projections.audit.responsiveness import responsiveness
from projections.audit.stage_durations import stage_durations, stage_stints
from workflow.errors import InvalidField

_NAMED = {"responsiveness": responsiveness, "funnel": funnel, "stage_durations": stage_durations,
          "overdue": overdue, "backdating": backdating}


def run(source, name: str, **options):
    """Run an audit by name (as the CLI does): a DataFrame."""
    if name not in AUDITS:
        raise InvalidField("audit", f"unknown audit {name!r}", allowed=AUDITS)
    return _NAMED[name](source, **options)


__all__ = ["AUDITS", "FUNNEL_STEPS", "GROUPABLE", "_cutoff", "backdating", "case_event_frame", "case_summary_frame",
           "funnel", "overdue", "portfolio", "portfolio_as_of", "read_side", "responsiveness", "run", "stage_durations",
           "stage_stints"]
