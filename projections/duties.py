"""Segregation of duties: no officer acts in two roles on one case (e.g. examines it for KASN and then
sanctions it as the PPK), and every sanction is imposed by the case's own PPK (or the reported civil servant's
agency). Over `case_event` and `case_summary` rows; used by notebook 04."""

from __future__ import annotations

import pandas as pd


def officers_in_two_roles(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (case, officer) where the same officer id acted under more than one role: ``case_id``,
    ``actor_id``, ``roles`` (sorted list). Events without an officer id are not counted."""
    people = events[events["actor_id"].notna()]
    roles = people.groupby(["case_id", "actor_id"], observed=True)["actor_role"].agg(lambda s: sorted(set(map(str, s))))
    return roles[roles.map(len) > 1].rename("roles").reset_index()


def sanctions_by_another_ppk(events: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """`impose_sanction` events whose actor's scope is neither the case's PPK nor its agency."""
    owners = cases[["case_id", "ppk", "agency"]].rename(columns={"ppk": "case_ppk", "agency": "case_agency"})
    sanctions = events[events["trigger"].astype(str) == "impose_sanction"].merge(owners, on="case_id")
    scope = sanctions["actor_scope"].astype(str)
    own = scope.eq(sanctions["case_ppk"].astype(str)) | scope.eq(sanctions["case_agency"].astype(str))
    return sanctions[~own][["case_id", "version", "actor_scope", "case_ppk", "case_agency"]].reset_index(drop=True)
