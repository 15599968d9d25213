"""The HTTP API from Python, with the application's method names, for scripts and notebooks::

    from entrypoints.client import Client

    with Client("https://jejak.example.go.id", token) as jejak:
        case_id = jejak.report(occurred_at="2024-10-01T09:00", name="Budi Santoso", ...)
        jejak.advance(case_id, "begin_review")                # the actor is the token's
        jejak.audit("responsiveness")                         # a DataFrame, as locally

Refusals raise the same `workflow.errors` classes as the application (`IllegalTransition`, `NotAuthorized`…),
with the server's message; `entrypoints.problems.NotAuthenticated` for a missing, revoked or expired
credential. Every POST carries an ``Idempotency-Key``: a request whose answer was lost on the way is sent
again with the same key, so it is recorded once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx

from entrypoints.problems import Unavailable, error_of

ARROW = "application/vnd.apache.arrow.stream"
RESENDS = 2  # times a POST is sent again, with the same Idempotency-Key, when the connection failed


@dataclass(frozen=True)
class CaseState:
    case_id: UUID
    state: str
    version: int


def _when(value) -> str | None:
    return value.isoformat() if isinstance(value, (datetime, date)) else value


class Client:
    def __init__(self, url: str, token: str, *, timeout: float = 60.0, transport: httpx.BaseTransport | None = None):
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout,
                                 transport=transport)
        # the newest Jejak-Position this client's commands were answered with: its listings and audits ask for
        # read models at least that fresh (?min_position=), so a client reads its own writes from a replica too
        self.position = 0

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
              headers: dict | None = None) -> httpx.Response:
        headers = dict(headers or {})
        if method == "POST":
            headers.setdefault("Idempotency-Key", str(uuid4()))
        params = {k: v for k, v in (params or {}).items() if v not in (None, False, [])}
        for attempt in range(RESENDS + 1):  # GETs are safe to resend, POSTs by their Idempotency-Key
            try:
                response = self.http.request(method, path, json=json, params=params, headers=headers)
                break
            except httpx.TransportError as error:
                if attempt == RESENDS:
                    raise Unavailable(f"cannot reach {self.url}: {type(error).__name__}: {error}") from None
        if response.is_error:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:500] or response.reason_phrase}
            raise error_of(problem if isinstance(problem, dict) else {}, response.status_code)
        if method == "POST" and (position := response.headers.get("Jejak-Position", "")).isdigit():
            self.position = max(self.position, int(position))
        return response

    def _fresh(self) -> dict:
        return {"min_position": self.position or None}

    # --- commands (the actor is the credential's; naming another one is refused with NotAuthorized) --------

    def report(self, actor: str | None = None, *, occurred_at=None, era: str | None = None, note: str | None = None,
               **fields: Any) -> UUID:
        body = {"actor": actor, "occurred_at": _when(occurred_at), "era": era, "note": note, **fields}
        body = {k: v for k, v in body.items() if v is not None}
        return UUID(self._call("POST", "/api/v1/cases", json=body).json()["case_id"])

    def advance(self, case_id, trigger: str, actor: str | None = None, *, occurred_at=None, note: str | None = None,
                expected_version: int | None = None, retries: int = 0, **fields: Any) -> CaseState:
        body = {k: v for k, v in {"actor": actor, "occurred_at": _when(occurred_at), "note": note}.items()
                if v is not None}
        body["fields"] = fields
        headers = {"If-Match": f'"{expected_version}"'} if expected_version is not None else {}
        data = self._call("POST", f"/api/v1/cases/{case_id}/triggers/{trigger}", json=body, headers=headers,
                          params={"retries": retries or None}).json()
        return CaseState(UUID(data["case_id"]), data["state"], data["version"])

    def tick(self, now=None) -> list[tuple[UUID, str]]:
        rows = self._call("POST", "/api/v1/tick", json={"now": _when(now)} if now else {}).json()
        return [(UUID(row["case_id"]), row["missed_deadline"]) for row in rows]

    # --- queries ----------------------------------------------------------------------------------------------

    def get_case(self, case_id) -> dict:
        return self._call("GET", f"/api/v1/cases/{case_id}").json()

    def case_events(self, case_id, as_of=None) -> list[dict]:
        return self._call("GET", f"/api/v1/cases/{case_id}/events", params={"as_of": _when(as_of)}).json()

    def triggers(self, case_id) -> list[str]:
        return self._call("GET", f"/api/v1/cases/{case_id}/triggers").json()["triggers"]

    def reporter(self, case_id) -> dict | None:
        """The reporter's personal data (the case's own Bawaslu only; the server records the request)."""
        return self._call("GET", f"/api/v1/cases/{case_id}/reporter").json()["reporter"]

    def cases(self, state: str | None = None) -> list[dict]:
        return self._call("GET", "/api/v1/cases", params={"state": state, **self._fresh()}).json()

    def audit(self, name: str, **options):
        """An audit as a DataFrame, with the column types it has on the server (sent as Arrow)."""
        import pyarrow as pa

        params = {key: ([_when(v) for v in value] if isinstance(value, (list, tuple)) else _when(value))
                  for key, value in options.items()}
        data = self._call("GET", f"/api/v1/audits/{name}", params={**params, **self._fresh()},
                          headers={"Accept": ARROW}).content
        return pa.ipc.open_stream(data).read_pandas()

    def verify(self, digest: str | None = None) -> dict:
        return self._call("GET", "/api/v1/verify", params={"digest": digest}).json()

    def digest(self) -> str | None:
        return self._call("GET", "/api/v1/digest").json()["digest"]
