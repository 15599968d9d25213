"""The HTTP API in-process (FastAPI's TestClient, which is httpx) on both stores: what the real-server tests
do not need a process for. The TestClient raises any exception that reaches the catch-all 500 handler, so
every refusal below is shown to be a handled one."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from entrypoints.api.app import create_app
from entrypoints.api.settings import ServerSettings, require_master_key
from entrypoints.auth import tokens
from entrypoints.auth.oidc import OIDCSettings
from entrypoints.cli.main import main
from entrypoints.tables import api_token, idempotency_record
from tests.conftest import T0, TO_RECOMMENDED, report_fields, walk
from tests.server_support import AUDIENCE, ISSUER, KeyServer, bearer
from workflow.errors import InvalidField


@pytest.fixture
def api(db_url):
    """(client, issue(actor) -> headers, the server inside)."""
    engine = tokens.engine_for_tokens(db_url)

    def issue(role, scope=None, person=None, **options):
        return bearer(tokens.issue(engine, role, scope, person, **options)[0])

    with TestClient(create_app(ServerSettings(db=db_url, insecure_dev=True))) as client:
        yield client, issue, client.app.state.server
    engine.dispose()


def test_a_case_through_the_api(api):
    client, issue, server = api
    reporter, bawaslu, auditor = issue("reporter"), issue("bawaslu", "kab-bima", "andi"), issue("auditor")
    created = client.post("/api/v1/cases", headers=reporter, json={"occurred_at": "2024-10-01T09:00",
                                                                   "witnesses": ["Ani", "Budi"], **report_fields()})
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    assert client.get(created.headers["location"], headers=auditor).headers["etag"] == '"1"'
    for trigger, at in [("begin_review", "2024-10-02"), ("register", "2024-10-03")]:
        fired = client.post(f"/api/v1/cases/{case_id}/triggers/{trigger}", headers=bearer_and(bawaslu, '"%d"' % (
            1 if trigger == "begin_review" else 2)), json={"occurred_at": at, "note": "ok"})
        assert fired.status_code == 200 and fired.headers["etag"] == f'"{fired.json()["version"]}"'
    case = client.get(f"/api/v1/cases/{case_id}", headers=auditor).json()
    assert (case["state"], case["version"], case["incident"]["witnesses"]) == ("under_examination", 3, ["Ani", "Budi"])
    assert "reporter" not in json.dumps(case).replace("has_reporter", "").replace("reporter_erased", "")
    events = client.get(f"/api/v1/cases/{case_id}/events", headers=auditor).json()
    assert [e["actor"] for e in events] == ["reporter", "bawaslu:kab-bima@andi", "bawaslu:kab-bima@andi"]
    assert "Siti" not in json.dumps(events)  # the reporter's data stays sealed in the history
    assert len(client.get(f"/api/v1/cases/{case_id}/events?as_of=2024-10-02T12:00", headers=auditor).json()) == 2
    rows = client.get("/api/v1/cases?state=under_examination", headers=auditor).json()
    assert [r["case_id"] for r in rows] == [case_id]


def bearer_and(headers: dict, if_match: str) -> dict:
    return {**headers, "If-Match": if_match}


def test_audits_as_json_csv_and_arrow(api):
    client, issue, server = api
    auditor = issue("auditor")
    case_id = server.app.report("reporter", occurred_at=T0, **report_fields())
    walk(server.app, case_id, TO_RECOMMENDED)
    local = pd.read_json(io.StringIO(client.get("/api/v1/audits/funnel?by=province", headers=auditor).text))
    assert local.loc[0, "province"] == "prov-ntb" and local.loc[0, "recommended"] == 1
    csv = client.get("/api/v1/audits/responsiveness", headers={**auditor, "Accept": "text/csv"})
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.splitlines()[0].startswith("ppk,")
    import pyarrow as pa
    arrow = client.get("/api/v1/audits/portfolio?as_of=2024-10-03&as_of=2024-10-20",
                       headers={**auditor, "Accept": "application/vnd.apache.arrow.stream"})
    frame = pa.ipc.open_stream(arrow.content).read_pandas()
    assert len(frame) == 2 and set(frame.columns) >= {"as_of"}
    assert client.get("/api/v1/audits/portfolio", headers=auditor).status_code == 422  # needs a date


def test_every_read_of_personal_data_is_recorded_and_listed(api, db_url, capsys):
    client, issue, server = api
    case_id = str(server.app.report("reporter", occurred_at=T0, **report_fields(reporter_id_number="5201")))
    own, national, other, auditor = (issue("bawaslu", "kab-bima", "andi"), issue("bawaslu", "ri"),
                                     issue("bawaslu", "kab-dompu"), issue("auditor"))
    read = client.get(f"/api/v1/cases/{case_id}/reporter", headers=own)
    assert read.status_code == 200 and read.json()["reporter"]["id_number"] == "5201"
    for refused in (other, auditor, issue("bkn"), issue("ppk", "pemkab-bima")):
        response = client.get(f"/api/v1/cases/{case_id}/reporter", headers=refused)
        assert response.status_code == 403 and "5201" not in response.text
    log = client.get("/api/v1/audits/personal_data_access", headers=auditor).json()
    assert [(row["actor"], row["granted"], row["case_id"]) for row in log] == [
        ("bawaslu:kab-bima@andi", True, case_id), ("bawaslu:kab-dompu", False, case_id), ("auditor", False, case_id),
        ("bkn", False, case_id), ("ppk:pemkab-bima", False, case_id)]
    assert all(row["principal"].startswith("token:") and row["accessed_at"] for row in log)
    assert client.get("/api/v1/audits/personal_data_access", headers=other).status_code == 403
    assert client.get("/api/v1/audits/personal_data_access", headers=national).status_code == 200
    assert main(["--db", db_url, "audit", "personal_data_access", "--csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "accessed_at,case_id,actor,principal,granted,reason" and len(out) == 6


def test_erasing_over_the_api_then_nothing_to_read(api):
    client, issue, server = api
    case_id = server.app.report("reporter", occurred_at=T0, **report_fields())
    own = issue("bawaslu", "kab-bima")
    assert client.post(f"/api/v1/cases/{case_id}/triggers/erase_reporter", headers=own).status_code == 200
    after = client.get(f"/api/v1/cases/{case_id}/reporter", headers=own).json()
    assert after == {"case_id": str(case_id), "reporter": None, "erased": True}


def test_tick_is_for_the_system_role(api):
    client, issue, server = api
    case_id = server.app.report("reporter", occurred_at=T0, **report_fields())
    walk(server.app, case_id, TO_RECOMMENDED)
    assert client.post("/api/v1/tick", headers=issue("bkn")).status_code == 403
    marked = client.post("/api/v1/tick", headers=issue("system"), json={"now": "2024-11-01T00:00+07:00"})
    assert marked.status_code == 200 and marked.json() == [{"case_id": str(case_id),
                                                            "missed_deadline": "ppk_follow_up"}]
    assert client.post("/api/v1/tick", headers=issue("system"), json={"now": "2024-11-01T00:00+07:00"}).json() == []
    assert client.post("/api/v1/tick", headers=issue("system"), json={"now": "2999-01-01"}).status_code == 422


def test_an_unfinished_idempotent_request_is_not_run_twice(api):
    client, issue, server = api
    headers = {**issue("reporter"), "Idempotency-Key": "first"}
    body = {"occurred_at": "2024-10-01T09:00", **report_fields()}
    with server.engine.begin() as conn:  # as a request still running (or killed before it stored its answer)
        principal = server.authenticator.principal(headers["Authorization"].split()[1])
        from entrypoints.api.idempotency import fingerprint
        conn.execute(idempotency_record.insert().values(
            principal=principal.credential, idempotency_key="first", created_at=datetime.now(timezone.utc),
            fingerprint=fingerprint("POST", "/api/v1/cases", None, _dump(body))))
    before = server.app.recorder.max_notification_id()
    response = client.post("/api/v1/cases", headers=headers, json=body)
    assert response.status_code == 409 and "has not finished" in response.json()["detail"]
    assert server.app.recorder.max_notification_id() == before
    too_long = client.post("/api/v1/cases", headers={**headers, "Idempotency-Key": "k" * 201}, json=body)
    assert too_long.status_code == 400


def _dump(body: dict) -> dict:
    from entrypoints.api.schemas import ReportIn
    return ReportIn(**body).model_dump()


def test_tokens_store_only_a_hash_and_revocation_is_idempotent(api, db_url, capsys):
    client, issue, server = api
    assert main(["--db", db_url, "token", "issue", "--role", "ppk", "--scope", "pemkab-bima", "--expires", "30"]) == 0
    token = capsys.readouterr().out.strip()
    token_id = token.split("_")[1]
    with server.engine.connect() as conn:
        row = conn.execute(select(api_token).where(api_token.c.token_id == token_id)).one()
    assert token.split("_", 2)[2] not in json.dumps([str(v) for v in row]) and len(row.secret_sha256) == 64
    assert row.expires_at - row.created_at == timedelta(days=30)
    assert client.get("/api/v1/cases", headers=bearer(token)).status_code == 200
    assert client.get("/api/v1/cases", headers=bearer(token[:-1] + ("A" if token[-1] != "A" else "B"))
                      ).status_code == 401  # one character off
    assert main(["--db", db_url, "token", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["actor"] for t in listed if t["token_id"] == token_id] == ["ppk:pemkab-bima"]
    assert main(["--db", db_url, "token", "revoke", token_id]) == 0 and "revoked" in capsys.readouterr().out
    assert main(["--db", db_url, "token", "revoke", token_id]) == 0 and "already" in capsys.readouterr().out
    assert main(["--db", db_url, "token", "revoke", "feedface"]) == 2
    assert main(["--db", db_url, "token", "issue", "--role", "bawaslu"]) == 2  # needs a scope
    assert main(["--db", db_url, "token", "issue", "--role", "auditor", "--expires", "0"]) == 2
    assert "needs one" in capsys.readouterr().err


def test_jwt_from_a_key_set_file(db_url, tmp_path):
    keys = KeyServer()
    try:
        (tmp_path / "jwks.json").write_text(json.dumps(__import__("httpx").get(keys.url).json()))
        oidc = OIDCSettings.from_env({**keys.env(), "JEJAK_OIDC_JWKS_URL": "", "JEJAK_OIDC_JWKS_FILE":
                                      str(tmp_path / "jwks.json")})
        with TestClient(create_app(ServerSettings(db=db_url, insecure_dev=True, oidc=oidc))) as client:
            ok = client.get("/api/v1/cases", headers=bearer(keys.token("ec-1", jejak_role="auditor")))
            assert ok.status_code == 200
            unknown = client.get("/api/v1/cases", headers=bearer(keys.token("rsa-2", jejak_role="auditor")))
            assert unknown.status_code == 401 and "unknown key id" in unknown.json()["detail"]
            reporter = client.post("/api/v1/cases", json={"occurred_at": "2024-10-01T09:00", **report_fields()},
                                   headers=bearer(keys.token(jejak_role="reporter", jejak_scope=None)))
            assert reporter.status_code == 201  # a reporter's person claim is not recorded on the event
            assert client.app.state.server.app.case_events(reporter.json()["case_id"])[0].actor["id"] is None
    finally:
        keys.close()


@pytest.mark.parametrize("env, problem", [
    ({"JEJAK_OIDC_ISSUER": ISSUER}, "JEJAK_OIDC_AUDIENCE"),
    ({"JEJAK_OIDC_ISSUER": ISSUER, "JEJAK_OIDC_AUDIENCE": AUDIENCE}, "give exactly one"),
    ({"JEJAK_OIDC_ISSUER": ISSUER, "JEJAK_OIDC_AUDIENCE": AUDIENCE, "JEJAK_OIDC_JWKS_URL": "http://x",
      "JEJAK_OIDC_ALGORITHMS": "RS256,HS256"}, "not asymmetric"),
    ({"JEJAK_OIDC_ISSUER": ISSUER, "JEJAK_OIDC_AUDIENCE": AUDIENCE, "JEJAK_OIDC_JWKS_URL": "http://x",
      "JEJAK_OIDC_ALGORITHMS": "none"}, "not asymmetric"),
])
def test_oidc_settings_refuse_what_cannot_be_safe(env, problem):
    with pytest.raises(InvalidField, match=problem):
        OIDCSettings.from_env(env)
    assert OIDCSettings.from_env({}) is None


def test_master_key_is_required_unless_insecure_dev(tmp_path):
    with pytest.raises(InvalidField, match="not set"):
        require_master_key(False, {})
    assert require_master_key(True, {}) == "insecure-dev"
    (tmp_path / "key").write_text("  abc=\n")
    env = {"JEJAK_MASTER_KEY_FILE": str(tmp_path / "key")}
    assert require_master_key(False, env) == str(tmp_path / "key") and "JEJAK_MASTER_KEY" not in env
    (tmp_path / "empty").write_text("")
    with pytest.raises(InvalidField, match="is empty"):
        require_master_key(False, {"JEJAK_MASTER_KEY_FILE": str(tmp_path / "empty")})
    with pytest.raises(InvalidField, match="not set"):
        create_app(ServerSettings(db=str(tmp_path / "x.db")))


def test_a_reporter_credential_files_but_reads_no_cases(api):
    client, issue, server = api
    reporter = issue("reporter")
    case_id = client.post("/api/v1/cases", headers=reporter,
                          json={"occurred_at": "2024-10-01T09:00", **report_fields()}).json()["case_id"]
    for path in ("/api/v1/cases", f"/api/v1/cases/{case_id}", f"/api/v1/cases/{case_id}/events",
                 "/api/v1/audits/funnel", "/api/v1/verify", "/api/v1/digest", f"/api/v1/cases/{case_id}/reporter"):
        response = client.get(path, headers=reporter)
        assert response.status_code == 403 and "Budi" not in response.text, path
    assert client.get(f"/api/v1/cases/{case_id}/triggers", headers=reporter).json()["triggers"] == []
    assert "INSECURE DEV MODE" in client.get("/openapi.json").json()["info"]["description"]
