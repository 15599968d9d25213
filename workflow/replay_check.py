"""Re-check a stored history against the rules it was recorded under, as `jejak verify` does.

A forged event may be well formed; a real one obeys its era's rule table (a row for the state before and the
trigger, leading to the state it records), was fired by a role that row allows within the actor's jurisdiction,
and was recorded after the case's previous event. Conditions on facts (deadlines, blocked data) are not
re-judged: they depend on the clock of the moment, which the event states but cannot prove.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from workflow.actors import Actor, covers
from workflow.definitions import get_era
from workflow.errors import JejakError

NEW = "new"


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _destination(era_id: str, before: str, trigger: str, role: str) -> tuple[bool, str | None]:
    """Whether the era has a row (before, trigger) for this role, and the state it leads to."""
    for row in get_era(era_id).transitions:
        if row["trigger"] == trigger and before in _as_list(row["source"]) and role in row["roles"]:
            return True, row["dest"] or before
    return False, None


def check_step(case, event) -> list[str]:
    """What the rules refuse in `event` recorded on `case` (None before the report), without applying it."""
    trigger = getattr(event, "trigger", "?")
    before = case.state if case is not None else NEW
    actor = getattr(event, "actor", None) or {}
    try:
        era_id = case.era if case is not None else event.era
        get_era(era_id)
        who = Actor(actor.get("role"), actor.get("scope"), actor.get("id"))
        who.validate()
    except (JejakError, AttributeError, TypeError) as error:
        return [f"cannot be checked against its rules: {error}"]
    found = []
    allowed, dest = _destination(era_id, before, trigger, who.role)
    if not allowed:
        found.append(f"{trigger} by {who} from '{before}' is not a row of era {era_id}")
    elif dest != event.state:
        found.append(f"{trigger} from '{before}' leads to '{dest}' in era {era_id}, the event says '{event.state}'")
    elif case is not None and not covers(who, case.region["province"], case.region["regency"], case.agencies):
        found.append(f"{who} has no jurisdiction over the case")
    if case is not None and event.timestamp < case.modified_on:
        found.append(f"recorded at {event.timestamp.isoformat()}, before the case's previous event "
                     f"({case.modified_on.isoformat()})")
    return found


def rule_violations(events: Iterable) -> Iterator[tuple[int, str]]:
    """(version, what is wrong) for each event of one case, in version order, that its era's rules refuse."""
    case = None
    for event in events:
        for problem in check_step(case, event):
            yield event.originator_version, problem
        case = event.mutate(case)
