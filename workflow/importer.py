"""`jejak import FILE.csv|FILE.xlsx`: cases with their history so far, from a spreadsheet, one row per case.

Every row is driven through the same commands as live use (``Jejak.new_case`` then ``Jejak.apply_trigger``
for each dated milestone, in date order), so the era, the legal order of steps, dates not going backwards,
actors' roles and jurisdictions, categories and sanctions are checked exactly as for ``jejak report`` and
``jejak advance``. Good cases are saved many per transaction, as ``Jejak.record_cases`` saves them.

Each row has an idempotency key: its ``external_ref`` if given, else an HMAC of its cells other than the
reporter's, under a secret of the store (`row_key`); the case id derives from it, so running the same file again
adds nothing (those rows count as "already imported"). No key holds anything of the reporter, so erasing their
data leaves nothing that confirms a guess. (Versions before this one hashed every cell, the reporter's too, with
no secret: `legacy_row_key`, looked up so that their files are still recognised, never written.)

The columns are in ``COLUMNS`` (see also the README, "Bulk import and export"). This module imports only the
standard library at load time: the CLI registers it on every start, and write commands must start fast.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import hmac
import io
import os
import json
import re
import sys
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from workflow.errors import IllegalTransition, InvalidField, JejakError
from workflow.fields import REPORT_FIELDS

BATCH_SIZE = 500  # cases per transaction
MAX_WORKERS = 4  # building cases in more processes than this gains little: the one writer becomes the limit


def default_workers() -> int:
    """`jejak import` builds cases in one process per core (at most MAX_WORKERS): 1.7x on 2 cores."""
    import os

    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))

# The report: REPORT_FIELDS plus these.
REPORT_COLUMNS = {
    "reported_at": "when the report was filed (or the finding recorded) [required]",
    "actor": "who filed it (default: reporter if reporter_name is given, else the Bawaslu of the region)",
    "era": "handle the case under this era, not the one in force on reported_at (needs era_reason)",
    "era_reason": "why the case is under another era than the one in force on reported_at",
    "note": "a note on the report",
}


class Milestone:
    """A dated column and the trigger it stands for. (Plain classes here, not dataclasses: the CLI imports
    this module on every start, and each dataclass costs about a millisecond to create.)"""

    __slots__ = ("column", "trigger", "role", "fields", "by_column")

    def __init__(self, column: str, trigger: str, role: str, fields: dict[str, str] | None = None):
        self.column = column  # the date column, e.g. registered_at
        self.trigger = trigger
        self.role = role  # default actor: bawaslu, commission, ppk, bkn or system
        self.fields = fields or {}  # column -> the trigger's field
        self.by_column = column.removesuffix("_at") + "_by"  # per-step actor override

    def __repr__(self) -> str:
        return f"Milestone({self.column!r}, {self.trigger!r})"


# In the order they apply when two fall on the same moment.
MILESTONES = (
    Milestone("review_begun_at", "begin_review", "bawaslu"),
    Milestone("not_registered_at", "reject_registration", "bawaslu"),
    Milestone("registered_at", "register", "bawaslu"),
    Milestone("dismissed_at", "dismiss", "bawaslu"),
    Milestone("forwarded_at", "forward", "bawaslu"),
    Milestone("examination_begun_at", "begin_examination", "commission"),
    Milestone("not_proven_at", "find_not_proven", "commission"),
    Milestone("rejected_at", "reject", "commission"),
    Milestone("recommended_at", "recommend", "commission",
              {"recommended_track": "track", "recommended_sanction": "sanction", "recommended_ppk": "ppk"}),
    Milestone("ppk_examination_begun_at", "begin_ppk_examination", "ppk"),
    Milestone("overdue_at", "mark_overdue", "system"),
    Milestone("blocked_at", "block_personnel_data", "bkn"),
    Milestone("escalated_at", "escalate", "commission", {"escalated_to": "to"}),
    Milestone("unblocked_at", "unblock_personnel_data", "bkn"),
    Milestone("sanctioned_at", "impose_sanction", "ppk",
              {"sanction": "sanction", "decree_number": "decree_number", "decree_date": "decree_date"}),
    Milestone("cancelled_at", "cancel", "bawaslu"),
    Milestone("departed_at", "record_departure", "ppk", {"departure_reason": "reason"}),
)

# Default actors per role, overridable for the whole row (e.g. bawaslu_actor=bawaslu:prov-ntb@andi) or per
# step (registered_by=bawaslu:kab-bima@rina).
ROLE_COLUMNS = {
    "bawaslu_actor": "Bawaslu steps (default bawaslu:<regency, else province>)",
    "commission_actor": "KASN/BKN steps (default kasn or bkn, by the case's era)",
    "ppk_actor": "PPK steps (default ppk:<recommended_ppk, else agency>)",
}

COLUMNS: dict[str, str] = {
    **{key: description + (" [required]" if required else "") for key, (required, description) in REPORT_FIELDS.items()},
    **REPORT_COLUMNS,
    **{column: description for column, description in ROLE_COLUMNS.items()},
}
for _m in MILESTONES:
    COLUMNS[_m.column] = f"when '{_m.trigger}' happened (date or date-time)"
    for _column, _name in _m.fields.items():
        COLUMNS[_column] = f"{_m.trigger}: {_name}"
    COLUMNS[_m.by_column] = f"who did '{_m.trigger}' (default: by role {_m.role})"
REQUIRED_COLUMNS = [key for key, (required, _) in REPORT_FIELDS.items() if required] + ["reported_at"]
_FIELD_OWNER = {column: m for m in MILESTONES for column in [*m.fields, m.by_column]}


class ImportFileError(JejakError):
    """The file as a whole cannot be read (not a row's fault): nothing is imported."""


class RowError:
    __slots__ = ("line", "message")

    def __init__(self, line: int, message: str):
        self.line, self.message = line, message

    def __repr__(self) -> str:
        return f"RowError({self.line}, {self.message!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, RowError) and (self.line, self.message) == (other.line, other.message)

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportResult:
    def __init__(self, rows: int = 0, dry_run: bool = False):
        self.rows = rows
        self.imported = 0  # cases written (or, in a dry run or a refused strict run, that would be)
        self.events = 0
        self.already = 0  # rows whose case exists already
        self.bad: list[RowError] = []
        self.dry_run = dry_run
        self.strict = False
        self.written = False  # whether anything was saved

    def __repr__(self) -> str:
        return f"ImportResult({self.as_dict()})"

    @property
    def ok(self) -> bool:
        return not self.bad

    def summary(self) -> str:
        verb = "would import" if self.dry_run or (self.strict and self.bad) else "imported"
        text = (f"{self.rows} row(s): {verb} {self.imported} case(s) ({self.events} events), "
                f"{self.already} already imported, {len(self.bad)} bad")
        if self.dry_run:
            text += " (dry run: nothing written)"
        elif self.strict and self.bad:
            text += " (--strict: nothing written)"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "imported": self.imported, "events": self.events, "already": self.already,
                "bad": [{"line": e.line, "message": e.message} for e in self.bad], "dry_run": self.dry_run,
                "strict": self.strict, "written": self.written}


# --- reading ------------------------------------------------------------------------------------------------

class Row:
    __slots__ = ("line", "values", "problem")

    def __init__(self, line: int, values: dict[str, Any]):
        self.line = line
        self.values = values  # column -> non-empty value (text, or datetime/date/number from a spreadsheet)
        self.problem: str | None = None  # found while reading (bad encoding, too many cells)


def read_rows(path: str | Path) -> list[Row]:
    """The file's data rows with their line numbers (CSV: physical line; XLSX: sheet row)."""
    path = Path(path)
    if not path.exists():
        raise ImportFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    raise ImportFileError(f"{path}: unsupported file type {suffix or '(none)'!r} (allowed: .csv, .xlsx)")


def _check_header(path: Path, header: list[Any]) -> list[str]:
    names = ["" if h is None else str(h).strip().lower() for h in header]
    if not any(names):
        raise ImportFileError(f"{path}: line 1: the header row is empty (expected column names)")
    problems = []
    if any(_bad_text(n) for n in names):
        problems.append("the header is not valid UTF-8")
    blank = [str(i + 1) for i, n in enumerate(names) if not n]
    if blank:
        problems.append(f"column(s) {', '.join(blank)} have no name")
    seen, dupes = set(), []
    for n in names:
        if n and n in seen:
            dupes.append(n)
        seen.add(n)
    if dupes:
        problems.append(f"duplicate column(s): {', '.join(dupes)}")
    unknown = [n for n in names if n and n not in COLUMNS]
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)} (see README 'Bulk import and export' or "
                        f"`jejak import --columns`)")
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        problems.append(f"missing required column(s): {', '.join(missing)}")
    if problems:
        raise ImportFileError(f"{path}: line 1: " + "; ".join(problems))
    return names


_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def _bad_text(value: Any) -> bool:
    """Text decoded with surrogateescape holds lone surrogates where the bytes were not UTF-8."""
    return isinstance(value, str) and _NOT_UTF8.search(value) is not None


def _read_csv(path: Path) -> list[Row]:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # Excel's UTF-8 byte-order mark
    text = data.decode("utf-8", errors="surrogateescape")
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise ImportFileError(f"{path}: line {line}: contains NUL bytes (is it really a CSV file? "
                              "an Excel file must be named .xlsx)")
    suspect = _bad_text(text)  # check cells one by one only if the file has undecodable bytes at all
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise ImportFileError(f"{path}: the file is empty (expected a header row)")
        names = _check_header(path, header)
        rows = []
        line = reader.line_num + 1
        for record in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue  # blank line
            row = Row(start, {})
            if len(record) != len(names):
                row.problem = f"expected {len(names)} columns, found {len(record)}"
            elif suspect and any(_bad_text(cell) for cell in record):
                row.problem = "not valid UTF-8 (save the file as UTF-8, e.g. Excel's 'CSV UTF-8')"
            else:
                row.values = {n: cell.strip() for n, cell in zip(names, record) if cell.strip()}
            rows.append(row)
    except csv.Error as error:
        raise ImportFileError(f"{path}: line {reader.line_num}: cannot read the CSV: {error}") from None
    return rows


def _read_xlsx(path: Path) -> list[Row]:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a declared dependency
        raise ImportFileError("reading .xlsx needs openpyxl: pip install openpyxl") from None
    records, formulas = _xlsx_records(path, data_only=False)  # formulas as such: a text cell "=…" is text
    unsaved: dict[int, list[int]] = {}  # sheet row -> columns holding a formula with no saved result
    if formulas:  # their results, as the spreadsheet saved them
        cached, _ = _xlsx_records(path, data_only=True)
        for number, columns in formulas.items():
            for i in columns:
                value = cached[number - 1][i] if number <= len(cached) and i < len(cached[number - 1]) else None
                records[number - 1][i] = value
                if value is None:
                    unsaved.setdefault(number, []).append(i)
    if not records:
        raise ImportFileError(f"{path}: the first sheet is empty (expected a header row)")
    header = records[0]
    while header and header[-1] is None:
        header = header[:-1]
    names = _check_header(path, list(header))
    rows = []
    for number, record in enumerate(records[1:], start=2):
        cells = [None if (isinstance(v, str) and not v.strip()) else v for v in record]
        if all(v is None for v in cells) and number not in unsaved:
            continue
        row = Row(number, {})
        filled = [i for i, v in enumerate(cells) if v is not None or i in unsaved.get(number, ())]
        if filled and filled[-1] >= len(names):
            row.problem = f"expected {len(names)} columns, found {filled[-1] + 1}"
        elif number in unsaved:
            columns = ", ".join(names[i] for i in unsaved[number])
            row.problem = (f"{columns}: a formula with no saved result (open the file in a spreadsheet and save "
                           "it, or paste the values)")
        else:
            row.values = {n: (v.strip() if isinstance(v, str) else v) for n, v in zip(names, cells)
                          if v is not None}
        rows.append(row)
    return rows


def _xlsx_records(path: Path, data_only: bool) -> tuple[list[list[Any]], dict[int, list[int]]]:
    """The first sheet's rows as values, and where its formulas are (sheet row -> columns), read streaming."""
    import warnings

    import openpyxl

    with warnings.catch_warnings():  # openpyxl warns on stderr (a date serial out of range becomes "#VALUE!",
        warnings.simplefilter("ignore")  # which the row's check then reports on its line)
        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=data_only)
        except Exception as error:  # noqa: BLE001 - zip, XML or format errors from openpyxl
            raise ImportFileError(f"{path}: not a readable .xlsx workbook ({type(error).__name__}: {error})") \
                from None
        try:
            records, formulas = [], {}
            for number, row in enumerate(book.worksheets[0].iter_rows(), start=1):
                values = []
                for i, cell in enumerate(row):
                    if cell.data_type == "f":
                        formulas.setdefault(number, []).append(i)
                    values.append(cell.value)
                records.append(values)
            return records, formulas
        finally:
            book.close()


# --- one row: its commands ----------------------------------------------------------------------------------

class Step:
    __slots__ = ("at", "date_only", "milestone", "fields", "by")

    def __init__(self, at: datetime, date_only: bool, milestone: Milestone, fields: dict[str, Any], by: str | None):
        self.at = at
        self.date_only = date_only  # a date without a time: that day, not before the case's previous step
        self.milestone, self.fields, self.by = milestone, fields, by


class Plan:
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


def plan_row(values: dict[str, Any], zone, key: str) -> Plan:
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
        steps.append(Step(at, _date_only(values[m.column]), m, step_fields, by))
    # by day; within a day in the order of MILESTONES (the legal order), whatever the times say
    steps.sort(key=lambda s: (s.at.astimezone(zone).date(), MILESTONES.index(s.milestone)))
    return Plan(
        key=key, case_id=case_id_for(key),
        report_actor=_as_text("actor", values["actor"]) if "actor" in values else None,
        reported_at=reported_at, era=_as_text("era", values["era"]) if "era" in values else None,
        era_reason=_as_text("era_reason", values["era_reason"]) if "era_reason" in values else None,
        note=_as_text("note", values["note"]) if "note" in values else None, fields=fields, steps=steps,
        actors={c: _as_text(c, values[c]) for c in ROLE_COLUMNS if c in values},
    )


class _Actors:
    """Actor strings parsed once per distinct text (a bulk import repeats a few hundred of them)."""

    def __init__(self):
        self.cache: dict[str, Any] = {}

    def __call__(self, text: str):
        actor = self.cache.get(text)
        if actor is None:
            from workflow.actors import Actor

            actor = self.cache[text] = Actor.parse(text)
        return actor


def build_case(app, plan: Plan, actors: _Actors):
    """Drive the row's commands on a new, unsaved case; raises the first refusal (a JejakError)."""
    from workflow.definitions import get_era

    region = plan.fields.get("regency") or plan.fields.get("province")
    bawaslu = plan.actors.get("bawaslu_actor") or f"bawaslu:{region}"
    report_actor = plan.report_actor or ("reporter" if plan.fields.get("reporter_name") else bawaslu)
    try:
        case = app.new_case(actors(report_actor), occurred_at=plan.reported_at, era=plan.era, note=plan.note,
                            era_reason=plan.era_reason, imported=True, **plan.fields)
    except JejakError as error:
        raise _StepError("report", error) from None
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
                app.apply_trigger(case, m.trigger, actors(by), occurred_at=at, **step.fields)
            except JejakError as error:
                raise _StepError(m.column, error, m, case) from None
    except BaseException:
        _forget_key(app, case)
        raise
    return case


def _forget_key(app, case) -> None:
    if case.reporter:
        app._new_subject_keys.pop(case.reporter["subject"], None)


class _StepError(Exception):
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


# --- the store ----------------------------------------------------------------------------------------------

def existing_case_ids(app, ids: list[UUID]) -> set[UUID]:
    """Which of these cases exist already, in one query per thousand ids."""
    recorder = app.recorder
    table = recorder.events_table_name
    found: set[UUID] = set()
    for i in range(0, len(ids), 1000):
        part = ids[i:i + 1000]
        if app.store.is_postgres:
            from psycopg import sql

            datastore = recorder.datastore
            query = sql.SQL("SELECT originator_id AS id FROM {}.{} WHERE originator_version = 1 "
                            "AND originator_id = ANY(%s)").format(sql.Identifier(datastore.schema),
                                                                  sql.Identifier(table))
            params = ([str(u) for u in part] if datastore.originator_id_type == "text" else part,)
        else:
            keys = [u.hex for u in part] + [str(u) for u in part]  # eventsourcing 9.5 stores hex; older str
            query = (f"SELECT originator_id AS id FROM {table} WHERE originator_version = 1 "
                     f"AND originator_id IN ({', '.join('?' * len(keys))})")
            params = keys
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, params)
            found.update(r["id"] if isinstance(r["id"], UUID) else UUID(r["id"]) for r in cursor.fetchall())
    return found


# --- the import ---------------------------------------------------------------------------------------------

def import_file(app, path: str | Path, *, dry_run: bool = False, strict: bool = False,
                batch_size: int = BATCH_SIZE, progress: bool | None = False, workers: int = 1) -> ImportResult:
    """Import a CSV or XLSX file of cases. Every bad row is reported (``result.bad``) with its line number.

    ``dry_run`` writes nothing; otherwise good rows are saved ``batch_size`` cases per transaction, or, with
    ``strict``, nothing at all if any row is bad. ``progress``: a tqdm bar on stderr (None: only on a terminal).
    ``workers`` > 1 builds and validates the cases in that many forked processes while this one saves them
    (the same commands; the stored events are written exactly as ``save`` writes them).
    """
    rows = read_rows(path)
    if strict and not dry_run:
        checked = _run(app, rows, dry_run=True, batch_size=batch_size, progress=progress, desc="checking",
                       workers=workers)
        if checked.bad:
            checked.dry_run, checked.strict = False, True
            return checked
    result = _run(app, rows, dry_run=dry_run, batch_size=batch_size, progress=progress,
                  desc="dry run" if dry_run else "importing", workers=workers)
    result.strict = strict
    return result


def _keyed(app, rows: list[Row], result: ImportResult, dry_run: bool) -> list[tuple[int, dict[str, Any], str]]:
    """Each row with its idempotency key, as (line, values, key); drop unreadable rows, repeated keys and
    cases that exist already (under the key of this version or of an earlier one). (Reading a row into its
    commands is left to `_build`, which may run in worker processes.)"""
    # a dry run on a store that never imported makes no secret: a passing one keys this file's rows alike
    secret = app.subject_keys.secret(KEY_SECRET, create=not dry_run) or os.urandom(32)
    first_line: dict[str, int] = {}  # idempotency key -> the line that has it
    keyed: list[tuple[int, dict[str, Any], str]] = []
    legacy: list[UUID | None] = []
    for row in rows:
        if row.problem:
            result.bad.append(RowError(row.line, row.problem))
            continue
        try:
            key = row_key(row.values, secret)
        except JejakError as error:
            result.bad.append(RowError(row.line, str(error)))
            continue
        if key in first_line:
            why = "a case appears once per file" if "external_ref" in row.values else \
                "the reporter's cells aside; a case appears once per file: an external_ref tells cases apart"
            result.bad.append(RowError(row.line, f"same {'external_ref' if 'external_ref' in row.values else 'content'}"
                                                 f" as line {first_line[key]} ({why})"))
            continue
        first_line[key] = row.line
        keyed.append((row.line, row.values, key))
        old = legacy_row_key(row.values)
        legacy.append(case_id_for(old) if old else None)
    case_ids = [case_id_for(key) for _, _, key in keyed]
    existing = existing_case_ids(app, case_ids + [case_id for case_id in legacy if case_id])
    done = [case_id in existing or old in existing for case_id, old in zip(case_ids, legacy)]
    result.already = sum(done)
    return [entry for entry, there in zip(keyed, done) if not there]


class _Built:
    """A batch of built cases, ready to insert (picklable, for worker processes)."""

    __slots__ = ("cases", "events", "keys", "bad")

    def __init__(self):
        self.cases: list[tuple[UUID, int]] = []  # (case id, number of events)
        self.events: list[tuple] = []  # (originator id, version, topic, state) in order: tuples pickle 2x faster
        self.keys: dict[str, str] = {}  # new reporter data keys (subject -> key)
        self.bad: list[RowError] = []


_APP = None  # the application, in forked worker processes


def _build(app, batch: list[tuple[int, dict[str, Any], str]], actors: _Actors | None = None) -> _Built:
    """Read each row into its commands and drive them on a new case: the stored events of the good ones,
    the line and reason of the bad ones."""
    app = app or _APP
    actors = actors or _Actors()
    zone = app.settings.zone
    built = _Built()
    to_stored = app.mapper.to_stored_event
    for line, values, key in batch:
        try:
            case = build_case(app, plan_row(values, zone, key), actors)
        except (_StepError, JejakError) as error:  # a refused step, or a row that cannot be read into commands
            built.bad.append(RowError(line, str(error)))
            continue
        if case.reporter:
            subject = case.reporter["subject"]
            built.keys[subject] = app._new_subject_keys.pop(subject)
        events = case.collect_events()
        built.cases.append((case.id, len(events)))
        for event in events:
            stored = to_stored(event)
            built.events.append((stored.originator_id, stored.originator_version, stored.topic, stored.state))
    return built


def _build_in_worker(batch: list[tuple[int, dict[str, Any], str]]) -> _Built:
    return _build(None, batch)


def _run(app, rows: list[Row], *, dry_run: bool, batch_size: int, progress, desc: str,
         workers: int = 1) -> ImportResult:
    from tqdm import tqdm

    result = ImportResult(rows=len(rows), dry_run=dry_run)
    keyed = _keyed(app, rows, result, dry_run)
    batches = [keyed[i:i + batch_size] for i in range(0, len(keyed), batch_size)]
    bar = tqdm(total=len(rows), desc=f"jejak import: {desc}", unit="row", file=sys.stderr,
               disable=progress is False if progress is not None else None, dynamic_ncols=True, leave=False)
    bar.update(len(rows) - len(keyed))
    pool = None
    try:
        if workers > 1 and len(batches) > 1:
            import multiprocessing

            global _APP
            _APP = app
            # the workers' collections would scan (and copy, page by page) every object forked with them
            gc.freeze()
            try:
                pool = multiprocessing.get_context("fork").Pool(workers)
            finally:
                gc.unfreeze()
            built_batches = pool.imap(_build_in_worker, batches)
        else:
            actors = _Actors()
            built_batches = (_build(app, batch, actors) for batch in batches)
        for batch, built in zip(batches, built_batches):
            result.bad.extend(built.bad)
            if not dry_run and built.cases:
                _save(app, built, result)
            result.imported += len(built.cases)
            result.events += len(built.events)
            bar.update(len(batch))
    finally:
        if pool is not None:
            pool.terminate()
            _APP = None
        bar.close()
    result.bad.sort(key=lambda e: e.line)
    return result


def _save(app, built: _Built, result: ImportResult) -> None:
    """Write a batch in one transaction, as ``Jejak.record_cases`` does: the reporters' data keys first, then
    the events through eventsourcing's recorder (what ``Application.save`` does with the collected events)."""
    from eventsourcing.persistence import IntegrityError

    app.subject_keys.store(built.keys)
    try:
        _insert(app, built.events)
    except IntegrityError:
        # another writer imported some of these meanwhile: nothing of this batch was written; skip theirs
        existing = existing_case_ids(app, [case_id for case_id, _ in built.cases])
        if not existing:
            raise
        result.already += sum(1 for case_id, _ in built.cases if case_id in existing)
        built.cases = [(case_id, n) for case_id, n in built.cases if case_id not in existing]
        built.events = [fields for fields in built.events if fields[0] not in existing]
        if built.events:
            _insert(app, built.events)
    result.written = True


def _insert(app, events: list[tuple]) -> None:
    """Insert a batch of stored events' fields in one transaction, in eventsourcing's own transaction and with its
    own statement, without the per-event work its application recorder does to return notification ids (not
    wanted here). SQLite: one ``executemany`` (the recorder executes event by event: 17 µs an event, measured).
    PostgreSQL: ``COPY``, under the recorder's table lock and NOTIFY (so notification ids follow commit order and
    followers wake): the recorder's array-of-composites parameter is dumped value by value in Python, over half
    of a write."""
    recorder = app.recorder
    if not app.store.is_postgres:
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.executemany(recorder.insert_events_statement,
                               [(originator_id.hex, version, topic, state)
                                for originator_id, version, topic, state in events])
            if chain := getattr(recorder, "chain", None):  # (eventsourcing's plain recorder: bench/chain_cost.py)
                # each new rowid is the largest + 1, and this transaction holds the write lock: the last len(events)
                last = chain.last_position(cursor)
                chain.append_rows(cursor, range(last - len(events) + 1, last + 1), events)
        return
    if recorder.datastore.originator_id_type != "uuid":
        from eventsourcing.persistence import StoredEvent

        recorder.insert_events([StoredEvent(*fields) for fields in events])
        return
    import psycopg
    from eventsourcing.persistence import IntegrityError
    from psycopg import sql

    copy = sql.SQL("COPY {}.{} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name))
    try:
        with recorder.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as cursor:
            recorder._lock_table(cursor)
            recorder._notify_channel(cursor)
            chain = getattr(recorder, "chain", None)  # (eventsourcing's plain recorder: bench/chain_cost.py)
            before = chain.last_position(cursor) if chain else 0  # under the lock: the rows after it are this batch's
            with cursor.copy(copy) as rows:
                rows.set_types(["uuid", "int8", "text", "bytea"])
                for fields in events:
                    rows.write_row(fields)
            if chain:
                chain.append_after(cursor, before, events)  # chained in the same transaction
    except psycopg.errors.UniqueViolation as error:  # as the recorder reports it: nothing of the batch written
        raise IntegrityError(str(error)) from None
