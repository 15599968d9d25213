"""Values the `jejak` commands read from their arguments (`--set key=value` pairs, `--from` JSON), locally and
over `--server` alike; a value that cannot be read is an `InvalidField` saying what is allowed."""

from __future__ import annotations

import json
import sys

from workflow.errors import InvalidField


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    fields = {}
    for pair in pairs:
        # (argparse turns "--set=--" into a list)
        key, sep, value = pair.partition("=") if isinstance(pair, str) else ("", "", "")
        if not sep or not key:
            raise InvalidField("--set", f"cannot read {pair!r}", allowed="key=value")
        fields[key.strip()] = value
    return fields


ADVANCE_OPTIONS = {"case_id", "trigger", "actor", "occurred_at", "note", "expected_version", "retries"}


def trigger_fields(pairs: list[str]) -> dict[str, str]:
    """`--set` pairs as a trigger's fields; the command's own options are refused (not a crash)."""
    fields = parse_assignments(pairs)
    if taken := sorted(fields.keys() & ADVANCE_OPTIONS):
        raise InvalidField("--set", f"{', '.join(taken)}: not a trigger field",
                           allowed="--at, --note, --expect-version, --retries for those")
    return fields


def read_json_object(source: str) -> dict:
    try:
        text = sys.stdin.read() if source == "-" else open(source, encoding="utf-8").read()
        data = json.loads(text)
    except OSError as error:
        raise InvalidField("--from", f"cannot read {source}: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidField("--from", f"not valid JSON: {error}") from None
    except (RecursionError, ValueError) as error:  # nested too deep; a number of over 4300 digits
        raise InvalidField("--from", f"not a report: {str(error).split(';')[0]}") from None
    if not isinstance(data, dict):
        raise InvalidField("--from", "must hold one JSON object", allowed="{\"name\": …, \"agency\": …}")
    return data
