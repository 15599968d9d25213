"""BKN's blocking of personnel data over time (notebook 02): how many cases were blocked at each moment, how
many were blocked and still awaiting the PPK's sanction (a block stops counting there, as KASN counted), and
how many were ever blocked. From `case_event` rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

BLOCK, UNBLOCK, SANCTION = "block_personnel_data", "unblock_personnel_data", "impose_sanction"


def blocking_curve(events: pd.DataFrame) -> pd.DataFrame:
    """One row per change, in time order: ``at``, ``blocked`` (blocked now), ``awaiting`` (blocked and not
    yet sanctioned), ``ever_blocked`` (cumulative blocks)."""
    changes = events[events["trigger"].astype(str).isin([BLOCK, UNBLOCK, SANCTION])]
    changes = changes.sort_values(["occurred_at", "case_id", "version"], kind="stable")
    triggers = changes["trigger"].astype(str).to_numpy()
    blocked = np.select([triggers == BLOCK, triggers == UNBLOCK], [1, -1], 0)
    awaiting = np.zeros(len(changes), dtype=int)
    state: dict[str, bool] = {}
    for i, (case_id, trigger) in enumerate(zip(changes["case_id"], triggers)):
        was = state.get(case_id, False)
        now = trigger == BLOCK  # a block counts until an unblock or the sanction
        awaiting[i] = int(now) - int(was)
        state[case_id] = now
    return pd.DataFrame({"at": changes["occurred_at"].to_numpy(), "blocked": blocked.cumsum(),
                         "awaiting": awaiting.cumsum(), "ever_blocked": (triggers == BLOCK).cumsum()})
