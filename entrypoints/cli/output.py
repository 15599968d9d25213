"""How the `jejak` commands print their answers, locally and over `--server` alike: JSON, or aligned columns
with times in the local zone."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from entrypoints.views import origin_text, to_jsonable


def print_json(value: Any) -> None:
    print(json.dumps(to_jsonable(value), ensure_ascii=False, indent=2))


def print_table(rows: list[dict], columns: list[str]) -> None:
    """Aligned columns; times in the local zone (JEJAK_TZ), to the minute."""
    from workflow.settings import Settings

    zone = Settings.from_env().zone
    cells = [[_cell(row.get(c), zone) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    for line in [columns, *cells]:
        print("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip())


def _cell(value: Any, zone=None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        local = value.astimezone(zone) if zone is not None and value.tzinfo is not None else value
        return local.isoformat(timespec="minutes")
    if isinstance(value, dict):
        return " ".join(f"{k}={_cell(v, zone)}" for k, v in value.items() if v not in (None, "", []))
    return str(value)


def print_history(rows: list[dict], as_json: bool) -> None:
    """A case's history (`jejak show`, locally or over `--server`): JSON, or a table with the import's
    file, line and SHA-256 when any event was imported."""
    if as_json:
        print_json(rows)
        return
    columns = ["version", "trigger", "state", "occurred_at", "recorded_at", "actor", "details", "note"]
    if any(row.get("imported_from") for row in rows):
        columns.append("imported_from")
    print_table([{**row, "imported_from": origin_text(row.get("imported_from"))} for row in rows], columns)


def print_marked(marked, as_json: bool) -> int:
    """What `tick` marked overdue, (case id, missed deadline) pairs, as `jejak tick` prints it here and over HTTP."""
    rows = [{"case_id": case_id, "missed_deadline": deadline} for case_id, deadline in marked]
    if as_json:
        print_json(rows)
    else:
        print(f"{len(rows)} case(s) marked overdue")
        for row in rows:
            print(f"{row['case_id']}  {row['missed_deadline']}")
    return 0
