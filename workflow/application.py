"""The application service: load the case, decide, record, in one place for the CLI, scripts and notebooks.

Usage::

    with Jejak("sqlite:///jejak.db") as app:
        case_id = app.report("reporter", name="Budi", ...)
        app.advance(case_id, "begin_review", "bawaslu:kab-bima")
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, InternalError, ProgrammingError

from workflow import decisions, privacy, rules, signing
from workflow.actors import Actor, covers
from workflow.case import Case
from workflow.definitions import get_era
from workflow.errors import CaseNotFound, ConcurrentUpdate, InvalidField, JejakError, NotAuthorized
from workflow.privacy import SubjectKeys
from workflow.settings import Settings
from workflow.signing import SignerKey
from workflow.store import lost_schema_race, resolve_store

EXTERNAL_REF_NAMESPACE = uuid5(NAMESPACE_URL, "https://jejak.example/external-ref")

ActorLike = Actor | str
DueCases = Callable[[datetime], Iterable[UUID]]  # the ids of cases whose running deadline is due by then


def as_actor(actor: ActorLike) -> Actor:
    if isinstance(actor, Actor):
        actor.validate()
        return actor
    return Actor.parse(actor)


def as_case_id(case_id: UUID | str) -> UUID:
    if isinstance(case_id, UUID):
        return case_id
    try:
        return UUID(str(case_id).strip())
    except ValueError:
        raise InvalidField("case", f"not a case id: {case_id!r}", allowed="a UUID as printed by 'report'") from None


class Jejak(Application):
    """Complaint cases, event-sourced. Open it with a store URL (default: ``JEJAK_DB`` or ``jejak.db``).

    ``signer``: the key that signs the hash chain (workflow.chain); default: ``JEJAK_SIGNING_KEY[_FILE]``, if set;
    ``False``: unsigned, whatever the environment says."""

    name = "Jejak"

    def __init__(self, db: str | None = None, *, settings: Settings | None = None,
                 clock: Callable[[], datetime] | None = None, env: dict[str, str] | None = None,
                 due_cases: DueCases | None = None, signer: SignerKey | bool | None = None):
        self.store = resolve_store(db)
        self.settings = settings or Settings.from_env()
        # The clock stamps when events are recorded; only simulations (the demo, tests) replace it.
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        # Where `tick` finds the cases whose deadline has passed: a query of the read side, handed in by whoever
        # wires the two sides (entrypoints.bootstrap), so that the write side never imports the read side.
        self.due_cases = due_cases
        store_env = self.store.eventsourcing_env()
        if cipher_key := os.environ.get("JEJAK_CIPHER_KEY"):  # optional: encrypt every stored event at rest
            store_env.update(CIPHER_TOPIC="eventsourcing.cryptography:AESCipher", CIPHER_KEY=cipher_key)
        # the write side chains every event it stores, in the same transaction (workflow.chain)
        store_env["APPLICATION_RECORDER_TOPIC"] = ("workflow.append_only:ChainedPostgresRecorder"
                                                   if self.store.is_postgres
                                                   else "workflow.chain:ChainedSQLiteRecorder")
        self.signer = signing.configured_signer() if signer is None else signer or None
        super().__init__(env={**store_env, **(env or {})})
        self.subject_keys = SubjectKeys(self.recorder, self.store.is_postgres)
        self._new_subject_keys: dict[str, str] = {}  # kept just before the cases using them are saved

    def construct_recorder(self):
        if self.store.is_postgres:  # under a role that does not own the tables (`jejak db secure`): no schema DDL
            from workflow.append_only import prepare

            prepare(self.factory, f"{self.name.lower()}_events")
        # On PostgreSQL every start re-runs eventsourcing's CREATE OR REPLACE FUNCTION; two processes starting
        # at once (a cron tick and a user's command) make PostgreSQL fail one with "tuple concurrently updated".
        # On a new database, two CREATE TABLE/TYPE IF NOT EXISTS at once fail one ("already exists").
        for attempt in range(10):
            try:
                recorder = super().construct_recorder()
                if hasattr(recorder, "chain"):  # not when a benchmark asks for eventsourcing's plain recorder
                    recorder.chain.signer = self.signer
                return recorder
            except (InternalError, IntegrityError, ProgrammingError) as error:
                if "permission denied" in str(error):
                    raise NotAuthorized(f"the store {self.store} has no event store yet, and role "
                                        f"{self.store.user!r} may not create it: run `jejak db secure` "
                                        "with the owner's URL first") from None
                if not lost_schema_race(error) or attempt == 9:
                    raise
                time.sleep(0.02 * (attempt + 1))

    @property
    def url(self):
        """The store as a SQLAlchemy URL, for the read side (imported only when the read side asks)."""
        return self.store.sqlalchemy_url()

    # --- commands ---------------------------------------------------------------------------------------

    def report(self, actor: ActorLike, *, occurred_at: datetime | None = None, era: str | None = None,
               note: str | None = None, era_reason: str | None = None, **fields: Any) -> UUID:
        """File a report (laporan, by a reporter) or a finding (temuan, by Bawaslu); returns the case id.
        The era is the one in force on `occurred_at`; a finding may name another `era`, with `era_reason`."""
        case = self.new_case(actor, occurred_at=occurred_at, era=era, note=note, era_reason=era_reason, **fields)
        self._commit(case)
        return case.id

    def new_case(self, actor: ActorLike, *, occurred_at: datetime | None = None, era: str | None = None,
                 note: str | None = None, era_reason: str | None = None, **fields: Any) -> Case:
        """A validated, unsaved case (for batch paths that save many at once)."""
        return self.decide_case(actor, fields, occurred_at=occurred_at, era=era, note=note, era_reason=era_reason)

    def decide_case(self, actor: ActorLike, fields: Mapping[str, Any], *, occurred_at: datetime | None = None,
                    era: str | None = None, note: str | None = None, era_reason: str | None = None,
                    imported_from: dict | None = None) -> Case:
        """`new_case` with the report's fields as one mapping, so that no field can pose as an option.
        `imported_from`: the import row the report comes from ({"file", "sha256", "line"}, recorded on the
        event); such a row may name the era of a reporter's report."""
        recorded_at = self.clock()
        payload = decisions.decide_report(as_actor(actor), occurred_at or recorded_at, recorded_at, fields,
                                         self.settings, era, note, era_reason, imported_from is not None)
        payload["imported_from"] = imported_from
        ref = payload["external_ref"]
        case_id = uuid5(EXTERNAL_REF_NAMESPACE, ref) if ref else uuid4()
        if payload["reporter"] is not None:
            subject, key = str(uuid4()), self.subject_keys.new_key()
            payload["reporter"] = {"subject": subject, "sealed": privacy.seal(payload["reporter"], key)}
            self._new_subject_keys[subject] = key
        return Case._create(Case.Reported, id=case_id, timestamp=recorded_at, **payload)

    def advance(self, case_id: UUID | str, trigger: str, actor: ActorLike, *, occurred_at: datetime | None = None,
                note: str | None = None, expected_version: int | None = None, retries: int = 0,
                **fields: Any) -> Case:
        """Fire a trigger on a case; refused with nothing written if the rules, the actor or the fields say no.

        If another writer records an event on the case first, the command is refused with ConcurrentUpdate;
        with ``retries`` it is decided again on the newer case (which may then refuse it) up to that many times.
        """
        if not isinstance(retries, int) or retries < 0:  # range(retries + 1) would be empty: nothing decided
            raise InvalidField("retries", f"must be a whole number, 0 or more, got {retries!r}")
        for attempt in range(retries + 1):
            case = self.get_case(case_id)
            if expected_version is not None and case.version != expected_version:
                raise ConcurrentUpdate(case.id, f"expected version {expected_version}, it is at {case.version}")
            self.apply_trigger(case, trigger, actor, occurred_at=occurred_at, note=note, **fields)
            if trigger == "erase_reporter":  # crypto-shredding: first the key, then the record of it
                self.subject_keys.erase(case.reporter["subject"])
            try:
                self._commit(case)
            except ConcurrentUpdate:
                if attempt == retries:
                    raise
                continue
            return case

    def apply_trigger(self, case: Case, trigger: str, actor: ActorLike, *, occurred_at: datetime | None = None,
                      note: str | None = None, **fields: Any) -> None:
        """Decide and apply a trigger on a loaded case without saving it (for batch paths)."""
        self.decide_trigger(case, trigger, actor, fields, occurred_at=occurred_at, note=note)

    def decide_trigger(self, case: Case, trigger: str, actor: ActorLike, fields: Mapping[str, Any], *,
                       occurred_at: datetime | None = None, note: str | None = None,
                       imported_from: dict | None = None) -> None:
        """`apply_trigger` with the trigger's fields as one mapping; `imported_from` as for `decide_case`."""
        recorded_at = self.clock()
        event_class, payload = decisions.decide(case, trigger, as_actor(actor), occurred_at or recorded_at,
                                               recorded_at, fields, self.settings, note)
        case.trigger_event(event_class, timestamp=recorded_at, imported_from=imported_from, **payload)

    def record_cases(self, *cases: Case) -> None:
        """Save several cases in one transaction: all of them or none."""
        self._commit(*cases)

    def _commit(self, *cases: Case) -> None:
        # new cases, with however many events before their first save: their reporters' keys go first
        new = [_is_new(c) for c in cases]  # before saving: a save collects the pending events
        subjects = [c.reporter["subject"] for c, is_new in zip(cases, new) if c.reporter and is_new]
        new_keys = {s: self._new_subject_keys.pop(s) for s in subjects if s in self._new_subject_keys}
        decided = {c.id: c.version - len(c.pending_events) for c in cases}  # the version each was decided on
        pending = [event for c in cases for event in c.pending_events]
        self.subject_keys.store(new_keys)
        try:
            self.save(*cases)
        except IntegrityError:  # nothing was written; the case objects are stale now
            if self._recorded_already(pending):
                return  # a retried insert met its own rows: the first try had committed
            self.subject_keys.discard(new_keys)  # nor is any key kept for the reports that were refused
            if new == [True]:
                raise InvalidField("external_ref", f"{cases[0].external_ref!r} is already case {cases[0].id}") \
                    from None
            raise self._lost_race(decided) from None

    def _recorded_already(self, events: list) -> bool:
        """Whether each of these events is in the store as it is. eventsourcing's PostgreSQL recorder retries an
        insert whose connection broke; if the first try had committed (its acknowledgement lost), the retry
        meets the same rows and fails as if a race were lost: the command was recorded, once, and its reporter's
        key must stay. (Decoded events compare case, version, times and content.)"""
        for event in events:
            stored = self.recorder.select_events(event.originator_id, gt=event.originator_version - 1,
                                                 lte=event.originator_version, limit=1)
            if not stored or self.mapper.to_domain_event(stored[0]) != event:
                return False
        return bool(events)

    def _lost_race(self, decided: dict[UUID, int]) -> ConcurrentUpdate:
        """Which cases another writer moved on, to which version: one line, no database error text."""
        moved = {}
        for case_id, version in decided.items():
            latest = self.recorder.select_events(case_id, desc=True, limit=1)
            now = latest[0].originator_version if latest else 0
            if now != version:
                moved[case_id] = now
        if not moved:
            return ConcurrentUpdate(", ".join(str(case_id) for case_id in decided), "an event was recorded first")
        ids = ", ".join(str(case_id) for case_id in moved)
        detail = "; ".join(f"{'its' if len(moved) == 1 else str(case_id)} version {now} was recorded first, this "
                           f"command was decided on version {decided[case_id]}" for case_id, now in moved.items())
        return ConcurrentUpdate(ids, detail)

    def tick(self, now: datetime | None = None) -> list[tuple[UUID, str]]:
        """Record `mark_overdue` on every case whose running deadline has passed, once per missed deadline."""
        if self.due_cases is None:
            raise JejakError("tick needs to know which cases are due: open the store with "
                             "entrypoints.bootstrap.open_jejak(), or pass Jejak(due_cases=…)")
        # a deadline is missed only once it is past: `now` is not in the future, nor before any case
        now = decisions.check_moment("now", now or self.clock(), self.clock(), self.settings)
        marked = []
        for case_id in self.due_cases(now):
            case = self.get_case(case_id)
            if not decisions.facts(case, now, self.settings).deadline_passed or case.deadline_missed:
                continue  # the read model lagged; the aggregate is the authority
            if case.last_occurred_at > now:
                continue  # its history is already past `now` (a tick for a past moment); a later tick marks it
            deadline = case.deadline
            self.apply_trigger(case, "mark_overdue", "system", occurred_at=now,
                               note=f"deadline {deadline} was due {case.due_at.isoformat()}")
            try:
                self._commit(case)
            except ConcurrentUpdate:
                continue  # someone acted on the case meanwhile; the next tick looks again
            marked.append((case.id, deadline))
        return marked

    # --- queries ----------------------------------------------------------------------------------------

    def get_case(self, case_id: UUID | str, version: int | None = None) -> Case:
        """The case now, or as it was at a version (replayed from its events)."""
        case_id = as_case_id(case_id)
        try:
            return self.repository.get(case_id, version=version)
        except AggregateNotFoundError:
            raise CaseNotFound(case_id) from None

    def reporter(self, case_id: UUID | str) -> dict[str, Any] | None:
        """The reporter's personal data, decrypted; None if none was given or it has been erased."""
        case = self.get_case(case_id)
        if case.reporter is None or case.reporter_erased:
            return None
        if "sealed" not in case.reporter:  # recorded in clear by an early version
            return dict(case.reporter)
        key = self.subject_keys.get(case.reporter["subject"])
        return privacy.unseal(case.reporter["sealed"], key) if key else None

    def case_events(self, case_id: UUID | str) -> list[Case.Event]:
        case_id = as_case_id(case_id)
        events = list(self.events.get(case_id))
        if not events:
            raise CaseNotFound(case_id)
        return events

    def case_as_of(self, case_id: UUID | str, when: datetime, *, recorded: bool = False) -> Case | None:
        """The case as it stood at a moment: by when things happened (default) or by when they were recorded.
        None if it had not been reported yet."""
        events = self.case_events(case_id)
        times = [e.timestamp if recorded else e.occurred_at for e in events]
        for event in events if not recorded else ():
            if isinstance(event, Case.DateCorrected):  # as it happened: at the corrected time
                times[event.corrected_version - 1] = event.corrected_at
        version = sum(1 for t in times if t <= when)
        return self.get_case(case_id, version=version) if version else None

    def triggers(self, case_id: UUID | str, actor: ActorLike | None = None) -> list[str]:
        """What may happen next: the legal triggers now, narrowed to what this actor may fire."""
        case = self.get_case(case_id)
        era = get_era(case.era)
        legal = rules.legal_triggers(era, case.state, decisions.facts(case, self.clock(), self.settings))
        if actor is None:
            return legal
        actor = as_actor(actor)
        if not covers(actor, case.region["province"], case.region["regency"], case.agencies):
            return []
        now = self.clock()
        return [t for t in legal if decisions.may_act(era, case.state, t, actor.role, now, self.settings)]


def _is_new(case: Case) -> bool:
    """Whether the case's report is among its unsaved events (it has never been saved)."""
    pending = case.pending_events
    return bool(pending) and pending[0].originator_version == 1
