"""The server's own tables, beside the events and the read models in the same database.

``api_token``
    API tokens: who each one is (role, scope, person), when it expires or was revoked, and only the SHA-256
    of its secret. The server reads it (SELECT); `jejak token issue/revoke` write it (INSERT, UPDATE).
``idempotency_record``
    one row per (principal, Idempotency-Key): the request's fingerprint and the response to replay. The server
    inserts a row before running the command, fills in the response after (UPDATE), and deletes it when the
    command was refused (nothing was written, so the key may be used again): SELECT, INSERT, UPDATE, DELETE.
``verification_run``
    each `jejak verify` run on the store: when, the result, the head it ended on (the dashboard shows the last).
``personal_data_access``
    every request for a case's decrypted reporter data, granted or refused: who, when, which case (the PDP
    law's record of access). Append-only for the server: INSERT, and SELECT for the audit.

The tables are created at start-up only when missing (``ensure_tables``), so a server connecting as a role
without CREATE works once they exist. Nothing here holds personal data or a usable secret.
"""

from __future__ import annotations

import time

from sqlalchemy import Boolean, Column, Engine, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from projections.tables import UTCDateTime
from workflow.store import lost_schema_race

metadata = MetaData()

api_token = Table(
    "api_token", metadata,
    Column("token_id", String(32), primary_key=True, comment="public id: the token's first part, shown by list"),
    Column("secret_sha256", String(64), nullable=False, comment="SHA-256 (hex) of the token's 256-bit secret"),
    Column("role", String(20), nullable=False),
    Column("scope", String(80), comment="region or agency code"),
    Column("person", String(100), comment="the officer, recorded as the actor's @ID"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, comment="null: does not expire"),
    Column("revoked_at", UTCDateTime, comment="null: not revoked"),
    comment="API tokens of `jejak serve` (only a hash of each secret).",
)

idempotency_record = Table(
    "idempotency_record", metadata,
    Column("principal", String(300), primary_key=True, comment="token:ID or oidc:SUBJECT"),
    Column("idempotency_key", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False, comment="SHA-256 of method, path, If-Match and body"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("status", Integer, comment="the response's status; null while the first request runs"),
    Column("headers", Text, comment="the response's Location and ETag, as JSON"),
    Column("body", Text, comment="the response's JSON body"),
    comment="Responses of POST requests sent with an Idempotency-Key, per principal, for replay.",
)

personal_data_access = Table(
    "personal_data_access", metadata,
    Column("access_id", String(36), primary_key=True, comment="a random UUID (no sequence to grant)"),
    Column("accessed_at", UTCDateTime, nullable=False),
    Column("case_id", String(36), nullable=False, index=True),
    Column("principal", String(300), nullable=False, comment="token:ID or oidc:SUBJECT"),
    Column("actor", String(200), nullable=False, comment="ROLE[:SCOPE][@ID] of the principal"),
    Column("granted", Boolean, nullable=False, comment="false: refused (not the case's own Bawaslu)"),
    Column("reason", String(300), comment="why it was refused"),
    Index("ix_personal_data_access_accessed_at", "accessed_at"),
    comment="Every request for a reporter's decrypted data: who, when, which case (PDP law).",
)

verification_run = Table(
    "verification_run", metadata,
    Column("run_id", String(36), primary_key=True, comment="a random UUID"),
    Column("checked_at", UTCDateTime, nullable=False, index=True, comment="when `jejak verify` finished"),
    Column("ok", Boolean, nullable=False, comment="the events matched the chain (and the digest, if given)"),
    Column("events", Integer, nullable=False, comment="stored events checked"),
    Column("head", String(90), comment="the chain's head HEX@POSITION after the check"),
    Column("digest", String(90), comment="the published digest checked against, if any"),
    Column("problems", Integer, nullable=False, comment="problems found (edited, deleted, inserted, …)"),
    comment="Each run of `jejak verify` on the store: the dashboard's integrity page shows the last one.",
)

SERVER_TABLES = (api_token, idempotency_record, personal_data_access, verification_run)


def ensure_tables(engine: Engine) -> None:
    """Create the server's tables if they are missing (only inspects the catalogue when they exist). Several
    processes starting at once race to create them: the loser finds them in place on its next try."""
    for attempt in range(10):
        try:
            metadata.create_all(engine, checkfirst=True)
            return
        except (IntegrityError, ProgrammingError, OperationalError) as error:
            if attempt == 9 or not (isinstance(error, IntegrityError) or lost_schema_race(error)):
                raise
            time.sleep(0.02 * (attempt + 1))
