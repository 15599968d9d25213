"""An event's times as the read models show them: only times that every store, pandas and Excel can hold.

The write side refuses a stated time before ``JEJAK_EARLIEST_DATE`` or in the future, but an older version did
not: a store may hold a report dated in year 1. Such a time cannot become UTC in Python (year 0), nor a
PostgreSQL timestamp without turning BC, nor a pandas timestamp; one of them would wedge every catch-up. So the
read side shows a time only within `SHOWN` (1900–2199, UTC), and otherwise:

- an ``occurred_at``: the event's recorded time instead, the stated one kept as text
  (``case_event.occurred_at_stated``), until a ``correct_date`` event says what it should have been;
- a deadline (``due_at``, ``missed_due_at``, ``filing_due_at``): none (null), since it was counted from such a
  time (a correction decides the running deadline again);
- a recorded time (only a replaced clock makes one): the stated time, else the window's start.
"""

from __future__ import annotations

from datetime import datetime, timezone

UTC = timezone.utc
SHOWN = (datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


def shown(value: datetime | None) -> datetime | None:
    """The time if the read models can show it, else None."""
    if value is None or 1900 < value.year < 2199:  # the common case, without offset arithmetic (offsets < 1 day)
        return value
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return utc if SHOWN[0] <= utc < SHOWN[1] else None


def stated_text(value: datetime) -> str:
    """A stated time as ISO text, whatever its year."""
    return value.isoformat()


def event_times(event, corrected: datetime | None = None) -> tuple[datetime, datetime, str | None]:
    """(occurred_at, recorded_at, the stated occurred_at as text when it is not the one shown) of an event;
    `corrected`: the time a ``correct_date`` event gave it."""
    occurred, recorded = shown(event.occurred_at), shown(event.timestamp)
    if recorded is None:
        recorded = occurred or SHOWN[0]
    if corrected is not None and shown(corrected) is not None:
        return shown(corrected), recorded, stated_text(event.occurred_at)
    if occurred is None:
        return recorded, recorded, stated_text(event.occurred_at)
    return occurred, recorded, None
