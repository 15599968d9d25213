"""The server signs a checkpoint of the log every ``JEJAK_CHECKPOINT_MINUTES`` (default 10; 0: never) when the
log grew since the last one, so that witnesses and outsiders find a fresh signed head at `/api/v1/checkpoints`.

Several workers and servers share a store: on PostgreSQL a transaction-level advisory lock makes one of them do it
(the others skip that round); on SQLite the store's write lock serialises them and a checkpoint of a size already
kept is not stored twice.
"""

from __future__ import annotations

import logging
import os
import threading

from sqlalchemy import text

from workflow.errors import InvalidField

log = logging.getLogger("jejak.server")
MINUTES_VARIABLE = "JEJAK_CHECKPOINT_MINUTES"
_LOCK_KEY = 0x6A656A616B  # "jejak": the advisory lock of the checkpointer


def interval_minutes(env=os.environ) -> float:
    raw = env.get(MINUTES_VARIABLE, "10")
    try:
        minutes = float(raw)
    except ValueError:
        minutes = -1.0
    if not 0 <= minutes < 1e6:
        raise InvalidField(MINUTES_VARIABLE, f"cannot use {raw!r}", allowed="minutes, 0 (never) or more")
    return minutes


def checkpoint_if_grown(server) -> bool:
    """Sign a checkpoint if the log has grown since the last one; whether one was made."""
    from projections.checkpoints import make_checkpoint
    from projections.merkle_log import LogTree

    app = server.app
    if app.signer is None:
        return False
    with server.engine.begin() as conn:
        if app.store.is_postgres and not conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                                      {"key": _LOCK_KEY}).scalar():
            return False  # another worker or server is at it
        last = app.recorder.checkpoints.last(app.recorder.datastore)
        tree = LogTree.build(app)  # about 1 s per 100,000 events, once a round
        if tree.size == 0 or (last is not None and tree.size <= last["size"]):
            return False
        make_checkpoint(app, app.signer, tree)
        return True


class Checkpointer:
    def __init__(self, server, minutes: float):
        self.server, self.seconds = server, minutes * 60
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="jejak-checkpointer", daemon=True)

    def start(self) -> None:
        if self.seconds > 0:
            self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(self.seconds):
            try:
                if checkpoint_if_grown(self.server):
                    log.info("signed a checkpoint of the log")
            except Exception:  # noqa: BLE001 - a failed round is logged and tried again next time
                log.exception("could not sign a checkpoint")

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=30)
