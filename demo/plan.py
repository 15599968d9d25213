"""The plan of one demo case: its steps with their times, tracking state and deadlines as the engine will."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from workflow.definitions import STAGE_OF_STATE, Era
from workflow.settings import Settings


class Simulation(Protocol):
    """What a case's plan reads of the simulation it belongs to (demo.generator's): where each trigger leads, the
    election's kind, the era and settings its deadlines come from, and the random source."""

    dest: dict[tuple[str, str], str]
    spec: Any  # demo.generator.ElectionSpec; `kind` picks Bawaslu's deadline
    era: Era
    settings: Settings
    rng: random.Random


@dataclass
class DemoStep:
    """One step of a demo case's plan (not an import row's step: `workflow.import_rows.PlannedStep`)."""

    trigger: str
    actor: str
    at: datetime  # occurred_at
    fields: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    recorded: datetime | None = None


def _destinations(era: Era) -> dict[tuple[str, str], str]:
    table = {}
    for row in era.transitions:
        sources = row["source"] if isinstance(row["source"], list) else [row["source"]]
        for source in sources:
            table[(row["trigger"], source)] = row["dest"] or source
    return table


class CasePlan:
    """A case's life as steps, tracking state and deadlines the way the engine will, so the `system` tick
    can be placed where a deadline passes. The engine re-checks every step when the plan is replayed."""

    def __init__(self, sim: Simulation, index: int, actor: str, at: datetime, fields: dict[str, Any]):
        self.sim, self.index = sim, index
        self.ref = fields["external_ref"]
        self.agency, self.province, self.regency = fields["agency"], fields["province"], fields["regency"]
        self.steps = [DemoStep("report", actor, at, fields)]
        self.state = "reported"
        self.deadline: str | None = None
        self.due: datetime | None = None
        self.tick: datetime | None = None  # when the system clock notices the deadline passed
        self.missed = False
        self.blocked = False
        self.fate = ""
        self.public = actor == "reporter"
        self.recommended_sanction: str | None = None

    @property
    def last(self) -> datetime:
        return self.steps[-1].at

    def at(self, trigger: str) -> datetime | None:
        return next((s.at for s in self.steps if s.trigger == trigger), None)

    def catch_up(self, until: datetime) -> None:
        if self.due is not None and not self.missed and self.tick <= until:
            self._append("mark_overdue", "system", self.tick, {},
                         f"deadline {self.deadline} was due {self.due.isoformat()}")

    def step(self, trigger: str, actor: str, at: datetime, note: str | None = None, **fields: Any) -> None:
        at = max(at, self.last)
        self.catch_up(at)
        self._append(trigger, actor, max(at, self.last), fields, note)

    def _append(self, trigger: str, actor: str, at: datetime, fields: dict, note: str | None) -> None:
        dest = self.sim.dest.get((trigger, self.state))
        if dest is None:
            raise AssertionError(f"demo planner bug: {trigger} from {self.state} ({self.ref})")
        stage = STAGE_OF_STATE.get(dest)
        if stage != STAGE_OF_STATE.get(self.state):
            self.deadline = self.due = self.tick = None
            self.missed = False
            if stage is not None:
                name = f"{stage}.{self.sim.spec.kind}" if stage == "bawaslu_handling" else stage
                deadline = self.sim.settings.deadline(self.sim.era, name)
                due = self.sim.settings.due_at(at, deadline) if deadline else None
                if due is not None:
                    self.deadline, self.due = name, due
                    self.tick = due + timedelta(minutes=60 + self.sim.rng.randrange(60))
        self.state = dest
        if trigger == "mark_overdue":
            self.missed = True
        elif trigger == "block_personnel_data":
            self.blocked = True
        elif trigger == "unblock_personnel_data":
            self.blocked = False
        self.steps.append(DemoStep(trigger, actor, at, fields, note))
