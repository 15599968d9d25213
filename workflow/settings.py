"""Settings that the domain leaves open: unverified deadlines, the holiday calendar, the local time zone.

Defaults come from the era definitions; each can be overridden from the environment, e.g.
``JEJAK_DEADLINE_PPK_FOLLOW_UP=10`` (calendar days), ``=10 working`` (working days) or ``=off``; an era-specific
override is ``JEJAK_DEADLINE_BKN_2024__COMMISSION_EXAMINATION``. ``JEJAK_HOLIDAYS_FILE`` names a file of extra
non-working dates (one ISO date per line, ``#`` comments), added to Indonesia's public and joint-leave holidays.
``JEJAK_HANDOVER_<ROLE>`` (e.g. ``JEJAK_HANDOVER_KASN=2024-09-01``) sets the day a body ceased to act, which the
era files declare (`workflow.eras.Handover`) but the sources give only as a month.
``JEJAK_EARLIEST_DATE`` (default 2019-01-01, see ``definitions.EARLIEST_DATE``) is the earliest date any stated
time or date may carry: a report dated in year 1 is a typo or an attack, never a case.
``JEJAK_ELECTION_WINDOW_START`` (``stages_start`` or ``campaign_start``) and ``JEJAK_ELECTION_WINDOW_DAYS`` (after
the last vote, default 180) bound the dates a report may concern an election; ``JEJAK_ELECTIONS_FILE`` replaces
the shipped election calendar (its dates are public facts, some unverified: see reference/data/ATTRIBUTION.md).
A deadline is computed when a stage starts and recorded in the event, so changing a setting never re-judges
history.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reference import UnknownCode
from reference.elections import WINDOW_STARTS, calendar
from workflow.definitions import EARLIEST_DATE, Deadline, Era
from workflow.eras import Handover
from workflow.errors import InvalidField

_DURATION = re.compile(r"^\s*(\d{1,4})\s*(d|days?|wd|working(?:\s+days?)?)?\s*$", re.IGNORECASE)
_PREFIX = "JEJAK_DEADLINE_"
# The read side can show times from 1900 on (workflow.definitions.EARLIEST_DATE is the default floor).
LOWEST_EARLIEST_DATE = date(1900, 1, 2)


def parse_deadline(text: str, default: Deadline) -> Deadline:
    """``"14"``, ``"14 days"``, ``"10 working"``/``"10wd"`` or ``"off"``, keeping the default's metadata."""
    if text.strip().lower() in {"off", "none", ""}:
        return replace(default, days=None)
    match = _DURATION.match(text)
    if not match:
        raise InvalidField("deadline", f"cannot read {text!r}", allowed="a number of days, '<n> working', 'off'")
    unit = (match.group(2) or "d").lower()
    return replace(default, days=int(match.group(1)), working_days=unit.startswith("w"))


@dataclass(frozen=True)
class Settings:
    timezone: str = "Asia/Jakarta"
    # keys: "<deadline>" for every era or "<era>:<deadline>" for one; values as parse_deadline reads them
    deadline_overrides: Mapping[str, str] = field(default_factory=dict)
    holiday_categories: tuple[str, ...] = ("public", "government")
    extra_holidays: frozenset[date] = frozenset()
    earliest_date: date = EARLIEST_DATE  # nothing stated before it is accepted
    # A report's date must lie in its election's window: from the start of the election's stages (or of its
    # campaign) to this many days after its last vote. The calendar: the shipped one, or this file.
    election_window_start: str = "stages_start"
    election_window_days: int = 180
    elections_file: Path | None = None
    # role -> the day it ceased to act, replacing an era file's handover day (JEJAK_HANDOVER_KASN=2024-09-01)
    handover_days: Mapping[str, date] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse a misspelled or unreadable setting at start-up, not at the first command that needs it."""
        from workflow.definitions import ERAS

        if not isinstance(self.earliest_date, date) or isinstance(self.earliest_date, datetime) or \
                not LOWEST_EARLIEST_DATE <= self.earliest_date <= min(e.effective_from for e in ERAS.values()):
            raise InvalidField("JEJAK_EARLIEST_DATE", f"{self.earliest_date!r} is not a date from "
                               f"{LOWEST_EARLIEST_DATE} to the first era's start",
                               allowed=f"a date such as {EARLIEST_DATE}")

        if self.election_window_start not in WINDOW_STARTS:
            raise InvalidField("JEJAK_ELECTION_WINDOW_START", f"unknown start {self.election_window_start!r}",
                               allowed=WINDOW_STARTS)
        if isinstance(self.election_window_days, bool) or not isinstance(self.election_window_days, int) or \
                not 0 <= self.election_window_days <= 3650:
            raise InvalidField("JEJAK_ELECTION_WINDOW_DAYS", f"{self.election_window_days!r} is not a number of "
                               "days from 0 to 3650", allowed="e.g. 180")
        try:
            calendar(self.elections_file)
        except UnknownCode as error:
            raise InvalidField("JEJAK_ELECTIONS_FILE", error.problem, error.allowed or None) from None
        ending = {h.role for era in ERAS.values() for h in era.handovers}
        for role, day in self.handover_days.items():
            if role not in ending:
                raise InvalidField("handover setting", f"no era hands over from role {role!r}",
                                   allowed=[f"JEJAK_HANDOVER_{r.upper()}" for r in sorted(ending)])
            if not isinstance(day, date) or isinstance(day, datetime):
                raise InvalidField(f"JEJAK_HANDOVER_{role.upper()}", f"not a date: {day!r}", allowed="YYYY-MM-DD")

        known = {name for era in ERAS.values() for name in era.deadlines}
        for key, value in self.deadline_overrides.items():
            era_id, _, name = key.rpartition(":")
            if era_id and era_id not in ERAS:
                raise InvalidField("deadline setting", f"unknown era {era_id!r} in {key!r}", allowed=list(ERAS))
            if name not in known:
                raise InvalidField("deadline setting", f"unknown deadline {name!r}", allowed=sorted(known))
            parse_deadline(value, next(era.deadlines[name] for era in ERAS.values() if name in era.deadlines))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        overrides = {}
        for key, value in environ.items():
            if key.startswith(_PREFIX):
                name = key[len(_PREFIX):].lower()
                era, _, deadline = name.rpartition("__")
                deadline = deadline.replace("_pemilu", ".pemilu").replace("_pilkada", ".pilkada")
                overrides[f"{era.replace('_', '-')}:{deadline}" if era else deadline] = value
        extra: set[date] = set()
        if holidays_file := environ.get("JEJAK_HOLIDAYS_FILE"):
            extra = read_holidays_file(Path(holidays_file))
        earliest = EARLIEST_DATE
        if text := environ.get("JEJAK_EARLIEST_DATE", "").strip():
            try:
                earliest = date.fromisoformat(text)
            except ValueError:
                raise InvalidField("JEJAK_EARLIEST_DATE", f"not a date: {text!r}", allowed="YYYY-MM-DD") from None
        window_days = environ.get("JEJAK_ELECTION_WINDOW_DAYS", "").strip() or str(cls.election_window_days)
        if not window_days.isdecimal() or len(window_days) > 4:
            raise InvalidField("JEJAK_ELECTION_WINDOW_DAYS", f"not a number of days: {window_days!r}",
                               allowed="e.g. 180")
        elections = environ.get("JEJAK_ELECTIONS_FILE", "").strip()
        handovers = {}
        for key, value in environ.items():
            if key.startswith("JEJAK_HANDOVER_"):
                try:
                    handovers[key.removeprefix("JEJAK_HANDOVER_").lower()] = date.fromisoformat(value.strip())
                except ValueError:
                    raise InvalidField(key, f"not a date: {value!r}", allowed="YYYY-MM-DD") from None
        return cls(timezone=environ.get("JEJAK_TZ", cls.timezone), deadline_overrides=overrides,
                   extra_holidays=frozenset(extra), earliest_date=earliest, handover_days=handovers,
                   election_window_start=environ.get("JEJAK_ELECTION_WINDOW_START", "").strip()
                   or cls.election_window_start, election_window_days=int(window_days),
                   elections_file=Path(elections).resolve() if elections else None)

    @cached_property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidField("JEJAK_TZ", f"unknown time zone {self.timezone!r}",
                               allowed="Asia/Jakarta, Asia/Makassar, Asia/Jayapura, UTC, …") from None

    @cached_property
    def earliest_moment(self) -> datetime:
        """The start of the earliest date, local time: no stated time may come before it."""
        return datetime.combine(self.earliest_date, time(0), tzinfo=self.zone)

    def handover_day(self, handover: Handover) -> date:
        """The day a body ceased to act: the setting if given, else the era file's."""
        return self.handover_days.get(handover.role, handover.on)

    def deadline(self, era: Era, name: str) -> Deadline | None:
        default = era.deadlines.get(name)
        if default is None:
            return None
        for key in (f"{era.id}:{name}", name):
            if key in self.deadline_overrides:
                return parse_deadline(self.deadline_overrides[key], default)
        return default

    @cached_property
    def _calendar(self):
        import holidays  # imported on first use: only stage starts need it

        calendar = holidays.country_holidays("ID", categories=self.holiday_categories)
        calendar.update({day: "extra non-working day" for day in self.extra_holidays})
        return calendar

    def working_days_between(self, first: date, last: date) -> int:
        """Working days from `first` to `last`, both counted (the same calendar as working-day deadlines)."""
        return self._calendar.get_working_days_count(first, last) if first <= last else 0

    def due_at(self, start: datetime, deadline: Deadline) -> datetime | None:
        """The end of the deadline's last day, in local time: a stage started on the 1st with a 3-day
        deadline is due by midnight at the end of the 4th."""
        if deadline.days is None:
            return None
        start_day = start.astimezone(self.zone).date()
        if deadline.working_days:
            last_day = self._calendar.get_nth_working_day(start_day, deadline.days)
        else:
            last_day = start_day + timedelta(days=deadline.days)
        return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=self.zone)


def read_holidays_file(path: Path) -> set[date]:
    days = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            days.add(date.fromisoformat(text))
        except ValueError:
            raise InvalidField(f"{path}:{number}", f"not an ISO date: {text!r}", allowed="YYYY-MM-DD") from None
    return days
