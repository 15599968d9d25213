"""One rule for every "as of" (``jejak show --as-of``, the audits' ``--as-of``, the API's ``as_of``): a date
means the end of that day in local time (``JEJAK_TZ``), so ``--as-of 2024-03-17`` includes all of the 17th; a
datetime is inclusive."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pandas as pd

from workflow.decisions import CLOCK_SKEW, check_moment
from workflow.errors import InvalidField


def cutoff(app, when, name: str = "date") -> tuple[pd.Timestamp, bool]:
    """(UTC instant, inclusive): a date means the end of that local day (exclusive), a datetime is inclusive.
    Either within reason, as every stated time: from the earliest date accepted up to now."""
    zone = app.settings.zone
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
            when = when.replace(tzinfo=zone)
        when = check_moment(name, when, app.clock(), app.settings)
        return pd.Timestamp(when.astimezone(timezone.utc)), True
    if isinstance(when, date):
        today = (app.clock() + CLOCK_SKEW).astimezone(zone).date()
        if not app.settings.earliest_date <= when <= today:
            raise InvalidField(name, f"{when.isoformat()} is not a date from {app.settings.earliest_date} "
                                     f"(JEJAK_EARLIEST_DATE) to today ({today})")
        end = datetime.combine(when + timedelta(days=1), time(0), tzinfo=zone)
        return pd.Timestamp(end.astimezone(timezone.utc)), False
    raise InvalidField(name, f"not a date: {when!r}", allowed="a date, a datetime or YYYY-MM-DD")


def before(series: pd.Series, cut: tuple[pd.Timestamp, bool]) -> pd.Series:
    instant, inclusive = cut
    return (series <= instant) if inclusive else (series < instant)


def happened_by(events: list, when, app, name: str = "as_of") -> list:
    """The events that had happened by `when` (the rule above), in their order."""
    instant, inclusive = cutoff(app, when, name)
    limit = instant.to_pydatetime()
    return [e for e in events if (e.occurred_at <= limit if inclusive else e.occurred_at < limit)]
