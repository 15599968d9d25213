"""Errors a command can be refused with. Each says what was wrong and what is allowed. (And one warning.)"""

from __future__ import annotations

from collections.abc import Iterable


class JejakError(Exception):
    """Base of every refusal: the CLI prints it without a traceback and exits non-zero."""

    exit_code = 2


class InvalidField(JejakError):
    def __init__(self, name: str, problem: str, allowed: Iterable[str] | str | None = None):
        self.name = name
        message = f"{name}: {problem}"
        if allowed:
            allowed = allowed if isinstance(allowed, str) else ", ".join(allowed)
            message += f" (allowed: {allowed})"
        super().__init__(message)


class CaseNotFound(JejakError):
    exit_code = 3

    def __init__(self, case_id: object):
        super().__init__(f"no case {case_id}")


class IllegalTransition(JejakError):
    def __init__(self, case_id: object, state: str, trigger: str, legal: list[str], why: str = "",
                 closed: bool = False):
        self.case_id, self.state, self.trigger, self.legal = case_id, state, trigger, legal
        reason = f" ({why})" if why else ""
        super().__init__(
            f"case {case_id} is {state!r}{' (closed)' if closed else ''}: {trigger!r} is not allowed{reason}; "
            f"legal triggers: {', '.join(legal) or 'none'}"
        )


class NotAuthorized(JejakError):
    exit_code = 4


class ConcurrentUpdate(JejakError):
    """Another writer changed the case first: nothing of ours was written; reload and retry."""

    exit_code = 5

    def __init__(self, case_id: object, detail: str):
        super().__init__(f"case {case_id} was changed by another writer ({detail}); nothing was written, "
                         "reload the case and retry")


class UnprotectedKeyWarning(UserWarning):
    """A reporter's data key was stored without a master key: anyone with a copy of the store can read the data.
    (Here rather than in workflow.privacy, so that the CLI can watch for it without importing eventsourcing.)"""
