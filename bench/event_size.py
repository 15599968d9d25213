"""Stored bytes per event, imported and live, on a fresh SQLite store: what the event schema costs on disk.

    .venv/bin/python bench/event_size.py [CHECKOUT]

CHECKOUT (default: this one) is a directory holding a Jejak source tree, e.g. a `git worktree` of an earlier
commit, to compare two versions side by side with the same interpreter: the sample import
(examples/import-sample.csv) and 50 live cases of 5 events each, as the walkthrough records them.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import warnings
from datetime import datetime, timedelta, timezone

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)
warnings.simplefilter("ignore")  # no master key here: the warning says so, and is not the point

from entrypoints.bootstrap import open_jejak  # noqa: E402 - from the checkout chosen above
from workflow.importer import import_file  # noqa: E402

WIB = timezone(timedelta(hours=7))
STEPS = [(1, "begin_review", "bawaslu:kab-bima"), (2, "register", "bawaslu:kab-bima"),
         (3, "forward", "bawaslu:kab-bima"), (4, "begin_examination", "bkn")]


def measure(kind: str, directory: str) -> tuple[int, float]:
    db = os.path.join(directory, f"{kind}.db")
    with open_jejak(f"sqlite:///{db}") as app:
        if kind == "imported":
            import_file(app, os.path.join(ROOT, "examples", "import-sample.csv"))
        else:
            at = datetime(2024, 10, 1, 9, tzinfo=WIB)
            for _ in range(50):
                case_id = app.report("reporter", occurred_at=at, name="Budi Santoso", position_group="administrator",
                                     agency="pemkab-bima", province="prov-ntb", regency="kab-bima",
                                     category="social_media", election="pilkada-2024", reporter_name="Siti")
                for day, trigger, actor in STEPS:
                    app.advance(case_id, trigger, actor, occurred_at=at + timedelta(days=day))
        table = app.recorder.events_table_name
    with sqlite3.connect(db) as conn:
        count, size = conn.execute(f"SELECT count(*), sum(length(state)) FROM {table}").fetchone()  # noqa: S608
    return count, size / count


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        for kind in ("imported", "live"):
            count, per_event = measure(kind, directory)
            print(f"{kind:>8}: {count} events, {per_event:.0f} B/event  ({ROOT})")
