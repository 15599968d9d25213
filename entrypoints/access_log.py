"""The record of access to reporters' personal data (the PDP law expects one): every request for a case's
decrypted reporter, granted or refused, with who asked, when, and for which case. Written by the server before
it answers; listed by `jejak audit personal_data_access` and ``GET /api/v1/audits/personal_data_access``."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4

from sqlalchemy import Engine, select

from entrypoints.tables import personal_data_access

COLUMNS = ["accessed_at", "case_id", "actor", "principal", "granted", "reason"]


def record(engine: Engine, principal, case_id: str, granted: bool, reason: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(personal_data_access.insert().values(
            access_id=str(uuid4()), accessed_at=datetime.now(timezone.utc), case_id=case_id,
            principal=principal.credential, actor=str(principal.actor), granted=granted,
            reason=reason[:300] if reason else None))


def frame(engine: Engine):
    """Every recorded access, oldest first, as a DataFrame (times timezone-aware, UTC)."""
    import pandas as pd

    query = select(*[personal_data_access.c[name] for name in COLUMNS]).order_by(
        personal_data_access.c.accessed_at, personal_data_access.c.access_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    result = pd.DataFrame([tuple(row) for row in rows], columns=COLUMNS)
    result["accessed_at"] = pd.to_datetime(result["accessed_at"], utc=True)
    return result
