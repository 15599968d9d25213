"""Read-model tables: plain SQL in the events' database, readable by any SQL client.

Times are stored in UTC (SQLite keeps no offset) and come back timezone-aware.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, MetaData, String, Table, TypeDecorator


class UTCDateTime(TypeDecorator):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


metadata = MetaData()

# How far each projection has applied the notification log (one row per projection).
projection_position = Table(
    "projection_position", metadata,
    Column("projection", String(100), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

case_summary = Table(
    "case_summary", metadata,
    Column("case_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("state", String(40), nullable=False, index=True),
    Column("era", String(20), nullable=False),
    Column("workflow_version", String(30), nullable=False),
    Column("source", String(10), nullable=False),
    Column("province", String(60), nullable=False),
    Column("regency", String(60)),
    Column("agency", String(80), nullable=False),
    Column("agency_type", String(20), nullable=False),
    Column("ppk", String(80), nullable=False),
    Column("position_group", String(20), nullable=False),
    Column("category", String(30), nullable=False),
    Column("election", String(20), nullable=False),
    Column("reported_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("deadline", String(40)),
    Column("due_at", UTCDateTime, index=True),
    Column("deadline_missed", Boolean, nullable=False),
    Column("personnel_data_blocked", Boolean, nullable=False),
    Column("escalated", Boolean, nullable=False),
)
