"""Shared set-up for the auditors' notebooks (kept tiny on purpose).

``open_auditor()`` opens the store the notebooks read — ``JEJAK_DB`` if set, else the repository's ``jejak.db``
(the file ``jejak demo`` fills when run from the repository root) — and, if the store holds no events at all,
fills it with the calibrated demo dataset first (the same data as ``jejak demo``). ``style()`` sets readable
plot defaults: concise date labels on time axes, larger fonts, light grids.
"""

from __future__ import annotations

import os
from pathlib import Path

from projections.auditor import Auditor

ROOT = Path(__file__).resolve().parent.parent


def store_url() -> str:
    return os.environ.get("JEJAK_DB") or f"sqlite:///{ROOT / 'jejak.db'}"


def open_auditor(election: str = "pilkada-2020", seed: int = 0) -> Auditor:
    """The auditor API on the store; an empty store gets the demo dataset (as `jejak demo` would)."""
    auditor = Auditor(store_url())
    if not auditor.app.recorder.max_notification_id():
        from demo.generator import generate

        print(f"The store {auditor.app.store} is empty: generating the {election} demo dataset (seed {seed}) …")
        generate(auditor.app, election, seed=seed, progress=False)
    auditor.refresh()
    return auditor


def style(tz: str = "Asia/Jakarta") -> None:
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.figsize": (10, 4.5), "figure.dpi": 100, "figure.autolayout": True,
        "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
        "axes.titlesize": 13, "axes.labelsize": 11, "legend.fontsize": 10,
        "date.converter": "concise",  # dates on time axes: "Jul", "2020", … without overlap
        "timezone": str(tz),  # time axes in local time (JEJAK_TZ), like the audit tables
    })
