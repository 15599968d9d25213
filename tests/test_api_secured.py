"""The README's two steps for a server, for real: the owner secures the store and issues tokens with the CLI, then
`jejak serve` connects as the application's role (no DDL, no edit of history) and every kind of request works:
reports, triggers with If-Match and Idempotency-Key, reads, audits, the reporter's data and its access record,
tick, verify. Meanwhile the stored events still refuse edits by that role."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from psycopg import errors, sql

from entrypoints.cli.main import main
from entrypoints.db_secure import EVENTS_TABLE
from tests.conftest import PG_ADMIN, report_fields
from tests.server_support import ServerProcess, bearer, master_key

pytestmark = pytest.mark.postgres
ADMIN = urlsplit(PG_ADMIN)


def admin(statement: sql.Composable) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(statement)


@pytest.fixture
def secured_store():
    """A database owned by a role that is not a superuser, secured by it; yields (owner URL, app URL)."""
    tag = uuid.uuid4().hex[:10]
    database, owner, app, reader = (f"jejak_srv_{tag}", f"jejak_owner_{tag}", f"jejak_app_{tag}",
                                    f"jejak_reader_{tag}")

    def url(role: str) -> str:
        return f"postgresql://{role}@{ADMIN.hostname}:{ADMIN.port or 5432}/{database}"

    admin(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(owner)))
    admin(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(owner)))
    try:
        assert main(["db", "secure", "--db", url(owner), "--app-role", app, "--reader-role", reader]) == 0
        yield url(owner), url(app)
    finally:
        from projections.readside import engine_for

        engine_for.cache_clear()
        admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        for role in (app, reader, owner):
            admin(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def issue(owner_url: str, capsys, *args: str) -> dict:
    assert main(["token", "issue", "--db", owner_url, *args]) == 0
    return bearer(capsys.readouterr().out.strip())


def test_the_server_runs_as_the_app_role_of_a_secured_store(secured_store, capsys, tmp_path):
    owner_url, app_url = secured_store
    bawaslu = issue(owner_url, capsys, "--role", "bawaslu", "--scope", "kab-bima", "--person", "andi")
    auditor = issue(owner_url, capsys, "--role", "auditor")
    system = issue(owner_url, capsys, "--role", "system")
    server = ServerProcess(app_url, tmp_path / "server.log", env={"JEJAK_MASTER_KEY": master_key()})
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as http:
            body = {"occurred_at": "2024-10-01T09:00+07:00", **report_fields()}
            created = http.post("/cases", json=body, headers={**bawaslu, "Idempotency-Key": "k-1"})
            assert created.status_code == 201, created.text
            case_id = created.json()["case_id"]
            replay = http.post("/cases", json=body, headers={**bawaslu, "Idempotency-Key": "k-1"})
            assert replay.status_code == 201 and replay.json()["case_id"] == case_id

            moved = http.post(f"/cases/{case_id}/triggers/begin_review", headers={**bawaslu, "If-Match": '"1"'},
                              json={"occurred_at": "2024-10-02T09:00+07:00"})
            assert moved.status_code == 200 and moved.json()["version"] == 2, moved.text
            stale = http.post(f"/cases/{case_id}/triggers/begin_review", headers={**bawaslu, "If-Match": '"1"'},
                              json={"occurred_at": "2024-10-02T10:00+07:00"})
            assert stale.status_code == 412

            assert http.get(f"/cases/{case_id}", headers=auditor).json()["version"] == 2
            assert len(http.get(f"/cases/{case_id}/events", headers=auditor).json()) == 2
            assert http.get(f"/cases/{case_id}/reporter", headers=bawaslu).status_code == 200
            access = http.get("/audits/personal_data_access", headers=auditor)
            assert access.status_code == 200 and [row["case_id"] for row in access.json()] == [case_id]
            assert http.get("/audits/responsiveness", headers=auditor).status_code == 200
            assert http.post("/tick", headers=system, json={"now": "2024-10-03T09:00+07:00"}).status_code == 200
            assert http.get("/verify", headers=auditor).json()["ok"] is True
    finally:
        server.stop()
    assert "Traceback" not in server.output()
    with psycopg.connect(app_url, autocommit=True) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(sql.SQL("UPDATE {} SET state = state").format(sql.Identifier(EVENTS_TABLE)))
