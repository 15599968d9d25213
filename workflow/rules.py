"""The rule table made executable: one `transitions` machine per era, consulted with a throwaway probe.

The machine is never bound to a case aggregate (that would change state without an event, and break
replay). To check a command we put a probe in the case's current state, carrying the facts that conditions
read, fire the trigger on the probe, read where it went, and detach it.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
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
    ("reporter_data_in_clear", False): "the reporter's data was recorded in clear, before it was sealed: there "
                                       "is no key to destroy, and history is not rewritten",
    ("has_time_out_of_range", True): "no event of the case states a time before the earliest date accepted "
                                     "(JEJAK_EARLIEST_DATE): its times stand as recorded",
}


@dataclass(frozen=True)
class CaseFacts:
    """What conditions in the rule table may read. Pure data: firing a trigger on it has no effect."""

    deadline_passed: bool = False
    deadline_missed: bool = False
    personnel_data_blocked: bool = False
    has_reporter_data: bool = False
    reporter_data_in_clear: bool = False
    has_time_out_of_range: bool = False


class _Probe:
    """A throwaway model: the facts, plus the `state` attribute the machine moves."""

    def __init__(self, facts: CaseFacts):
        self.__dict__.update(asdict(facts))


@cache
def machine(era_id: str) -> tuple[Machine, threading.Lock]:
    era = get_era(era_id)
    table = [{k: row[k] for k in _TABLE_KEYS if k in row} for row in era.transitions]
    m = Machine(model=None, states=STATES, transitions=table, initial=NEW, auto_transitions=False,
                ignore_invalid_triggers=False)
    return m, threading.Lock()


def _with_probe(era_id: str, state: str, facts: CaseFacts, action):
    m, lock = machine(era_id)
    probe = _Probe(facts)
    with lock:
        m.add_model(probe, initial=state)
        try:
            return action(m, probe)
        finally:
            m.remove_model(probe)


# The machine is consulted once per (era, state, trigger, facts): answers are pure, so they are memoised
# (attaching a probe costs ~0.4 ms, which bulk paths would pay on every event).

@cache
def _legal(era_id: str, state: str, facts: CaseFacts) -> tuple[str, ...]:
    return _with_probe(era_id, state, facts, lambda m, probe: tuple(
        sorted(t for t in m.get_triggers(state) if getattr(probe, f"may_{t}")())))


@cache
def _fire(era_id: str, state: str, trigger: str, facts: CaseFacts) -> str | None:
    """Where the trigger leads, or None if it cannot fire (not in the table here, or a condition fails)."""
    def action(m, probe):
        if trigger not in m.get_triggers(state) or not probe.trigger(trigger):
            return None
        return probe.state

    return _with_probe(era_id, state, facts, action)


def possible_triggers(era: Era, state: str) -> list[str]:
    """Triggers the table has from this state, whatever the facts."""
    m, _ = machine(era.id)
    return sorted(m.get_triggers(state))


def legal_triggers(era: Era, state: str, facts: CaseFacts) -> list[str]:
    """Triggers that would fire now, given the facts."""
    return list(_legal(era.id, state, facts))


def destination(era: Era, state: str, trigger: str, facts: CaseFacts, case_id: object = None) -> str:
    """The state a trigger leads to, or IllegalTransition naming the case, its state and the legal triggers."""
    dest = _fire(era.id, state, trigger, facts)
    if dest is None:
        why = _failed_condition(era, state, trigger, facts) if trigger in possible_triggers(era, state) else ""
        raise IllegalTransition(case_id, state, trigger, legal_triggers(era, state, facts), why=why,
                                closed=state in FINAL_STATES)
    return dest


def _failed_condition(era: Era, state: str, trigger: str, facts: CaseFacts) -> str:
    for row in era.transitions:
        if row["trigger"] != trigger or state not in _as_list(row["source"]):
            continue
        for key, wanted in (("conditions", True), ("unless", False)):
            for name in _as_list(row.get(key, [])):
                if getattr(facts, name) != wanted:
                    return _CONDITION_TEXT[(name, wanted)]
    return "a condition does not hold"


def roles_for(era: Era, state: str, trigger: str) -> frozenset[str]:
    return _roles(era.id, state, trigger)


@cache
def _roles(era_id: str, state: str, trigger: str) -> frozenset[str]:
    return frozenset(role for row in get_era(era_id).transitions
                     if row["trigger"] == trigger and state in _as_list(row["source"]) for role in row["roles"])


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]
