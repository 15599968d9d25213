"""Refusals as HTTP problem details (RFC 9457, ``application/problem+json``), both ways: the server turns each
error class into a status and a ``type``; the client (`entrypoints.client`, `jejak --server`) turns them back
into the same classes, so a script or the CLI sees the same errors, messages and exit codes as locally.
"""

from __future__ import annotations

from typing import Any

from workflow.errors import CaseNotFound, ConcurrentUpdate, IllegalTransition, InvalidField, JejakError, \
    NotAuthorized

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:jejak:problem:"


class NotAuthenticated(JejakError):
    """No credential, or one that is unknown, revoked, expired, or not validly signed (HTTP 401)."""

    exit_code = 4


class StaleVersion(ConcurrentUpdate):
    """``If-Match`` named a version the case has moved past (HTTP 412); nothing was written."""

    def __init__(self, case_id: object, expected: int, current: int):
        self.current_version = current
        super().__init__(case_id, f"If-Match expected version {expected}, the case is at version {current}")


class BadRequest(JejakError):
    """The request itself cannot be read: malformed JSON, a bad header (HTTP 400)."""


class TooLarge(JejakError):
    """The body is over the server's limit (HTTP 413)."""


class IdempotencyConflict(JejakError):
    """An Idempotency-Key reused for another request (HTTP 422), or whose first request has not finished (409)."""

    exit_code = 5

    def __init__(self, message: str, status: int = 409):
        self.status = status
        super().__init__(message)


class Unavailable(JejakError):
    """The server cannot answer now: the identity provider's keys or the database are out of reach (HTTP 503)."""

    exit_code = 1


class ServerError(JejakError):
    """An unexpected failure on the server (HTTP 500); it logged the details."""

    exit_code = 1


# error class -> (HTTP status, type slug, title); the first matching class in this order wins
PROBLEMS: list[tuple[type[JejakError], int, str, str]] = [
    (StaleVersion, 412, "stale-version", "The case has a newer version than If-Match names"),
    (ConcurrentUpdate, 409, "concurrent-update", "Another writer changed the case first"),
    (IllegalTransition, 422, "illegal-transition", "Not allowed in the case's state"),
    (InvalidField, 422, "invalid-field", "Invalid input"),
    (CaseNotFound, 404, "case-not-found", "No such case"),
    (NotAuthenticated, 401, "not-authenticated", "Not authenticated"),
    (NotAuthorized, 403, "not-authorized", "Not authorized"),
    (BadRequest, 400, "bad-request", "The request cannot be read"),
    (TooLarge, 413, "too-large", "The request body is too large"),
    (Unavailable, 503, "unavailable", "Service unavailable"),
    (ServerError, 500, "server-error", "Unexpected server error"),
    (JejakError, 422, "refused", "Refused"),
]
_BY_SLUG = {slug: cls for cls, _, slug, _ in PROBLEMS}


def problem_of(error: JejakError, instance: str | None = None) -> dict[str, Any]:
    """The problem document for a refusal: status, type, title, detail (the same message as the CLI's), and
    what a client needs to act on it (the legal triggers; the current version)."""
    status, slug, title = next((s, t, ti) for cls, s, t, ti in PROBLEMS if isinstance(error, cls))
    if isinstance(error, IdempotencyConflict):
        status = getattr(error, "status", 409)
        slug, title = "idempotency-conflict", "Idempotency-Key conflict"
    problem: dict[str, Any] = {"type": TYPE_PREFIX + slug, "title": title, "status": status, "detail": str(error)}
    if instance:
        problem["instance"] = instance
    if isinstance(error, IllegalTransition):
        problem.update(case_id=str(error.case_id), state=error.state, trigger=error.trigger,
                       legal_triggers=list(error.legal))
    if isinstance(error, StaleVersion):
        problem["current_version"] = error.current_version
    if isinstance(error, InvalidField):
        problem["field"] = error.name
    return problem


def error_of(problem: dict[str, Any], status: int) -> JejakError:
    """The refusal a problem document stands for (the client side of `problem_of`)."""
    detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
    slug = str(problem.get("type", "")).removeprefix(TYPE_PREFIX)
    cls = _BY_SLUG.get(slug) or (IdempotencyConflict if slug == "idempotency-conflict" else None)
    if cls is None:  # a generic HTTP error (unknown route, method…)
        cls = {400: BadRequest, 401: NotAuthenticated, 403: NotAuthorized, 404: CaseNotFound, 409: ConcurrentUpdate,
               412: StaleVersion, 413: TooLarge, 503: Unavailable}.get(status, ServerError if status >= 500
                                                                      else JejakError)
    error = cls.__new__(cls)  # built from the server's message, not from the constructor's parts
    Exception.__init__(error, detail)
    if isinstance(error, IllegalTransition):
        error.case_id, error.state = problem.get("case_id"), problem.get("state")
        error.trigger, error.legal = problem.get("trigger"), problem.get("legal_triggers", [])
    if isinstance(error, StaleVersion):
        error.current_version = problem.get("current_version")
    if isinstance(error, InvalidField):
        error.name = problem.get("field", "")
    error.status = status
    return error
