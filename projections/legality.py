"""Was every step of a history legal? Each event checked against its era's rule table: the (trigger, state
before) is a row of the table, it led to the state the row names, and the actor's role is one the row allows.
One function for a single case (notebook 01) and for the whole log (notebook 04)."""

from __future__ import annotations

from functools import cache

import pandas as pd

from workflow.definitions import get_era


@cache
def rule_rows(era_id: str) -> dict[tuple[str, str], tuple[str, frozenset]]:
    """(trigger, source state) -> (destination state, roles allowed) of an era's transitions."""
    rows = {}
    for row in get_era(era_id).transitions:
        sources = row["source"] if isinstance(row["source"], list) else [row["source"]]
        for source in sources:
            dest, roles = rows.get((row["trigger"], source), (row["dest"] or source, frozenset()))
            rows[(row["trigger"], source)] = (dest, roles | frozenset(row["roles"]))
    return rows


def transition_violations(events: pd.DataFrame) -> pd.DataFrame:
    """The events (rows of `case_event`) that break their era's table, each with a ``problem``: ``not a
    transition`` (no row for the trigger from that state, or another destination) or ``role not allowed``.
    No rows: every step was legal."""
    problems = []
    for event in events.itertuples(index=False):
        rule = rule_rows(str(event.era)).get((str(event.trigger), str(event.state_before)))
        if rule is None or rule[0] != str(event.state_after):
            problems.append("not a transition")
        elif str(event.actor_role) not in rule[1]:
            problems.append("role not allowed")
        else:
            problems.append(None)
    out = events.assign(problem=problems)
    columns = ["case_id", "version", "era", "trigger", "actor_role", "state_before", "state_after", "problem"]
    return out[out["problem"].notna()][columns].reset_index(drop=True)
