"""The record of `jejak verify` runs on a store: when each ran and what it found. The dashboard's integrity
page shows the last one (the dashboard itself never runs a verification: it writes nothing)."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from uuid import uuid4

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.exc import SQLAlchemyError

from entrypoints.tables import ensure_tables, verification_run


def record(app, report) -> None:
    """Append one run's result. A role that may not write the record (a store secured before this table
    existed: re-run `jejak db secure`) gets a warning on stderr; the verification's answer stands."""
    try:
        engine = create_engine(app.url)
        try:
            ensure_tables(engine)
            with engine.begin() as conn:
                conn.execute(verification_run.insert().values(
                    run_id=str(uuid4()), checked_at=datetime.now(timezone.utc), ok=report.ok, events=report.events,
                    head=report.head, digest=report.digest, problems=len(report.problems)))
        finally:
            engine.dispose()
    except SQLAlchemyError as error:
        print(f"jejak: warning: the result was not recorded for the dashboard ({type(error).__name__}); "
              "run `jejak db secure` again to grant INSERT on verification_run", file=sys.stderr)


def latest(engine: Engine) -> dict | None:
    """The last recorded run, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(verification_run).order_by(verification_run.c.checked_at.desc()).limit(1)).first()
    return dict(row._mapping) if row else None
