"""``Idempotency-Key`` on POST: a retried request gets the first response again and writes nothing more.

Records live in the database (`idempotency_record`), per principal, so they survive a restart and hold across
server processes. A first request inserts its key (with a fingerprint of the request) before it runs; a
concurrent duplicate finds the key taken and is refused (409) rather than run twice. On success the response
is stored for replay; on a refusal the row is deleted (nothing was written, so the same key may be retried).
The same key with a different request is refused (422). A process killed between the command and storing its
response, or a connection to the database lost while the command ran, leaves the key taken without a response:
a retry is refused (409) with that reason, since whether the command was recorded must then be read from the
case's history.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime, timezone

from fastapi.responses import JSONResponse
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import IntegrityError

from entrypoints.api.unavailable import commit_outcome_unknown
from entrypoints.auth import Principal
from entrypoints.problems import BadRequest, IdempotencyConflict
from entrypoints.tables import idempotency_record

MAX_KEY = 200
Outcome = tuple[int, dict[str, str], dict]  # status, headers, JSON body


def fingerprint(method: str, path: str, if_match: str | None, body: dict) -> str:
    text = json.dumps([method, path, if_match, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Idempotency:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    @contextmanager
    def _transaction(self):
        """A transaction whose commit does not wait for the disk on PostgreSQL. Safe: the command's own commit,
        which does wait, comes after the key's insert and flushes the write-ahead log up to it; a lost final
        update leaves the key taken without an answer, and a retry is refused rather than run twice."""
        with self.engine.begin() as conn:
            if self.postgres:
                conn.execute(text("SET LOCAL synchronous_commit = off"))
            yield conn

    def respond(self, principal: Principal, key: str | None, request_fingerprint: str,
                command: Callable[[], Outcome]) -> JSONResponse:
        if key is None:
            return _response(*command())
        if not 0 < len(key) <= MAX_KEY or not key.isprintable():
            raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY} printable characters")
        where = (idempotency_record.c.principal == principal.credential,
                 idempotency_record.c.idempotency_key == key)
        for _ in range(3):  # a first request that failed meanwhile frees the key: take it then
            try:
                with self._transaction() as conn:
                    conn.execute(idempotency_record.insert().values(
                        principal=principal.credential, idempotency_key=key, fingerprint=request_fingerprint,
                        created_at=datetime.now(timezone.utc)))
                break
            except IntegrityError:
                with self.engine.connect() as conn:
                    row = conn.execute(select(idempotency_record).where(*where)).first()
                if row is None:
                    continue
                if row.fingerprint != request_fingerprint:
                    raise IdempotencyConflict(f"Idempotency-Key {key!r} was used for a different request; "
                                              "use a new key for a new request", status=422) from None
                if row.status is None:
                    raise IdempotencyConflict(
                        f"the first request with Idempotency-Key {key!r} (at {row.created_at.isoformat()}) has "
                        "not finished, or the server stopped before storing its answer: if it is old, read the "
                        "case's history to see whether it was recorded") from None
                headers = {**json.loads(row.headers), "Idempotent-Replayed": "true"}
                return _response(row.status, headers, json.loads(row.body))
        else:
            raise IdempotencyConflict(f"Idempotency-Key {key!r} is contended; retry")
        try:
            status, headers, body = command()
        except BaseException as error:
            if commit_outcome_unknown(error):  # maybe recorded: a retry must not write it a second time
                raise
            with self._transaction() as conn:
                conn.execute(delete(idempotency_record).where(*where))
            raise
        with self._transaction() as conn:
            conn.execute(update(idempotency_record).where(*where).values(
                status=status, headers=json.dumps(headers), body=json.dumps(body)))
        return _response(status, headers, body)


def _response(status: int, headers: dict[str, str], body: dict) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)
