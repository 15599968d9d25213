"""How cases and events look outside the process: the rows `jejak show` prints and the API sends, the JSON
form of their values, and times as people type them. Shared by the CLI and the HTTP API, so that both give
the same answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from workflow.errors import InvalidField

COMMON_EVENT_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor",
                       "occurred_at", "workflow_version", "state", "deadline", "due_at", "note", "reporter",
                       "imported_from"}


def parse_when(text: str | None, name: str = "--at") -> datetime | None:
    """ISO date or datetime; without an offset it is read in the local zone (JEJAK_TZ, default WIB)."""
    if text is None:
        return None
    from workflow.settings import Settings

    if not isinstance(text, str):  # JSON may give a number or a list; argparse turns "--at=--" into a list
        raise InvalidField(name, f"not an ISO date or time: {text!r}", allowed="e.g. 2024-10-01T09:00+07:00")

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidField(name, f"not an ISO date or time: {text!r}", allowed="e.g. 2024-10-01T09:00+07:00") \
            from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=Settings.from_env().zone)
    return value


def to_jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    return value


def actor_text(actor: dict) -> str:
    return actor["role"] + (f":{actor['scope']}" if actor.get("scope") else "") + (
        f"@{actor['id']}" if actor.get("id") else "")


def event_row(event) -> dict:
    from workflow.definitions import acting_for

    details = {k: v for k, v in vars(event).items() if k not in COMMON_EVENT_FIELDS}
    ended = acting_for(event.workflow_version.rsplit("@", 1)[0], event.trigger, (event.actor or {}).get("role"))
    if ended:  # the handover shows in the history: who acted, and for whom
        details["acting_for"] = ended
    return {"version": event.originator_version, "trigger": event.trigger, "state": event.state,
            "occurred_at": event.occurred_at, "recorded_at": event.timestamp, "actor": actor_text(event.actor),
            "workflow_version": event.workflow_version, "due_at": event.due_at, "details": details,
            "note": event.note, "imported_from": event.imported_from}


def origin_text(origin: dict | None) -> str:
    """Where an imported event came from, short enough for a table: ``cases.csv:12 sha256:3f2a9c0d1b7e``."""
    if not origin:
        return ""
    return f"{origin.get('file')}:{origin.get('line')} sha256:{(origin.get('sha256') or '')[:12]}"
