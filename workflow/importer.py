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

This module runs an import (keys, worker processes, batches); its parts are `import_columns` (the columns,
``COLUMNS``; see also the README, "Bulk import and export"), `import_files` (reading CSV and XLSX), `import_rows`
(a row into commands, its key, the case built) and `recorder_adapter` (the fast path into eventsourcing's
tables). They import only the standard library at load time: the CLI registers them on every start, and write
commands must start fast.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

from workflow.errors import JejakError
from workflow.import_columns import (COLUMNS, MILESTONES, REPORT_COLUMNS, REQUIRED_COLUMNS, ROLE_COLUMNS,
                                     Milestone)
from workflow.import_files import ImportFileError, Row, file_source, read_rows
from workflow.import_rows import (KEY_SECRET, ActorCache, PlannedStep, RowPlan, StepRefused, _canonical, build_case,
                                  case_id_for, legacy_row_key, parse_moment, plan_row, row_key)
from workflow.recorder_adapter import existing_case_ids, insert_stored_events

# The import's public names, wherever they live now (the CLI, bench and tests import them from here).
__all__ = ["BATCH_SIZE", "COLUMNS", "KEY_SECRET", "MAX_WORKERS", "MILESTONES", "REPORT_COLUMNS", "REQUIRED_COLUMNS",
           "ROLE_COLUMNS", "ImportFileError", "ImportResult", "Milestone", "PlannedStep", "RowError", "RowPlan",
           "_canonical", "build_case", "case_id_for", "default_workers", "existing_case_ids", "file_source",
           "import_file", "legacy_row_key", "parse_moment", "plan_row", "read_rows", "row_key"]

BATCH_SIZE = 500  # cases per transaction
MAX_WORKERS = 4  # building cases in more processes than this gains little: the one writer becomes the limit


def default_workers() -> int:
    """`jejak import` builds cases in one process per core (at most MAX_WORKERS): 1.7x on 2 cores."""
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


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
    source = file_source(path)
    if strict and not dry_run:
        checked = _run(app, rows, source, dry_run=True, batch_size=batch_size, progress=progress,
                       desc="checking", workers=workers)
        if checked.bad:
            checked.dry_run, checked.strict = False, True
            return checked
    result = _run(app, rows, source, dry_run=dry_run, batch_size=batch_size, progress=progress,
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


def _build(app, source: tuple[str, str], batch: list[tuple[int, dict[str, Any], str]],
           actors: ActorCache | None = None) -> _Built:
    """Read each row into its commands and drive them on a new case: the stored events of the good ones,
    the line and reason of the bad ones. `source`: the file's name and SHA-256, recorded on every event."""
    app = app or _APP
    name, digest = source
    actors = actors or ActorCache()
    zone = app.settings.zone
    built = _Built()
    to_stored = app.mapper.to_stored_event
    for line, values, key in batch:
        try:
            case = build_case(app, plan_row(values, zone, key), actors,
                              {"file": name, "sha256": digest, "line": line})
        except (StepRefused, JejakError) as error:  # a refused step, or a row that cannot be read into commands
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


def _build_in_worker(job: tuple[tuple[str, str], list[tuple[int, dict[str, Any], str]]]) -> _Built:
    return _build(None, *job)


def _run(app, rows: list[Row], source: tuple[str, str], *, dry_run: bool, batch_size: int, progress, desc: str,
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
            built_batches = pool.imap(_build_in_worker, [(source, batch) for batch in batches])
        else:
            actors = ActorCache()
            built_batches = (_build(app, source, batch, actors) for batch in batches)
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
        insert_stored_events(app, built.events)
    except IntegrityError:
        # another writer imported some of these meanwhile: nothing of this batch was written; skip theirs
        existing = existing_case_ids(app, [case_id for case_id, _ in built.cases])
        if not existing:
            raise
        result.already += sum(1 for case_id, _ in built.cases if case_id in existing)
        built.cases = [(case_id, n) for case_id, n in built.cases if case_id not in existing]
        built.events = [fields for fields in built.events if fields[0] not in existing]
        if built.events:
            insert_stored_events(app, built.events)
    result.written = True
