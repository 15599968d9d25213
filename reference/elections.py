"""The election calendar: general elections (*pemilu*) and simultaneous regional elections (*pilkada*).

``data/elections.csv`` (or the file ``JEJAK_ELECTIONS_FILE`` names, with the same columns) gives each
election's stage dates, voting day and the later votes held for it (postponed votes, second rounds,
re-votes). A report names one of them; its date must fall within the election's window (see `window`).
"""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from reference import DATA, UnknownCode

COLUMNS = ("election", "name", "stages_start", "campaign_start", "campaign_end", "voting_day", "further_votes",
           "source", "note")
WINDOW_STARTS = ("stages_start", "campaign_start")  # where a window may begin (a setting)


@dataclass(frozen=True)
class Election:
    id: str  # kind-year: pilkada-2020
    name: str
    stages_start: date
    campaign_start: date
    campaign_end: date
    voting_day: date
    further_votes: tuple[date, ...]  # postponed votes, second rounds, re-votes
    source: str

    @property
    def kind(self) -> str:
        return self.id.split("-")[0]

    @property
    def year(self) -> int:
        return int(self.id.split("-")[1])

    @property
    def last_vote(self) -> date:
        return max((self.voting_day, *self.further_votes))

    def window(self, start: str = "stages_start", days_after: int = 180) -> tuple[date, date]:
        """(first day, last day) a report may concern this election: from the start of its stages (or of its
        campaign) to `days_after` days after its last vote."""
        return getattr(self, start), self.last_vote + timedelta(days=days_after)

    def holds(self, day: date, start: str = "stages_start", days_after: int = 180) -> bool:
        first, last = self.window(start, days_after)
        return first <= day <= last


def _day(path: Path, line: int, column: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UnknownCode(f"{path}:{line}: {column} is not a date: {text!r}", "YYYY-MM-DD") from None


class Calendar:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.by_id: dict[str, Election] = {}
        try:
            with path.open(encoding="utf-8", newline="") as file:
                reader = csv.DictReader(file)
                missing = set(COLUMNS) - set(reader.fieldnames or ())
                if missing:
                    raise UnknownCode(f"{path}: missing columns {', '.join(sorted(missing))}", ", ".join(COLUMNS))
                for line, row in enumerate(reader, start=2):
                    days = {c: _day(path, line, c, row[c]) for c in COLUMNS[2:6]}
                    further = tuple(_day(path, line, "further_votes", d) for d in row["further_votes"].split(";")
                                    if d.strip())
                    self.by_id[row["election"]] = Election(row["election"], row["name"], **days,
                                                           further_votes=further, source=row["source"])
        except (OSError, UnicodeDecodeError) as error:
            raise UnknownCode(f"cannot read the election calendar {path}: {error}") from None

    def resolve(self, text: str) -> Election:
        election = self.by_id.get(text.strip().lower()) if isinstance(text, str) else None
        if election is None:
            close = difflib.get_close_matches(text.strip().lower(), self.by_id, n=3, cutoff=0.6) \
                if isinstance(text, str) else []
            hint = f"; closest: {', '.join(close)}" if close else ""
            raise UnknownCode(f"no election {text!r} in the calendar{hint}", ", ".join(self.by_id))
        return election


@cache
def calendar(path: Path | None = None) -> Calendar:
    """Read once per process (per file)."""
    return Calendar(path or DATA / "elections.csv")
