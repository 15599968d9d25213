"""Deciding a command: check the rule, the actor and the fields, and say which event to record.

Pure functions of the case, the command and the settings: nothing here loads or stores. Every guard lives
here, never in an event body, so replaying history never re-runs today's rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any

from reference.elections import calendar
from workflow import codes, rules
from workflow.actors import Actor, require_jurisdiction
from workflow.case import EVENT_FOR_TRIGGER, Case
from workflow.definitions import (DEPARTURE_REASONS, ESCALATION_TARGETS, FINAL_STATES, NEW, STAGE_OF_STATE,
                                  TRACKS, TRIGGERS,
                                  Era, era_for, get_era)
from workflow.eras import Handover
from workflow.errors import IllegalTransition, InvalidField, NotAuthorized
from workflow.fields import TRIGGER_FIELDS, check_keys, choice, optional_text, parse_date, report_parts, text
from workflow.settings import Settings

CLOCK_SKEW = timedelta(minutes=5)
# The UTC offsets places use (UTC-12 to UTC+14); Python would take anything short of a day.
OFFSETS = (timedelta(hours=-12), timedelta(hours=14))
_AWARE = "ISO 8601 with an offset, e.g. 2024-03-01T09:00+07:00"


def check_moment(name: str, when: Any, now: datetime, settings: Settings, *, future: str = "",
                 allowed: str | None = None) -> datetime:
    """A stated time within reason, on every path (commands, `tick`, audits): timezone-aware, with an offset some
    place uses, not before the earliest date (``JEJAK_EARLIEST_DATE``) and not after `now` (give or take the
    clock skew). A year-1 or year-9999 time would break the read side's arithmetic, and is never a case's."""
    if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise InvalidField(name, f"must be a timezone-aware datetime, got {when!r}", allowed=allowed or _AWARE)
    offset = when.utcoffset()
    if not OFFSETS[0] <= offset <= OFFSETS[1]:
        raise InvalidField(name, f"{when.isoformat()} has the UTC offset {when.strftime('%z')}, which no place "
                                 "uses", allowed="offsets from -12:00 to +14:00")
    if when < settings.earliest_moment:
        raise InvalidField(name, f"{when.isoformat()} is before {settings.earliest_date.isoformat()}, the "
                                 "earliest date accepted (JEJAK_EARLIEST_DATE): is the year right?",
                           allowed=allowed or f"a time from {settings.earliest_date.isoformat()} up to now")
    if when > now + CLOCK_SKEW:
        raise InvalidField(name, f"{when.isoformat()} is in the future{future}",
                           allowed=allowed or "a time up to now")
    return when


def check_day(name: str, day: str | None, settings: Settings) -> str | None:
    """A stated date (ISO text, as `fields.parse_date` gives it) not before the earliest date accepted."""
    if day is not None and day < settings.earliest_date.isoformat():
        raise InvalidField(name, f"{day} is before {settings.earliest_date.isoformat()}, the earliest date "
                                 "accepted (JEJAK_EARLIEST_DATE): is the year right?")
    return day


def check_time(occurred_at: datetime, recorded_at: datetime, not_before: datetime | None,
               settings: Settings) -> datetime:
    check_moment("occurred_at", occurred_at, recorded_at, settings,
                 future=f" (recorded at {recorded_at.isoformat()})" if isinstance(recorded_at, datetime) else "")
    if not_before is not None and occurred_at < not_before:
        raise InvalidField("occurred_at", f"{occurred_at.isoformat()} is before the case's previous event "
                                          f"({not_before.isoformat()}); a case's history does not go backwards")
    return occurred_at


def acting_roles(era: Era, roles: frozenset[str], day: date, settings: Settings
                 ) -> tuple[frozenset[str], dict[str, Handover]]:
    """Who may act on `day`, of the roles the era's table gives: a body that ceased to act by then is replaced
    by the one that took over its pending cases. Also returns the handovers in force (ended role -> handover)."""
    ended = {h.role: h for h in era.handovers if day >= settings.handover_day(h)}
    acting = frozenset(ended[role].to if role in ended else role for role in roles)
    return acting, ended


def may_act(era: Era, state: str, trigger: str, role: str, at: datetime, settings: Settings) -> bool:
    """Whether `role` may fire `trigger` from `state` at `at` (the date of the act decides who exists)."""
    day = at.astimezone(settings.zone).date()
    return role in acting_roles(era, rules.roles_for(era, state, trigger), day, settings)[0]


def _authorize(era: Era, state: str, trigger: str, actor: Actor, at: datetime, settings: Settings) -> None:
    day = at.astimezone(settings.zone).date()
    table_roles = rules.roles_for(era, state, trigger)
    allowed, ended = acting_roles(era, table_roles, day, settings)
    if actor.role in allowed:
        return
    if actor.role in ended and actor.role in table_roles:
        handover = ended[actor.role]
        raise NotAuthorized(f"role {actor.role!r} may not {trigger} on {day}: it ceased to act on "
                            f"{settings.handover_day(handover)} ({handover.basis}); {handover.to} acts on the "
                            f"{era.id} cases it left pending")
    raise NotAuthorized(f"role {actor.role!r} may not {trigger} under {era.version}"
                        f"{f' on {day}' if allowed != table_roles else ''}; allowed roles: {', '.join(sorted(allowed))}")


def _deadline_after(case: Case | None, era: Era, dest: str, occurred_at: datetime, election_kind: str,
                    settings: Settings) -> tuple[str | None, datetime | None]:
    """Entering a new stage starts its deadline; staying in a stage keeps the one running."""
    stage = STAGE_OF_STATE.get(dest)
    if case is not None and stage == STAGE_OF_STATE.get(case.state):
        return case.deadline, case.due_at
    if stage is None:
        return None, None
    name = f"{stage}.{election_kind}" if stage == "bawaslu_handling" else stage
    return _running(era, name, occurred_at, settings)


def _running(era: Era, name: str, start: datetime, settings: Settings) -> tuple[str | None, datetime | None]:
    """Deadline `name` begun at `start`: (name, when it falls due), or (None, None) where it is off."""
    deadline = settings.deadline(era, name)
    due_at = settings.due_at(start, deadline) if deadline else None
    return (name, due_at) if due_at else (None, None)


def decide_report(actor: Actor, occurred_at: datetime, recorded_at: datetime, fields: Mapping[str, Any],
                  settings: Settings, era_id: str | None = None, note: str | None = None,
                  era_reason: str | None = None, imported: bool = False) -> dict[str, Any]:
    """The `Reported` event's fields for a new case, or a refusal."""
    check_time(occurred_at, recorded_at, None, settings)
    era, era_reason = _era(actor, occurred_at.astimezone(settings.zone).date(), era_id, era_reason, imported)
    _authorize(era, NEW, "report", actor, occurred_at, settings)
    day = occurred_at.astimezone(settings.zone).date()
    parts = report_parts(fields, reporter_required=actor.role == "reporter", on=day,
                         elections_file=settings.elections_file)
    parts["election"] = _election_in_window(fields, day, actor, settings)
    region = parts["region"]
    require_jurisdiction(actor, "(new)", region["province"], region["regency"], {parts["terlapor"]["agency"]})
    incident_date = check_day("event_date", parts["incident"]["date"], settings)
    if incident_date and incident_date > occurred_at.astimezone(settings.zone).date().isoformat():
        raise InvalidField("event_date", f"{incident_date} is after the report itself")
    source = "report" if actor.role == "reporter" else "finding"
    filing_deadline, filing_due_at = _filing_deadline(era, source, incident_date, settings)
    return dict(
        actor=actor.as_dict(), occurred_at=occurred_at, workflow_version=era.version, state="reported",
        deadline=None, due_at=None, note=optional_text("note", note), era=era.id, era_reason=era_reason,
        source=source, filing_deadline=filing_deadline, filing_due_at=filing_due_at, **parts,
    )


def _election_in_window(fields: Mapping[str, Any], day: date, actor: Actor, settings: Settings) -> dict[str, Any]:
    """The report's election, whose window (``JEJAK_ELECTION_WINDOW_START``, ``JEJAK_ELECTION_WINDOW_DAYS``) must
    hold the report's date; outside it only a Bawaslu finding may record it, with its reason, which the event
    carries (``election.override``)."""
    election = codes.election(fields["election"], settings.elections_file)
    start, end = election.window(settings.election_window_start, settings.election_window_days)
    why = optional_text("election_reason", fields.get("election_reason"), 500)
    recorded = {"kind": election.kind, "year": election.year}
    if start <= day <= end:
        if why:
            raise InvalidField("election_reason", f"given, but {day} is within {election.id}'s window "
                                                  f"({start} to {end})")
        return recorded
    around = [e.id for e in calendar(settings.elections_file).by_id.values()
              if e.holds(day, settings.election_window_start, settings.election_window_days)]
    outside = f"{day} is outside {election.id}'s window ({start} to {end})"
    if actor.role != "bawaslu":
        raise InvalidField("election", f"{outside}: is it the right election?",
                           allowed=", ".join(around) or f"no election's window holds {day}")
    if not why:
        raise InvalidField("election_reason", f"required for a finding whose date {outside}: say why",
                           allowed="e.g. --election-reason 'a re-vote ordered by the Constitutional Court'")
    return {**recorded, "override": why}


def _era(actor: Actor, day: date, era_id: Any, reason: Any, imported: bool) -> tuple[Era, str | None]:
    """The era follows the report's date. Another one may be named only by Bawaslu (a finding) or an import
    (history kept elsewhere), with the reason, which the event records; never by a reporter, whose choice would
    send the case to another commission under other deadlines."""
    in_force = era_for(day)
    chosen = get_era(era_id) if era_id not in (None, "") else in_force
    if chosen is in_force:
        if optional_text("era_reason", reason):
            raise InvalidField("era_reason", f"given, but the era is the one in force on {day} ({in_force.id})")
        return in_force, None
    if actor.role == "reporter" and not imported:
        raise NotAuthorized(f"era: a report is handled under the era in force on its date ({in_force.id} on "
                            f"{day}); only a Bawaslu finding or an import may name another")
    why = optional_text("era_reason", reason, 500)
    if not why:
        raise InvalidField("era_reason", f"required to handle a case of {day} under {chosen.id}, not "
                                         f"{in_force.id} (the era in force then): say why")
    return chosen, why


def _filing_deadline(era: Era, source: str, incident_date: str | None, settings: Settings
                     ) -> tuple[str | None, datetime | None]:
    """By when the report (or Bawaslu's finding) was due after the incident became known: decided now and
    recorded, so that a later setting never re-judges it. A late one is still recorded: Bawaslu decides what
    follows (``reject_registration``); the read side flags it."""
    if not incident_date:
        return None, None
    known = datetime.combine(date.fromisoformat(incident_date), time(0), tzinfo=settings.zone)
    return _running(era, "report_filing" if source == "report" else "finding_record", known, settings)


def decide(case: Case, trigger: str, actor: Actor, occurred_at: datetime, recorded_at: datetime,
           fields: Mapping[str, Any], settings: Settings, note: str | None = None
           ) -> tuple[type[Case.Event], dict[str, Any]]:
    """The event a trigger records on this case, or a refusal that writes nothing.

    Jurisdiction is checked first, so that a refusal never tells an outsider what state a case is in."""
    require_jurisdiction(actor, case.id, case.region["province"], case.region["regency"], case.agencies)
    era = get_era(case.era)
    if trigger not in TRIGGERS or trigger == "report":
        legal = rules.legal_triggers(era, case.state, facts(case, occurred_at, settings))
        raise IllegalTransition(case.id, case.state, trigger, legal, why="no such trigger",
                                closed=case.state in FINAL_STATES)
    check_time(occurred_at, recorded_at, case.last_occurred_at, settings)
    dest = rules.destination(era, case.state, trigger, facts(case, occurred_at, settings), case.id)
    _authorize(era, case.state, trigger, actor, occurred_at, settings)
    check_keys(fields, TRIGGER_FIELDS.get(trigger, {}), trigger)
    if trigger == "correct_date" and not optional_text("note", note):
        raise InvalidField("note", "a correction needs its reason", allowed="e.g. --note 'the form says 2024'")
    deadline, due_at = _deadline_after(case, era, dest, occurred_at, case.election["kind"], settings)
    payload = dict(actor=actor.as_dict(), occurred_at=occurred_at, workflow_version=era.version, state=dest,
                   deadline=deadline, due_at=due_at, note=optional_text("note", note))
    payload.update(_trigger_fields(case, era, trigger, fields, occurred_at, settings))
    return EVENT_FOR_TRIGGER[trigger], payload


def facts(case: Case, at: datetime, settings: Settings | None = None) -> rules.CaseFacts:
    earliest = (settings or _default_settings()).earliest_moment
    return rules.CaseFacts(
        has_time_out_of_range=any(stated < earliest for _, stated, _ in case.history),
        deadline_passed=case.due_at is not None and at >= case.due_at,
        deadline_missed=case.deadline_missed,
        personnel_data_blocked=case.personnel_data_blocked,
        has_reporter_data=case.reporter is not None and not case.reporter_erased,
        reporter_data_in_clear=case.reporter is not None and "sealed" not in case.reporter,
    )


def _trigger_fields(case: Case, era: Era, trigger: str, fields: Mapping[str, Any], occurred_at: datetime,
                    settings: Settings) -> dict[str, Any]:
    if trigger == "forward":  # to the commission that exists on the day (BKN for a KASN-era case from Sept 2024)
        day = occurred_at.astimezone(settings.zone).date()
        return {"to": next(iter(acting_roles(era, frozenset([era.commission]), day, settings)[0]))}
    if trigger == "recommend":
        track = choice("track", fields["track"], TRACKS)
        catalogue = era.sanctions(track)
        return {"track": track, "sanction": choice("sanction", fields["sanction"], catalogue),
                "ppk": codes.agency(fields["ppk"], "ppk", on=occurred_at.astimezone(settings.zone).date())
                if fields.get("ppk") else case.terlapor["agency"]}  # an addressed PPK exists that day
    if trigger == "impose_sanction":
        sanction = choice("sanction", fields["sanction"], era.all_sanctions)
        decree_date = check_day("decree_date", parse_date("decree_date", fields.get("decree_date")), settings)
        if decree_date and decree_date > occurred_at.date().isoformat():
            raise InvalidField("decree_date", f"{decree_date} is after the sanction was imposed")
        return {"track": era.all_sanctions[sanction].track, "sanction": sanction,
                "decree_number": text("decree_number", fields["decree_number"], 200), "decree_date": decree_date}
    if trigger == "mark_overdue":
        return {"missed_deadline": case.deadline, "missed_due_at": case.due_at}
    if trigger == "escalate":
        return {"to": choice("to", fields["to"], ESCALATION_TARGETS)}
    if trigger == "record_departure":
        return {"reason": choice("reason", fields["reason"], DEPARTURE_REASONS)}
    if trigger == "correct_date":
        return _correction(case, era, fields, settings)
    return {}


def _correction(case: Case, era: Era, fields: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """Which event's stated time is corrected, to what: only a time today's rules refuse, to one they accept
    that keeps the case's history in order. When that event started the running deadline, the deadline is
    decided again from the corrected time (and recorded on the correction)."""
    version = fields["version"]
    if isinstance(version, str) and version.strip().isdecimal() and len(version.strip()) < 10:
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= case.version:
        raise InvalidField("version", f"no event {version!r} in this case", allowed=f"1 to {case.version}")
    trigger, stated, recorded_at = case.history[version - 1]
    if stated >= settings.earliest_moment:
        raise InvalidField("version", f"event {version} ({trigger}) states {stated.isoformat()}, which is within "
                                      "range: only a time before the earliest date accepted is corrected")
    corrected = _moment("to", fields["to"], settings)
    check_moment("to", corrected, recorded_at, settings, future=f" of event {version}'s recording "
                                                                 f"({recorded_at.isoformat()})")
    earlier = case.history[version - 2][1] if version > 1 else None
    later = case.history[version][1] if version < len(case.history) else None
    if earlier is not None and corrected < earlier:
        raise InvalidField("to", f"{corrected.isoformat()} is before event {version - 1} "
                                 f"({earlier.isoformat()}); a case's history does not go backwards")
    if later is not None and corrected > later:
        raise InvalidField("to", f"{corrected.isoformat()} is after event {version + 1} ({later.isoformat()}); "
                                 "a case's history does not go backwards (correct the later events first)")
    payload: dict[str, Any] = {"corrected_version": version, "stated_at": stated, "corrected_at": corrected}
    if case.deadline is not None and case.deadline_since == version:
        payload["deadline"], payload["due_at"] = _running(era, case.deadline, corrected, settings)
    return payload


def _moment(name: str, value: Any, settings: Settings) -> datetime:
    """A time given as a datetime or ISO text (without an offset: local time, JEJAK_TZ)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidField(name, f"not an ISO date or time: {value!r}", allowed=_AWARE) from None
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=settings.zone)
    return value


@cache
def _default_settings() -> Settings:
    return Settings()
