"""What a catch-up's held `case_summary` rows cost, side by side in one run: the same folded rows as the slotted
`SummaryRow`s the catch-up holds, and as the dicts of 113 keys it held before (not timed tests).

    .venv/bin/python bench/held_rows.py --db sqlite:///demo.db

The store's events are decoded once, then folded into rows from the first page on, as a catch-up from zero does
(nothing is read from or written to the read models). Memory is counted by `tracemalloc`: each form's own objects
(the values are shared by both); the fold is timed as the best of ``--repeat`` rounds.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

from entrypoints.bootstrap import open_jejak
from projections.case_summary import CaseSummaryProjector, SummaryRow, row_values
from projections.catchup import PAGE_SIZE
from projections.tables import case_summary


def fold(app, events) -> CaseSummaryProjector:
    projector = CaseSummaryProjector(app)
    for start in range(0, len(events), PAGE_SIZE):
        projector.apply(None, events[start:start + PAGE_SIZE])  # from zero: no row is read from the table
    return projector


def allocated(make) -> tuple[object, int]:
    """What `make()` returns, and the bytes it allocated that are still alive."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    made = make()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return made, after - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a store URL (e.g. one `jejak demo` filled)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the fold (default 3)")
    args = parser.parse_args()
    with open_jejak(args.db) as app:
        notifications = app.recorder.select_notifications(start=0, limit=10**9, inclusive_of_start=False)
        events = [(n.id, event, str(event.originator_id))
                  for n in notifications for event in [app.mapper.to_domain_event(n)]]
        seconds = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            fold(app, events)
            seconds.append(time.perf_counter() - began)
        projector, _ = allocated(lambda: fold(app, events))
        rows = list(projector._held.values())
        names = [c.name for c in case_summary.columns]
        _, as_slots = allocated(lambda: [SummaryRow(*row_values(row)) for row in rows])
        _, as_dicts = allocated(lambda: [dict(zip(names, row_values(row))) for row in rows])
    print(f"{len(events):,} events, {len(rows):,} case rows of {len(names)} columns")
    print(f"fold: {min(seconds) / len(events) * 1e6:.1f} µs an event (best of {args.repeat})")
    print(f"a held row: {as_slots / len(rows):,.0f} bytes as SummaryRow, {as_dicts / len(rows):,.0f} as a dict "
          f"({as_dicts / as_slots:.1f}×)")


if __name__ == "__main__":
    main()
