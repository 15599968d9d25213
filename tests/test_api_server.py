"""A real `jejak serve` process (two workers, uvicorn) on 127.0.0.1 against a real PostgreSQL database, driven
over HTTP: the authorization matrix, identity from the credential (tokens revoked or expired at once, every bad
JWT), a body naming another actor, Idempotency-Key replays, racing If-Match writers, hostile requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.utils import base64url_encode

from entrypoints.auth import tokens
from tests.conftest import T0, report_fields
from tests.server_support import AUDIENCE, ROOT, ServerProcess, bearer, master_key, pg_database
from tests.test_authorization_matrix import ACTORS, combinations, prepare, store_state
from workflow import decisions, rules
from workflow.actors import Actor, covers
from workflow.application import Jejak
from workflow.definitions import ERAS

pytestmark = pytest.mark.postgres
ERA = "bkn-2024"
FIELDS = {"recommend": {"track": "ethics", "sanction": "closed_statement"},
          "impose_sanction": {"sanction": "closed_statement", "decree_number": "800/1"},
          "escalate": {"to": "president"}, "record_departure": {"reason": "retired"}}


@pytest.fixture(scope="module")
def live(tmp_path_factory, keys):
    """(server, db_url, engine, app): the server with API tokens and the test identity provider."""
    with pg_database() as db_url:
        engine = tokens.engine_for_tokens(db_url)
        server = ServerProcess(db_url, tmp_path_factory.mktemp("serve") / "serve.log", workers=2,
                               env={"JEJAK_MASTER_KEY": master_key(), **keys.env()}).wait_ready()
        app = Jejak(db_url)
        try:
            yield server, db_url, engine, app
        finally:
            app.close()
            server.stop()
            engine.dispose()
            assert "Traceback" not in server.output(), server.output()


def token_for(engine, actor: str, **options) -> str:
    parsed = Actor.parse(actor)
    return tokens.issue(engine, parsed.role, parsed.scope, parsed.id, **options)[0]


def test_authorization_matrix_over_http(live):
    """Every (trigger, source state) of the bkn-2024 era × twelve actors, each with its own token: the status
    says what the rules say, a refusal writes nothing, and a write records the token's actor. (The refusals of
    one case are sent at once, and the log compared before and after them.)"""
    server, _, engine, app = live
    era = ERAS[ERA]
    clients = {text: httpx.Client(base_url=server.url, headers=bearer(token_for(engine, text))) for text in ACTORS}

    def fire(text, case):
        return clients[text].post(f"/api/v1/cases/{case.id}/triggers/{trigger}",
                                  json={"fields": FIELDS.get(trigger, {})}, headers={"If-Match": f'"{case.version}"'})

    wrong, tried, written = [], 0, 0
    try:
        with ThreadPoolExecutor(6) as pool:
            for trigger, state in combinations(ERA):
                shared = prepare(app, ERA, state, trigger)
                app.record_cases(shared)
                legal = trigger in rules.legal_triggers(era, state, decisions.facts(shared, datetime.now(timezone.utc)))
                expected = {}
                for text in ACTORS:
                    actor = Actor.parse(text)
                    expected[text] = (403 if not covers(actor, "prov-ntb", "kab-bima", {"pemkab-bima"}) else
                                      422 if not legal else
                                      403 if actor.role not in rules.roles_for(era, state, trigger) else 200)
                refused = [text for text in ACTORS if expected[text] != 200]
                before = store_state(app)
                responses = dict(zip(refused, pool.map(lambda text: fire(text, shared), refused)))
                if store_state(app) != before:
                    wrong.append(f"{trigger} from {state}: a refusal wrote {before}->{store_state(app)}")
                for text in ACTORS:
                    if expected[text] == 200:
                        case = prepare(app, ERA, state, trigger)
                        app.record_cases(case)
                        before = store_state(app)
                        responses[text] = response = fire(text, case)
                        ok = response.status_code == 200 and store_state(app)[0] > before[0]
                        ok = ok and response.json()["version"] == case.version + 1
                        ok = ok and app.case_events(case.id)[-1].actor == Actor.parse(text).as_dict()
                        written += ok
                    else:
                        response = responses[text]
                        ok = response.status_code == expected[text] and \
                            response.headers["content-type"] == "application/problem+json"
                    tried += 1
                    if not ok:
                        wrong.append(f"{trigger} from {state} by {text}: expected {expected[text]}, got "
                                     f"{response.status_code} {response.text[:200]}")
    finally:
        for client in clients.values():
            client.close()
    assert not wrong, "\n".join(wrong[:20])
    assert tried > 500 and written > 30


def test_report_over_http_by_each_actor(live):
    server, _, engine, app = live
    wrong = []
    for text in ACTORS:
        actor = Actor.parse(text)
        expected = 201 if actor.role in rules.roles_for(ERAS[ERA], "new", "report") and covers(
            actor, "prov-ntb", "kab-bima", {"pemkab-bima"}) else 403
        before = store_state(app)
        response = httpx.post(server.url + "/api/v1/cases", headers=bearer(token_for(engine, text)),
                              json={"occurred_at": "2024-10-01T09:00", **report_fields()})
        written = store_state(app)[0] != before[0]
        if response.status_code != expected or written != (expected == 201):
            wrong.append(f"{text}: {response.status_code} {response.text[:200]}")
        elif expected == 201:
            case_id = response.json()["case_id"]
            assert response.headers["location"] == f"/api/v1/cases/{case_id}"
            assert response.headers["etag"] == '"1"'
            assert app.case_events(case_id)[0].actor == actor.as_dict()  # the token's actor, not a typed one
    assert not wrong, "\n".join(wrong)


def test_revoked_or_expired_token_is_refused_at_once(live):
    server, db_url, engine, _ = live
    token = token_for(engine, "auditor")
    assert httpx.get(server.url + "/api/v1/cases", headers=bearer(token)).status_code == 200
    token_id = token.split("_")[1]
    revoke = subprocess.run([sys.executable, "-m", "entrypoints.cli", "--db", db_url, "token", "revoke", token_id],
                            cwd=ROOT, capture_output=True, text=True)
    assert revoke.returncode == 0, revoke.stderr
    for _ in range(4):  # whichever worker process answers
        refused = httpx.get(server.url + "/api/v1/cases", headers=bearer(token))
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
        assert refused.headers["www-authenticate"].startswith("Bearer")

    short = tokens.issue(engine, "auditor", expires_days=1.5 / 86400)[0]  # 1.5 seconds
    assert httpx.get(server.url + "/api/v1/cases", headers=bearer(short)).status_code == 200
    time.sleep(1.6)
    expired = httpx.get(server.url + "/api/v1/cases", headers=bearer(short))
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_jwt_identity_and_every_bad_jwt(live, keys):
    server, _, _, app = live
    case_id = app.report("reporter", occurred_at=T0, **report_fields())

    def get(token):
        return httpx.get(f"{server.url}/api/v1/cases/{case_id}/triggers", headers=bearer(token))

    good = get(keys.token())
    assert good.status_code == 200 and good.json()["actor"] == "bawaslu:kab-bima@andi"
    assert get(keys.token("ec-1")).status_code == 200
    fired = httpx.post(f"{server.url}/api/v1/cases/{case_id}/triggers/begin_review", headers=bearer(keys.token()))
    assert fired.status_code == 200 and app.case_events(case_id)[-1].actor == {
        "role": "bawaslu", "scope": "kab-bima", "id": "andi"}

    now = int(time.time())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"iss": keys.env()["JEJAK_OIDC_ISSUER"], "aud": AUDIENCE, "exp": now + 600, "jejak_role": "bkn"}
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "rsa-1"})
    public_pem = keys.keys["rsa-1"].public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    hmac_forgery = forge_hs256(claims, public_pem, "rsa-1")  # the classic confusion: the public key as HMAC key
    bad = {
        "alg none": unsigned,
        "HS256 keyed with the public key": hmac_forgery,
        "wrong issuer": keys.token(iss="https://evil.example"),
        "wrong audience": keys.token(aud="another-api"),
        "expired": keys.token(exp=now - 3600, iat=now - 7200),
        "bad signature": keys.token(key=stranger),
        "unknown key id": keys.token(kid="rsa-9", key=stranger),
        "no expiry": keys.token(exp=None),
        "not a JWT": "abc.def.ghi",
    }
    for what, token in bad.items():
        response = get(token)
        assert response.status_code == 401, (what, response.text)
        assert response.headers["content-type"] == "application/problem+json", what
    assert get(keys.token(jejak_role=None)).status_code == 403  # signed, but names no actor
    assert get(keys.token(jejak_role="president")).status_code == 403


def forge_hs256(claims: dict, secret: bytes, kid: str) -> str:
    """An HS256 JWT built by hand (PyJWT itself refuses to key HMAC with a public key)."""
    parts = [base64url_encode(json.dumps(part).encode()) for part in ({"alg": "HS256", "kid": kid}, claims)]
    signing_input = b".".join(parts)
    signature = base64url_encode(hmac.new(secret, signing_input, hashlib.sha256).digest())
    return (signing_input + b"." + signature).decode()


def test_a_body_naming_another_actor_is_refused(live):
    server, _, engine, app = live
    token = token_for(engine, "bawaslu:kab-bima@andi")
    before = store_state(app)
    report = httpx.post(server.url + "/api/v1/cases", headers=bearer(token),
                        json={"actor": "bawaslu:kab-dompu", **report_fields()})
    assert report.status_code == 403 and "cannot act as bawaslu:kab-dompu" in report.json()["detail"]
    case_id = app.report("reporter", occurred_at=T0, **report_fields())
    before = store_state(app)
    fired = httpx.post(f"{server.url}/api/v1/cases/{case_id}/triggers/begin_review", headers=bearer(token),
                       json={"actor": "bkn"})
    assert fired.status_code == 403 and store_state(app) == before
    same = httpx.post(f"{server.url}/api/v1/cases/{case_id}/triggers/begin_review", headers=bearer(token),
                      json={"actor": "bawaslu:kab-bima@andi"})
    assert same.status_code == 200


def test_idempotency_key_replays_the_first_response(live):
    server, _, engine, app = live
    token, other = token_for(engine, "reporter"), token_for(engine, "reporter")
    body = {"occurred_at": "2024-10-01T09:00", **report_fields()}
    key = {"Idempotency-Key": "report-42"}
    first = httpx.post(server.url + "/api/v1/cases", headers={**bearer(token), **key}, json=body)
    before = store_state(app)
    again = [httpx.post(server.url + "/api/v1/cases", headers={**bearer(token), **key}, json=body) for _ in range(3)]
    assert first.status_code == 201 and all(r.status_code == 201 for r in again)
    assert {r.json()["case_id"] for r in again} == {first.json()["case_id"]}
    assert all(r.headers["idempotent-replayed"] == "true" and r.headers["location"] == first.headers["location"]
               for r in again)
    assert store_state(app) == before  # nothing more written, whichever process answered
    changed = httpx.post(server.url + "/api/v1/cases", headers={**bearer(token), **key},
                         json={**body, "name": "Someone Else"})
    assert changed.status_code == 422 and "different request" in changed.json()["detail"]
    theirs = httpx.post(server.url + "/api/v1/cases", headers={**bearer(other), **key}, json=body)
    assert theirs.status_code == 201 and theirs.json()["case_id"] != first.json()["case_id"]  # per principal

    case_id = first.json()["case_id"]
    bawaslu = token_for(engine, "bawaslu:kab-bima")
    refused = httpx.post(f"{server.url}/api/v1/cases/{case_id}/triggers/register",
                         headers={**bearer(bawaslu), "Idempotency-Key": "k1"})
    assert refused.status_code == 422  # not under review yet: refused, and the key is free again
    fired = [httpx.post(f"{server.url}/api/v1/cases/{case_id}/triggers/begin_review",
                        headers={**bearer(bawaslu), "Idempotency-Key": "k1"}) for _ in range(2)]
    assert [r.status_code for r in fired] == [200, 200] and app.get_case(case_id).version == 2


def test_racing_if_match_writers_one_wins_the_other_gets_412(live):
    server, _, engine, app = live
    ppk, bkn = token_for(engine, "ppk:pemkab-bima"), token_for(engine, "bkn")
    outcomes = []
    for _ in range(6):
        case = prepare(app, ERA, "recommended", "impose_sanction")
        app.record_cases(case)
        barrier, results = threading.Barrier(2), {}

        def fire(name, token, trigger, fields):
            with httpx.Client(base_url=server.url, headers=bearer(token)) as client:
                barrier.wait()
                results[name] = client.post(f"/api/v1/cases/{case.id}/triggers/{trigger}", json={"fields": fields},
                                            headers={"If-Match": f'"{case.version}"'})

        threads = [threading.Thread(target=fire, args=("ppk", ppk, "impose_sanction", FIELDS["impose_sanction"])),
                   threading.Thread(target=fire, args=("bkn", bkn, "block_personnel_data", {}))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        codes = sorted(r.status_code for r in results.values())
        assert codes == [200, 412], {k: r.text for k, r in results.items()}
        stale = next(r for r in results.values() if r.status_code == 412)
        assert stale.json()["current_version"] == case.version + 1 and stale.headers["etag"] == f'"{case.version + 1}"'
        assert f"at version {case.version + 1}" in stale.json()["detail"]
        assert app.get_case(case.id).version == case.version + 1  # exactly one write
        outcomes.append(next(name for name, r in results.items() if r.status_code == 200))
    assert len(outcomes) == 6


def test_hostile_requests_get_problem_details_never_a_500(live):
    server, _, engine, app = live
    token = token_for(engine, "bawaslu:kab-bima")
    case_id = app.report("reporter", occurred_at=T0, **report_fields())
    path = f"/api/v1/cases/{case_id}/triggers/begin_review"
    json_headers = {**bearer(token), "Content-Type": "application/json"}
    cases = [
        ("POST", path, {"content": b'{"note": "unterminated', "headers": json_headers}, 400, "malformed JSON"),
        ("POST", path, {"content": b"\xff\xfe not utf-8", "headers": json_headers}, 400, "malformed JSON"),
        ("POST", path, {"json": {"note": 42}, "headers": bearer(token)}, 422, "note: Input should be a valid string"),
        ("POST", path, {"json": {"fields": {"track": ["a"]}}, "headers": bearer(token)}, 422, "fields.track"),
        ("POST", path, {"json": [1, 2], "headers": bearer(token)}, 422, "body"),
        ("POST", path, {"json": {"colour": "red"}, "headers": bearer(token)}, 422,
         "colour: not a field of this request"),
        ("POST", path, {"json": {"fields": {"colour": "red"}}, "headers": bearer(token)}, 422,
         "colour: not a field of begin_review"),
        ("POST", path, {"json": {"fields": {"note": "x"}}, "headers": bearer(token)}, 422, "not a trigger field"),
        ("POST", "/api/v1/cases", {"json": {**report_fields(), "nip": 198001012005011001}, "headers": bearer(token)},
         422, "nip"),
        ("POST", "/api/v1/cases", {"json": {**report_fields(), "shoe_size": "42"}, "headers": bearer(token)}, 422,
         "shoe_size: not a field"),
        ("POST", "/api/v1/cases", {"json": {**report_fields(), "description": "x" * 3000}, "headers": bearer(token)},
         422, "at most 2000"),
        ("POST", path, {"content": b'{"note": "' + b"x" * (2 << 20) + b'"}', "headers": json_headers}, 413,
         "at most 1048576"),
        ("POST", path, {"content": iter([b" " * 65536] * 40), "headers": json_headers}, 413,
         "at most 1048576"),  # chunked: no Content-Length to refuse it by
        ("POST", path, {"json": {}, "headers": {**bearer(token), "If-Match": "yesterday"}}, 400, "If-Match"),
        ("POST", path, {"json": {"occurred_at": "soon"}, "headers": bearer(token)}, 422, "occurred_at"),
        ("POST", "/api/v1/cases/not-a-case/triggers/begin_review", {"headers": bearer(token)}, 422, "not a case id"),
        ("POST", f"/api/v1/cases/{case_id}/triggers/launch", {"headers": bearer(token)}, 422, "no such trigger"),
        ("GET", "/api/v1/cases/00000000-0000-0000-0000-000000000000", {"headers": bearer(token)}, 404, "no case"),
        ("GET", "/api/v1/cases?state=lost", {"headers": bearer(token)}, 422, "unknown state"),
        ("GET", "/api/v1/audits/astrology", {"headers": bearer(token)}, 422, "unknown audit"),
        ("GET", "/api/v1/audits/funnel?threshold=3", {"headers": bearer(token)}, 422, "only for backdating"),
        ("GET", "/api/v1/audits/backdating?threshold=many", {"headers": bearer(token)}, 422, "threshold"),
        ("GET", "/api/v1/verify?digest=abc", {"headers": bearer(token)}, 422, "digest"),
        ("GET", "/api/v1/cases", {}, 401, "no credential"),
        ("GET", "/api/v1/cases", {"headers": {"Authorization": "Bearer jjk_nope_nope"}}, 401, "unknown API token"),
        ("GET", "/api/v1/cases", {"headers": {"Authorization": "Basic dXNlcjpwdw=="}}, 401, "no credential"),
        ("GET", "/api/v2/everything", {"headers": bearer(token)}, 404, "Not Found"),
        ("DELETE", f"/api/v1/cases/{case_id}", {"headers": bearer(token)}, 405, "Method Not Allowed"),
    ]
    before = store_state(app)
    for method, url, options, status, text in cases:
        response = httpx.request(method, server.url + url, timeout=30, **options)
        assert response.status_code == status, (url, options.get("json"), response.text[:300])
        assert response.headers["content-type"] == "application/problem+json", url
        problem = response.json()
        assert problem["status"] == status and text in problem["detail"], (url, problem)
    assert store_state(app) == before
    assert "Traceback" not in server.output()


def test_docs_work_offline(live):
    server, *_ = live
    page = httpx.get(server.url + "/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert len(assets) >= 4
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset  # same origin, no CDN
        served = httpx.get(server.url + asset)
        assert served.status_code == 200 and len(served.content) > 100, asset
    spec = httpx.get(server.url + "/openapi.json").json()
    assert {"/api/v1/cases", "/api/v1/cases/{case_id}/triggers/{trigger}", "/api/v1/tick"} <= set(spec["paths"])
    assert spec["openapi"].startswith("3.1") and "swagger-ui@5" not in page.text
    bundle = httpx.get(server.url + next(a for a in assets if a.endswith(".js"))).text
    assert re.search(r'"5\.\d+\.\d+"', bundle)  # Swagger UI 5: it renders OpenAPI 3.1


def test_serve_refuses_without_master_key_and_announces_insecure_dev(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEJAK_MASTER_KEY")}
    with pg_database() as db_url:
        refused = subprocess.run([sys.executable, "-m", "entrypoints.cli", "serve", "--db", db_url, "--port", "9"],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and "JEJAK_MASTER_KEY: not set" in refused.stderr
        missing = subprocess.run([sys.executable, "-m", "entrypoints.cli", "serve", "--db", db_url],
                                 cwd=ROOT, env={**env, "JEJAK_MASTER_KEY_FILE": str(tmp_path / "none")},
                                 capture_output=True, text=True, timeout=60)
        assert missing.returncode == 2 and "JEJAK_MASTER_KEY_FILE: cannot read" in missing.stderr
        (tmp_path / "key").write_text(master_key() + "\n")
        server = ServerProcess(db_url, tmp_path / "file.log", env={**env, "JEJAK_MASTER_KEY_FILE": str(tmp_path / "key")})
        try:
            server.wait_ready()
            health = httpx.get(server.url + "/healthz").json()
            assert health == {"status": "ok", "insecure_dev": False, "signing": "JEJAK_SIGNING_KEY" in os.environ,
                              "projections": "inline", "projection_leader": None}
        finally:
            server.stop()
        server = ServerProcess(db_url, tmp_path / "dev.log", "--insecure-dev", env=env)
        try:
            server.wait_ready()
            assert httpx.get(server.url + "/healthz").json()["insecure_dev"] is True
        finally:
            server.stop()
        assert "INSECURE DEV MODE" in server.output()
