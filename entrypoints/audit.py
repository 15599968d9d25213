"""The audits by name, with their options checked the same way for `jejak audit` and
``GET /api/v1/audits/{name}``: the read side's accountability audits, and the record of who read a reporter's
personal data (kept by the server, `entrypoints.access_log`)."""

from __future__ import annotations

from datetime import datetime

from workflow.errors import InvalidField

READ_SIDE_AUDITS = ("responsiveness", "funnel", "stage_durations", "stage_stints", "overdue", "backdating",
                    "portfolio")
AUDIT_NAMES = (*READ_SIDE_AUDITS, "personal_data_access")


def audit_options(name: str, *, by=None, as_of=None, recorded: bool = False, now: str | None = None,
                  threshold: float | None = None, include_open: bool = False, include_imported: bool = False,
                  flag: str = "--") -> dict:
    """The keyword arguments of audit `name`, refusing an option it does not take. `flag` prefixes the
    option names in messages ("--" for the CLI, "" for query parameters)."""
    if name not in AUDIT_NAMES:
        raise InvalidField("audit", f"unknown audit {name!r}", allowed=AUDIT_NAMES)
    options: dict = {}
    if by:
        if name not in ("funnel", "responsiveness", "stage_durations"):
            raise InvalidField(f"{flag}by", f"not an option of {name}")
        options["by"] = by
    if as_of:
        if name not in ("funnel", "portfolio"):
            raise InvalidField(f"{flag}as-of" if flag else "as_of", f"not an option of {name}")
        options["as_of" if name == "funnel" else "dates"] = as_of
    elif name == "portfolio":
        raise InvalidField(f"{flag}as-of" if flag else "as_of", "portfolio needs at least one date")
    if recorded:
        if name not in ("funnel", "portfolio"):
            raise InvalidField(f"{flag}recorded", f"not an option of {name}")
        options["recorded"] = True
    if now:
        if name not in ("responsiveness", "stage_durations", "stage_stints", "overdue"):
            raise InvalidField(f"{flag}now", f"not an option of {name}")
        options["now"] = _parse_now(now, f"{flag}now")
    if threshold is not None:
        if name != "backdating":
            raise InvalidField(f"{flag}threshold", "only for backdating")
        options["threshold_days"] = threshold
    if include_open:
        if name != "stage_durations":
            raise InvalidField(f"{flag}include-open" if flag else "include_open", "only for stage_durations")
        options["include_open"] = True
    if include_imported:
        if name != "backdating":
            raise InvalidField(f"{flag}include-imported" if flag else "include_imported", "only for backdating")
        options["include_imported"] = True
    return options


def _parse_now(text: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidField(name, f"cannot read {text!r}", allowed="an ISO datetime, e.g. 2024-11-01T00:00+07:00") \
            from None


def run_audit(source, name: str, options: dict, engine=None):
    """The audit's DataFrame. `source` is the application or a read side; `engine` (for
    personal_data_access) the database's SQLAlchemy engine."""
    if name == "personal_data_access":
        from entrypoints import access_log

        return access_log.frame(engine)
    from projections import audits

    return getattr(audits, name)(source, **options)
