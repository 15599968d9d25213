"""The fields a command takes, checked before anything is recorded.

Flat keys are the public contract of the Python API, the CLI (``--set key=value``, ``--from FILE``) and
imports; the report's keys are grouped into the `Reported` event's parts (terlapor, region, incident, and the
reporter's personal data, kept apart).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from workflow import codes
from workflow.actors import agency_type
from workflow.definitions import CATEGORIES, DEPARTURE_REASONS, ESCALATION_TARGETS, POSITION_GROUPS, TRACKS
from workflow.errors import InvalidField

MAX_TEXT = 2000
_NIP = re.compile(r"^\d{18}$")
# Control characters other than tab and newline: C0, DEL and C1 (U+009B is a terminal's escape too), and the
# invisible direction overrides that make text display other than it reads ("Trojan source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # from JSON's "\\ud800": not text, and not storable as UTF-8

REPORT_FIELDS = {
    # key: (required, description)
    "name": (True, "the reported civil servant's name"),
    "nip": (False, "civil-servant number, 18 digits (none for non-ASN staff)"),
    "position": (False, "position title"),
    "position_group": (True, "one of: " + ", ".join(POSITION_GROUPS)),
    "agency": (True, "employing agency code, e.g. pemkab-bima or kementerian-agama"),
    "province": (True, "province: Kemendagri code or alias, e.g. 52 or prov-ntb"),
    "regency": (False, "regency/city: Kemendagri code or alias, e.g. 52.06, kab-bima or kota-mataram"),
    "category": (True, "one of: " + ", ".join(CATEGORIES)),
    "election": (True, "an election of the calendar, e.g. pilkada-2020 or pemilu-2024"),
    "election_reason": (False, "why a Bawaslu finding concerns the election although its date is outside the "
                               "election's window"),
    "description": (False, "what happened"),
    "place": (False, "where it happened"),
    "event_date": (False, "when it happened or became known (YYYY-MM-DD)"),
    "witnesses": (False, "witness names, comma-separated"),
    "evidence": (False, "evidence, comma-separated"),
    "reporter_name": (False, "the reporter's name (required for a public report)"),
    "reporter_contact": (False, "the reporter's phone or e-mail"),
    "reporter_id_number": (False, "the reporter's identity number (NIK)"),
    "external_ref": (False, "a reference in another system, unique per case"),
}

TRIGGER_FIELDS = {
    "recommend": {"track": (True, "one of: " + ", ".join(TRACKS)),
                  "sanction": (True, "a sanction code of the era's catalogue for that track"),
                  "ppk": (False, "agency code of the PPK addressed (default: the employer)")},
    "impose_sanction": {"sanction": (True, "a sanction code of the era's catalogues"),
                        "decree_number": (True, "the decree (SK) number"),
                        "decree_date": (False, "the decree's date (YYYY-MM-DD)")},
    "escalate": {"to": (True, "one of: " + ", ".join(ESCALATION_TARGETS))},
    "record_departure": {"reason": (True, "one of: " + ", ".join(DEPARTURE_REASONS))},
    "correct_date": {"version": (True, "the version of the event whose stated time is corrected"),
                     "to": (True, "the time it should have stated (ISO; without an offset: local time)")},
}


def text(name: str, value: Any, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(name, "must be non-empty text")
    if len(value) > limit:
        raise InvalidField(name, f"is {len(value)} characters long, at most {limit} allowed")
    if _CONTROL.search(value):
        raise InvalidField(name, "contains control characters (or invisible direction overrides)")
    if _SURROGATE.search(value):
        raise InvalidField(name, "is not valid Unicode text (a lone surrogate)")
    return value.strip()


def choice(name: str, value: Any, allowed) -> str:
    if not isinstance(value, str) or value not in allowed:  # a list or dict would not even be hashable
        raise InvalidField(name, f"unknown value {value!r}", allowed=allowed)
    return value


def optional_text(name: str, value: Any, limit: int = MAX_TEXT) -> str | None:
    return None if value is None or value == "" else text(name, value, limit)


def text_list(name: str, value: Any) -> list[str]:
    if value is None or value == "":
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise InvalidField(name, "must be a list of text or comma-separated text")
    return [text(name, item, 500) for item in items if not (isinstance(item, str) and not item.strip())]


def check_keys(fields: Mapping[str, Any], known: Mapping[str, tuple[bool, str]], what: str) -> None:
    unknown = fields.keys() - known.keys() if fields else ()  # most triggers take no fields at all
    if unknown:  # a name with a newline or an escape sequence is quoted: an error stays one harmless line
        shown = [key if key.isprintable() else repr(key) for key in sorted(unknown)]
        raise InvalidField(", ".join(shown), f"not a field of {what}", allowed=sorted(known) or "no fields")
    missing = [key for key, (required, _) in known.items() if required and fields.get(key) in (None, "")]
    if missing:
        raise InvalidField(", ".join(missing), f"required for {what}")


def parse_date(name: str, value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InvalidField(name, f"not a date: {value!r}", allowed="YYYY-MM-DD") from None


def report_parts(fields: Mapping[str, Any], reporter_required: bool, on: date,
                 elections_file: Path | None = None) -> dict[str, Any]:
    """Validate a report's flat fields (its codes as they stood on its date, `on`) and group them as the
    `Reported` event records them. The election's window is the command's to check (`decisions.decide_report`)."""
    check_keys(fields, REPORT_FIELDS, "report")
    nip = fields.get("nip")
    if nip not in (None, "") and not (isinstance(nip, str) and _NIP.match(nip)):
        raise InvalidField("nip", f"must be 18 digits, got {nip!r}")
    agency = codes.agency(fields["agency"], on=on)
    regency = fields.get("regency") or None
    election = codes.election(fields["election"], elections_file)
    reporter = {
        "name": optional_text("reporter_name", fields.get("reporter_name"), 200),
        "contact": optional_text("reporter_contact", fields.get("reporter_contact"), 200),
        "id_number": optional_text("reporter_id_number", fields.get("reporter_id_number"), 50),
    }
    if reporter_required and not reporter["name"]:
        raise InvalidField("reporter_name", "required for a public report (laporan)")
    return {
        "terlapor": {
            "name": text("name", fields["name"], 200),
            "nip": nip or None,
            "position": optional_text("position", fields.get("position"), 200),
            "position_group": choice("position_group", fields["position_group"], POSITION_GROUPS),
            "agency": agency,
            "agency_type": agency_type(agency),
        },
        "region": codes.report_region(fields["province"], regency, on),
        "category": choice("category", fields["category"], CATEGORIES),
        "election": {"kind": election.kind, "year": election.year},
        "incident": {
            "description": optional_text("description", fields.get("description")),
            "place": optional_text("place", fields.get("place"), 500),
            "date": parse_date("event_date", fields.get("event_date")),
            "witnesses": text_list("witnesses", fields.get("witnesses")),
            "evidence": text_list("evidence", fields.get("evidence")),
        },
        "reporter": reporter if any(reporter.values()) else None,
        "external_ref": optional_text("external_ref", fields.get("external_ref"), 200),
    }
