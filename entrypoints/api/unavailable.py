"""The database out of reach (restarting, failing over, the network): `503 Service Unavailable` with
`Retry-After`, never a traceback; the pools replace their dead connections once it answers again, so the server
recovers by itself.

A command cut off by a lost connection may or may not have been committed: `commit_outcome_unknown` tells the
idempotency records to keep its key taken (a retry is refused with 409 and told to read the case's history)
rather than free it and let the retry write a second time."""

from __future__ import annotations

import logging

import psycopg
import sqlalchemy.exc
from eventsourcing import persistence
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from entrypoints.problems import PROBLEM_JSON, TYPE_PREFIX

log = logging.getLogger("jejak.server")

RETRY_AFTER_SECONDS = 2
# what the drivers raise when the server cannot be reached or the connection broke (psycopg_pool's PoolTimeout
# is a psycopg.OperationalError; eventsourcing wraps psycopg's errors in its own)
UNREACHABLE = (psycopg.OperationalError, psycopg.InterfaceError, sqlalchemy.exc.OperationalError,
               sqlalchemy.exc.InterfaceError, persistence.OperationalError, persistence.InterfaceError)


def database_unreachable(error: BaseException) -> bool:
    return any(isinstance(e, UNREACHABLE) for e in _chain(error))


def commit_outcome_unknown(error: BaseException) -> bool:
    """Whether a command that failed with `error` may have been committed anyway: a connection lost while it
    ran. No connection at all (a pool that could not open one in time) means nothing was sent."""
    from psycopg_pool import PoolTimeout

    chain = list(_chain(error))
    return database_unreachable(error) and not any(isinstance(e, PoolTimeout) for e in chain)


def _chain(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


async def unavailable(request: Request, error: Exception) -> JSONResponse:
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
    problem = {"type": TYPE_PREFIX + "unavailable", "title": "Service unavailable", "status": 503,
               "detail": "the database does not answer now; retry later (with the same Idempotency-Key for a "
                         "command)", "instance": request.url.path}
    return JSONResponse(problem, status_code=503, media_type=PROBLEM_JSON,
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def install(app: FastAPI) -> None:
    for cls in UNREACHABLE:
        app.add_exception_handler(cls, unavailable)
