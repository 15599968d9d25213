"""Every refusal as ``application/problem+json`` (RFC 9457), never a traceback: one handler per domain error
class, FastAPI's validation errors (malformed JSON 400, wrong types or unknown fields 422), Starlette's HTTP
errors (unknown route 404, method 405), and a last resort that logs an unexpected error and answers 500 with
no detail."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from entrypoints.api import unavailable
from entrypoints.problems import PROBLEM_JSON, PROBLEMS, TYPE_PREFIX, IdempotencyConflict, StaleVersion, \
    problem_of
from workflow.errors import JejakError

log = logging.getLogger("jejak.server")


def problem_response(problem: dict, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(problem, status_code=problem["status"], media_type=PROBLEM_JSON, headers=headers)


async def refusal(request: Request, error: JejakError) -> JSONResponse:
    problem = problem_of(error, request.url.path)
    headers = {}
    if problem["status"] == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="jejak"'
    if isinstance(error, StaleVersion):
        headers["ETag"] = f'"{error.current_version}"'
    if problem["status"] == 503:
        from entrypoints.api.unavailable import RETRY_AFTER_SECONDS

        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return problem_response(problem, headers)


def _where(location) -> str:
    return ".".join(str(part) for part in location if part != "body") or "body"


async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    errors = error.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = "; ".join(f"malformed JSON at {_where(e['loc'])}: {e.get('ctx', {}).get('error', e['msg'])}"
                           for e in errors if e.get("type") == "json_invalid")
        return problem_response({"type": TYPE_PREFIX + "bad-request", "title": "The request cannot be read",
                                 "status": 400, "detail": detail, "instance": request.url.path})
    described = [{"field": _where(e["loc"]), "problem": "not a field of this request"
                  if e.get("type") == "extra_forbidden" else e["msg"]} for e in errors]
    detail = "; ".join(f"{d['field']}: {d['problem']}" for d in described)
    return problem_response({"type": TYPE_PREFIX + "invalid-request", "title": "Invalid request", "status": 422,
                             "detail": detail, "errors": described, "instance": request.url.path})


async def http_error(request: Request, error: HTTPException) -> JSONResponse:
    return problem_response({"type": "about:blank", "title": str(error.detail), "status": error.status_code,
                             "detail": str(error.detail), "instance": request.url.path}, error.headers)


async def unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response({"type": TYPE_PREFIX + "server-error", "title": "Unexpected server error",
                             "status": 500, "detail": "the server logged the error", "instance": request.url.path})


def install(app: FastAPI) -> None:
    for cls, *_ in PROBLEMS:
        app.add_exception_handler(cls, refusal)
    app.add_exception_handler(IdempotencyConflict, refusal)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    unavailable.install(app)  # the database out of reach: 503 with Retry-After
    app.add_exception_handler(Exception, unexpected)
