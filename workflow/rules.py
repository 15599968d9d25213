"""The rule table made executable: one `transitions` machine per era, consulted with a throwaway probe.

The machine is never bound to a case aggregate (that would change state without an event, and break
replay). To check a command we put a probe in the case's current state, carrying the facts that conditions
read, fire the trigger on the probe, read where it went, and detach it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache

from transitions import Machine

from workflow.definitions import FINAL_STATES, NEW, STATES, Era, get_era
from workflow.errors import IllegalTransition

_TABLE_KEYS = ("trigger", "source", "dest", "conditions", "unless")

# What a failed condition means, for error messages.
_CONDITION_TEXT = {
    ("deadline_passed", True): "the deadline has not passed yet",
    ("deadline_missed", False): "the missed deadline is already recorded",
    ("personnel_data_blocked", False): "personnel data is already blocked",
    ("personnel_data_blocked", True): "personnel data is not blocked",
    ("has_reporter_data", True): "the case holds no reporter data (none given, or already erased)",
}


@dataclass
class CaseFacts:
    """What conditions in the rule table may read. Pure data: firing a trigger on it has no effect."""

    deadline_passed: bool = False
    deadline_missed: bool = False
    personnel_data_blocked: bool = False
    has_reporter_data: bool = False


class _Probe(CaseFacts):
    state: str


@cache
def machine(era_id: str) -> tuple[Machine, threading.Lock]:
    era = get_era(era_id)
    table = [{k: row[k] for k in _TABLE_KEYS if k in row} for row in era.transitions]
    m = Machine(model=None, states=STATES, transitions=table, initial=NEW, auto_transitions=False,
                ignore_invalid_triggers=False)
    return m, threading.Lock()


def _with_probe(era: Era, state: str, facts: CaseFacts, action):
    m, lock = machine(era.id)
    probe = _Probe(**vars(facts))
    with lock:
        m.add_model(probe, initial=state)
        try:
            return action(m, probe)
        finally:
            m.remove_model(probe)


def _legal_now(m: Machine, probe: _Probe) -> list[str]:
    return sorted(t for t in m.get_triggers(probe.state) if getattr(probe, f"may_{t}")())


def possible_triggers(era: Era, state: str) -> list[str]:
    """Triggers the table has from this state, whatever the facts."""
    m, _ = machine(era.id)
    return sorted(m.get_triggers(state))


def legal_triggers(era: Era, state: str, facts: CaseFacts) -> list[str]:
    """Triggers that would fire now, given the facts."""
    return _with_probe(era, state, facts, _legal_now)


def destination(era: Era, state: str, trigger: str, facts: CaseFacts, case_id: object = None) -> str:
    """The state a trigger leads to, or IllegalTransition naming the case, its state and the legal triggers."""
    def action(m, probe):
        if trigger not in m.get_triggers(state):
            raise IllegalTransition(case_id, state, trigger, _legal_now(m, probe), closed=state in FINAL_STATES)
        if not probe.trigger(trigger):
            why = _failed_condition(era, state, trigger, facts)
            raise IllegalTransition(case_id, state, trigger, _legal_now(m, probe), why=why,
                                    closed=state in FINAL_STATES)
        return probe.state

    return _with_probe(era, state, facts, action)


def _failed_condition(era: Era, state: str, trigger: str, facts: CaseFacts) -> str:
    for row in era.transitions:
        if row["trigger"] != trigger or state not in _as_list(row["source"]):
            continue
        for key, wanted in (("conditions", True), ("unless", False)):
            for name in _as_list(row.get(key, [])):
                if getattr(facts, name) != wanted:
                    return _CONDITION_TEXT[(name, wanted)]
    return "a condition does not hold"


def roles_for(era: Era, state: str, trigger: str) -> set[str]:
    return {role for row in era.transitions if row["trigger"] == trigger and state in _as_list(row["source"])
            for role in row["roles"]}


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]
