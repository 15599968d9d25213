"""The peer for the benchmarks: a plain eventsourcing application with a tiny aggregate whose events carry
~280 bytes of state (the issue's reference figures)."""

from __future__ import annotations

from datetime import datetime

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class Thing(Aggregate):
    @event("Created")
    def __init__(self, actor: dict, occurred_at: datetime, state: str, note: str | None, workflow_version: str):
        self.state = state

    @event("Happened")
    def happen(self, actor: dict, occurred_at: datetime, state: str, note: str | None, workflow_version: str):
        self.state = state


class Plain(Application):
    name = "Plain"
