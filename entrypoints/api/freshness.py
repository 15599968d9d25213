"""Which copy of the read models answers a read, and how fresh it is.

Listings and audits are read from the replica when there is one (`--read-db`), else from the primary; every
such response says the notification position its read models had reached (`Jejak-Position`, a query made
after it reflects at least that event) and where it was read (`Jejak-Read-From: replica|primary`). A client
that wants to read its own write passes the `Jejak-Position` its command returned as `?min_position=N`: the
replica is waited for (half of `JEJAK_MIN_POSITION_WAIT`), then the primary (the rest); if neither has reached
N by then the answer is 503 with Retry-After (the follower is behind), never stale data. A replica that does
not answer is passed over for the primary."""

from __future__ import annotations

import logging
import time

from entrypoints.api.server import Server
from entrypoints.api.unavailable import database_unreachable
from entrypoints.problems import Unavailable
from projections.readside import ReadSide
from workflow.errors import InvalidField

log = logging.getLogger("jejak.server")
STEP = 0.05  # seconds between looks at a read side's position while waiting


def read_models(server: Server, min_position: int | None = None) -> tuple[ReadSide, dict[str, str]]:
    """The read side to answer from, and the headers saying its position and where it is."""
    if min_position is not None and min_position < 0:
        raise InvalidField("min_position", f"must be 0 or more, got {min_position}")
    start = time.monotonic()
    wait = server.settings.min_position_wait
    if server.replica_read_side is not None:
        position = _wait_for(server.replica_read_side, min_position, start + wait / 2)
        if position is not None:
            return _stamped(server.replica_read_side, "replica", position)
    if min_position is not None:  # inline mode: catch up now (a follower does it otherwise; the query does too)
        server.read_side.refresh()
    position = _wait_for(server.read_side, min_position, start + wait, replica=False)
    if position is not None:
        return _stamped(server.read_side, "primary", position)
    newest = server.app.recorder.max_notification_id() or 0
    if min_position > newest:
        raise InvalidField("min_position", f"no event has position {min_position} yet (the newest is {newest})")
    raise Unavailable(f"the read models have not reached position {min_position} within {wait:g} s (the "
                      "projection follower is behind); retry shortly")


def _wait_for(read_side: ReadSide, min_position: int | None, deadline: float, replica: bool = True) -> int | None:
    """The read side's position once it is at least `min_position`, or None at the deadline (or, for a
    replica, if it does not answer)."""
    while True:
        try:
            position = read_side.position()
        except Exception as error:
            if not (replica and database_unreachable(error)):
                raise
            log.warning("the replica does not answer (%s): reading from the primary", type(error).__name__)
            return None
        if min_position is None or position >= min_position:
            return position
        if time.monotonic() + STEP > deadline:
            return None
        time.sleep(STEP)


def _stamped(read_side: ReadSide, source: str, position: int) -> tuple[ReadSide, dict[str, str]]:
    return read_side, {"Jejak-Position": str(position), "Jejak-Read-From": source}
