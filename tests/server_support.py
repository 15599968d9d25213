"""A real `jejak serve` process on 127.0.0.1 (a free port) against a fresh PostgreSQL database, an identity
provider's key set served on 127.0.0.1, and JWTs signed with the tests' own keys."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import psycopg
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ROOT = Path(__file__).parent.parent
PG_ADMIN = os.environ.get("JEJAK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ISSUER, AUDIENCE = "https://idp.test.example", "jejak-api"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def pg_database():
    """A fresh PostgreSQL database, dropped afterwards; yields its URL."""
    name = f"jejak_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        from projections.readside import engine_for

        engine_for.cache_clear()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def master_key() -> str:
    from eventsourcing.cryptography import AESCipher

    return AESCipher.create_key(32)


class ServerProcess:
    """`python -m entrypoints.cli serve …` as a child process; its output goes to `log`."""

    def __init__(self, db_url: str, log: Path, *args: str, env: dict | None = None, workers: int = 1,
                 port: int | None = None):
        self.port = port or free_port()  # a port of its own, or the one a killed server had (a restart)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [sys.executable, "-m", "entrypoints.cli", "serve", "--db", db_url, "--port", str(self.port),
                   "--workers", str(workers), *args]
        full_env = {**os.environ, **(env or {})}
        with open(log, "wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def wait_ready(self, seconds: float = 30) -> ServerProcess:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"jejak serve exited {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"jejak serve not ready in {seconds}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


class KeyServer:
    """The identity provider's JWKS on 127.0.0.1, from keys the tests make."""

    def __init__(self):
        self.keys = {"rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
                     "ec-1": ec.generate_private_key(ec.SECP256R1())}
        published = {"keys": [self._public(kid, key) for kid, key in self.keys.items()]}
        body = json.dumps(published).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                self.send_response(200 if self.path == "/jwks.json" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body if self.path == "/jwks.json" else b"{}")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def _public(kid: str, key) -> dict:
        algorithm = jwt.algorithms.RSAAlgorithm if kid.startswith("rsa") else jwt.algorithms.ECAlgorithm
        jwk = json.loads(algorithm.to_jwk(key.public_key()))
        return {**jwk, "kid": kid, "use": "sig", "alg": "RS256" if kid.startswith("rsa") else "ES256"}

    def env(self) -> dict:
        return {"JEJAK_OIDC_ISSUER": ISSUER, "JEJAK_OIDC_AUDIENCE": AUDIENCE, "JEJAK_OIDC_JWKS_URL": self.url,
                "JEJAK_OIDC_PERSON_CLAIM": "preferred_username"}

    def token(self, kid: str = "rsa-1", key=None, algorithm: str | None = None, headers: dict | None = None,
              **claims) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "iat": now, "exp": now + 600,
                "jejak_role": "bawaslu", "jejak_scope": "kab-bima", "preferred_username": "andi", **claims}
        body = {k: v for k, v in body.items() if v is not None}
        algorithm = algorithm or ("RS256" if kid.startswith("rsa") else "ES256")
        return jwt.encode(body, key or self.keys.get(kid) or self.keys["rsa-1"], algorithm=algorithm,
                          headers={"kid": kid, **(headers or {})})

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
