"""Official reference data: regions (Kemendagri codes), agencies, the election calendar.

Data, not code: CSV files in ``reference/data`` (their sources in ``data/ATTRIBUTION.md``), read once per
process. Below both sides of the application: the write side validates with it, the read side names and
groups with it, and it imports neither. A lookup that fails raises `UnknownCode`, whose message is one line
naming the closest known codes; the write side turns it into its own refusal.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).with_name("data")


class UnknownCode(LookupError):
    """A code or alias that names nothing (on that date): the message says why and what is closest."""

    def __init__(self, problem: str, allowed: str = ""):
        self.problem, self.allowed = problem, allowed
        super().__init__(problem + (f" (allowed: {allowed})" if allowed else ""))
