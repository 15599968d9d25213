"""What public pages may show: the small-count rule.

Public pages show aggregates only (by agency, region, election, era), never a case, a name, a NIP, a reporter
or a free-text field. One rule keeps an aggregate from singling out a person:

1. A row that counts fewer than ``k`` cases (``JEJAK_PUBLIC_MIN_CASES``, default 3) shows none of its
   figures: its counts, rates and days read "< k"/"—", and it sorts as if empty (last).
2. If that leaves exactly one row of a table withheld, the next smallest row (of at least one case) is
   withheld too, so that no total gives the withheld one back by subtraction.

Rows of k cases or more are shown in full. Signed-in pages (within the API's rules) show every figure.
"""

from __future__ import annotations

import os

import pandas as pd

from workflow.errors import InvalidField

DEFAULT_MIN_CASES = 3


def min_cases(env=None) -> int:
    env = os.environ if env is None else env
    text = env.get("JEJAK_PUBLIC_MIN_CASES", str(DEFAULT_MIN_CASES))
    try:
        k = int(text)
    except ValueError:
        raise InvalidField("JEJAK_PUBLIC_MIN_CASES", f"not a whole number: {text!r}", allowed="2 or more") from None
    if k < 2:
        raise InvalidField("JEJAK_PUBLIC_MIN_CASES", f"must be 2 or more, got {k}", allowed="2 or more")
    return k


def withhold(frame: pd.DataFrame, size: str, figures: list[str], k: int) -> pd.DataFrame:
    """A copy of `frame` with a boolean ``withheld`` column; the `figures` of withheld rows (and `size`) are
    set to NaN. `size` is the column counting the row's cases."""
    out = frame.copy()
    small = out[size].lt(k) & out[size].gt(0)
    if small.sum() == 1 and len(out) > 1:  # rule 2: one withheld row could be recovered from a total
        others = out.loc[~small & out[size].gt(0), size].sort_values(kind="stable")
        if len(others):
            small.loc[others.index[0]] = True
    out["withheld"] = small
    columns = list(dict.fromkeys([size, *figures]))
    out[columns] = out[columns].astype("float64")
    out.loc[small, columns] = float("nan")
    return out
