"""The server needs on its own tables only what its README section says: SELECT on `api_token`; SELECT, INSERT,
UPDATE, DELETE on `idempotency_record`; SELECT, INSERT on `personal_data_access`; SELECT on `verification_run`
(the dashboard's integrity page); and no CREATE once they
exist. A server connected as a role granted exactly that on them (and what the events and read models need on
theirs, which is not this test's subject) runs every kind of request; the same role cannot rewrite a token or
the access record."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient

from entrypoints.api.app import create_app
from entrypoints.api.settings import ServerSettings
from entrypoints.auth import tokens
from entrypoints.bootstrap import open_jejak
from projections.readside import ReadSide
from tests.conftest import T0, report_fields
from tests.server_support import bearer, pg_database

pytestmark = pytest.mark.postgres
SERVER_TABLES = {"api_token": "SELECT", "idempotency_record": "SELECT, INSERT, UPDATE, DELETE",
                 "personal_data_access": "SELECT, INSERT", "verification_run": "SELECT"}


def test_the_server_runs_with_the_privileges_its_readme_names(monkeypatch):
    role = f"jejak_test_{uuid.uuid4().hex[:10]}"
    with pg_database() as owner_url:
        with open_jejak(owner_url) as app:  # the owner creates every table once
            ReadSide(app).catch_up()
            case_id = app.report("reporter", occurred_at=T0, **report_fields())
        engine = tokens.engine_for_tokens(owner_url)
        own = bearer(tokens.issue(engine, "bawaslu", "kab-bima")[0])
        auditor = bearer(tokens.issue(engine, "auditor")[0])
        with psycopg.connect(owner_url, autocommit=True) as conn:
            conn.execute(f'CREATE ROLE "{role}" LOGIN')
            conn.execute(f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"')  # for the other parts' IF NOT EXISTS
            conn.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
            conn.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
            for table, privileges in SERVER_TABLES.items():
                conn.execute(f'REVOKE ALL ON {table} FROM "{role}"')
                conn.execute(f'GRANT {privileges} ON {table} TO "{role}"')
        role_url = owner_url.replace("postgres@", f"{role}@", 1)
        monkeypatch.setenv("CREATE_TABLE", "no")  # eventsourcing's functions belong to the owner
        try:
            with TestClient(create_app(ServerSettings(db=role_url, insecure_dev=True))) as client:
                key = {"Idempotency-Key": "once"}
                for _ in range(2):
                    fired = client.post(f"/api/v1/cases/{case_id}/triggers/begin_review", headers={**own, **key})
                    assert fired.status_code == 200, fired.text
                refused = client.post(f"/api/v1/cases/{case_id}/triggers/forward", headers={**own, "Idempotency-Key":
                                                                                          "refused"})
                assert refused.status_code == 422  # its key deleted again
                assert client.get(f"/api/v1/cases/{case_id}/reporter", headers=own).status_code == 200
                assert client.get(f"/api/v1/cases/{case_id}/reporter", headers=auditor).status_code == 403
                log = client.get("/api/v1/audits/personal_data_access", headers=auditor).json()
                assert [row["granted"] for row in log] == [True, False]
                for page in ("/", "/ppk", "/overdue", "/integrity"):  # the dashboard reads, and writes nothing
                    assert client.get(page).status_code == 200, page
            with psycopg.connect(role_url, autocommit=True) as conn:
                for statement in ("UPDATE api_token SET revoked_at = NULL", "DELETE FROM personal_data_access",
                                  "INSERT INTO api_token (token_id, secret_sha256, role, created_at) "
                                  "VALUES ('x', 'x', 'bkn', now())",
                                  "INSERT INTO verification_run (run_id, checked_at, ok, events, problems) "
                                  "VALUES ('x', now(), true, 0, 0)"):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        conn.execute(statement)
        finally:
            engine.dispose()
            from projections.readside import engine_for
            engine_for.cache_clear()
            with psycopg.connect(owner_url, autocommit=True) as conn:
                conn.execute(f'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = \'{role}\'')
                conn.execute(f'DROP OWNED BY "{role}"')
                conn.execute(f'DROP ROLE "{role}"')
