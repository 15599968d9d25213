"""One import row read into its commands (`plan_row`: the report, then the dated steps in legal order), its
idempotency key (`row_key`), and the commands driven on a new, unsaved case (`build_case`)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date, datetime, time
from functools import cache
from typing import Any
from uuid import UUID, uuid5

from workflow.errors import IllegalTransition, InvalidField, JejakError
from workflow.fields import REPORT_FIELDS
from workflow.import_columns import MILESTONES, ROLE_COLUMNS, Milestone


class PlannedStep:
    """A dated step of a row's plan (not a demo case's step: `demo.plan.DemoStep`)."""

    __slots__ = ("at", "date_only", "milestone", "fields", "by")

    def __init__(self, at: datetime, date_only: bool, milestone: Milestone, fields: dict[str, Any], by: str | None):
        self.at = at
        self.date_only = date_only  # a date without a time: that day, not before the case's previous step
        self.milestone, self.fields, self.by = milestone, fields, by


class RowPlan:
    """A row read into its commands: the report, then the steps in the order they apply."""

    __slots__ = ("key", "case_id", "report_actor", "reported_at", "era", "era_reason", "note", "fields", "steps",
                 "actors")

    def __init__(self, **values: Any):
        for name in self.__slots__:
            setattr(self, name, values[name])


def _as_text(column: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise InvalidField(column, f"expected text, got a true/false cell ({value})")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if column == "nip" or not value.is_integer():
            raise InvalidField(column, f"expected text, got the number {value!r}"
                               + (" (an 18-digit NIP stored as a number loses digits: format the column as text)"
                                  if column == "nip" else ""))
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise InvalidField(column, f"expected text, got {type(value).__name__} {value!r}")


def parse_moment(column: str, value: Any, zone) -> datetime:
    """ISO date (the start of that day, local time) or date-time (local time unless it has an offset)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0))
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidField(column, f"not a date or date-time: {value!r}",
                               allowed="YYYY-MM-DD or YYYY-MM-DDTHH:MM[+07:00]") from None
    else:
        raise InvalidField(column, f"not a date or date-time: {value!r}", allowed="YYYY-MM-DD or a date cell")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _date_only(value: Any) -> bool:
    if isinstance(value, datetime):
        return value.time() == time(0) and value.tzinfo is None  # a spreadsheet date cell
    return isinstance(value, date) or (isinstance(value, str) and len(value) == 10)


PERSONAL_COLUMNS = ("reporter_name", "reporter_contact", "reporter_id_number")  # sealed, erasable: never keyed
KEY_SECRET = "import key"  # the name of the store's secret for row keys (privacy.SubjectKeys.secret)


def row_key(values: dict[str, Any], secret: bytes) -> str:
    """The idempotency key: the row's external_ref, else an HMAC-SHA256, under the store's secret, of its
    non-empty cells other than the reporter's (stored as external_ref ``imported-…``)."""
    ref = values.get("external_ref")
    if ref is not None:
        return _as_text("external_ref", ref)
    cells = {k: v for k, v in values.items() if k not in PERSONAL_COLUMNS}
    return "imported-" + hmac.new(secret, _canonical(cells), hashlib.sha256).hexdigest()[:32]


def legacy_row_key(values: dict[str, Any]) -> str | None:
    """The key an earlier version gave a row without external_ref (a plain SHA-256 of every cell), to recognise
    its imports; computed in memory only, never stored again."""
    if values.get("external_ref") is not None:
        return None
    return "import-" + hashlib.sha256(_canonical(values)).hexdigest()[:32]


def _canonical(values: dict[str, Any]) -> bytes:
    return json.dumps(sorted((k, v if isinstance(v, str) else repr(v)) for k, v in values.items()),
                      ensure_ascii=False).encode()


def case_id_for(key: str) -> UUID:
    """The case id an idempotency key stands for (as `Jejak.new_case` derives it from `external_ref`)."""
    return uuid5(_external_ref_namespace(), key)


@cache
def _external_ref_namespace() -> UUID:
    from workflow.application import EXTERNAL_REF_NAMESPACE  # imported when used: the CLI loads this module

    return EXTERNAL_REF_NAMESPACE


def plan_row(values: dict[str, Any], zone, key: str) -> RowPlan:
    """Read a row into the commands it stands for (no rule is applied yet: the commands do that)."""
    fields = {k: _as_text(k, values[k]) for k in REPORT_FIELDS if k in values}
    fields["external_ref"] = key
    if "reported_at" not in values:
        raise InvalidField("reported_at", "required (when the report was filed)")
    reported_at = parse_moment("reported_at", values["reported_at"], zone)
    steps = []
    for m in MILESTONES:
        given = {c: values[c] for c in [*m.fields, m.by_column] if c in values}
        if m.column not in values:
            if given:
                raise InvalidField(", ".join(given), f"given but {m.column} is empty")
            continue
        at = parse_moment(m.column, values[m.column], zone)
        step_fields = {}
        for column, name in m.fields.items():
            if column in values:
                step_fields[name] = (parse_moment(column, values[column], zone).date().isoformat()
                                     if name == "decree_date" and not isinstance(values[column], str)
                                     else _as_text(column, values[column]))
        by = _as_text(m.by_column, values[m.by_column]) if m.by_column in values else None
        steps.append(PlannedStep(at, _date_only(values[m.column]), m, step_fields, by))
    # by day; within a day in the order of MILESTONES (the legal order), whatever the times say
    steps.sort(key=lambda s: (s.at.astimezone(zone).date(), MILESTONES.index(s.milestone)))
    return RowPlan(
        key=key, case_id=case_id_for(key),
        report_actor=_as_text("actor", values["actor"]) if "actor" in values else None,
        reported_at=reported_at, era=_as_text("era", values["era"]) if "era" in values else None,
        era_reason=_as_text("era_reason", values["era_reason"]) if "era_reason" in values else None,
        note=_as_text("note", values["note"]) if "note" in values else None, fields=fields, steps=steps,
        actors={c: _as_text(c, values[c]) for c in ROLE_COLUMNS if c in values},
    )


class ActorCache:
    """Actor strings parsed once per distinct text (a bulk import repeats a few hundred of them)."""

    def __init__(self):
        self.cache: dict[str, Any] = {}

    def __call__(self, text: str):
        actor = self.cache.get(text)
        if actor is None:
            from workflow.actors import Actor

            actor = self.cache[text] = Actor.parse(text)
        return actor


def build_case(app, plan: RowPlan, actors: ActorCache, origin: dict[str, Any]):
    """Drive the row's commands on a new, unsaved case; raises the first refusal (a JejakError). `origin`
    ({"file", "sha256", "line"}) is recorded on every event, so that audits tell imported history from live
    recording."""
    from workflow.definitions import get_era

    region = plan.fields.get("regency") or plan.fields.get("province")
    bawaslu = plan.actors.get("bawaslu_actor") or f"bawaslu:{region}"
    report_actor = plan.report_actor or ("reporter" if plan.fields.get("reporter_name") else bawaslu)
    try:
        case = app.decide_case(actors(report_actor), plan.fields, occurred_at=plan.reported_at, era=plan.era,
                               note=plan.note, era_reason=plan.era_reason,
                               imported_from=origin)
    except JejakError as error:
        raise StepRefused("report", error) from None
    try:
        commission = plan.actors.get("commission_actor") or get_era(case.era).commission
        for step in plan.steps:
            m, by, at = step.milestone, step.by, step.at
            if by is None:
                by = {"bawaslu": bawaslu, "commission": commission, "bkn": "bkn", "system": "system",
                      "ppk": plan.actors.get("ppk_actor") or f"ppk:{case.ppk}"}[m.role]
            if step.date_only and at < case.last_occurred_at and at.date() == case.last_occurred_at.astimezone(
                    at.tzinfo).date():
                at = case.last_occurred_at  # "that day", after the previous step of the same day
            try:
                app.decide_trigger(case, m.trigger, actors(by), step.fields, occurred_at=at,
                                   imported_from=origin)
            except JejakError as error:
                raise StepRefused(m.column, error, m, case) from None
    except BaseException:
        _forget_key(app, case)
        raise
    return case


def _forget_key(app, case) -> None:
    if case.reporter:
        app._new_subject_keys.pop(case.reporter["subject"], None)


class StepRefused(Exception):
    def __init__(self, column: str, error: JejakError, milestone: Milestone | None = None, case=None):
        self.column, self.error = column, error
        if isinstance(error, IllegalTransition) and milestone is not None:
            text = f"'{milestone.trigger}' is not allowed when the case is {error.state!r}"
            text += f"; possible then: {', '.join(error.legal) or 'nothing'}"
            why = str(error).split(" is not allowed", 1)[1].split(";", 1)[0].strip()
            if why.startswith("("):
                text += f" {why}"
        else:
            text = str(error)
        names = {v: k for k, v in (milestone.fields.items() if milestone else ())}
        if isinstance(error, InvalidField) and error.name in names:  # the trigger's field -> its column
            text = text.replace(f"{error.name}:", f"{names[error.name]}:", 1)
        if milestone is not None and isinstance(error, InvalidField) and error.name == "occurred_at":
            text = text.replace("occurred_at:", "", 1).strip()
        super().__init__(f"{column}: {text}")
