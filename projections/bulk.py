"""The old home of the projections' bulk inserts and column-wise reads, which now live apart: `row_writer`
(inserts) and `frames` (reads). Kept so that code importing from here (projections/integrity.py) still works."""

from projections.frames import ARROW_READER_MIN_EVENTS, read_frame
from projections.row_writer import insert_rows, new_row, paused_gc

__all__ = ["ARROW_READER_MIN_EVENTS", "insert_rows", "new_row", "paused_gc", "read_frame"]
