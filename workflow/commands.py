"""Deciding a command: check the rule, the actor and the fields, and say which event to record.

Pure functions of the case, the command and the settings: nothing here loads or stores. Every guard lives
here, never in an event body, so replaying history never re-runs today's rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from workflow import rules
from workflow.actors import Actor, check_agency, require_jurisdiction
from workflow.case import EVENT_FOR_TRIGGER, Case
from workflow.definitions import (DEPARTURE_REASONS, ESCALATION_TARGETS, FINAL_STATES, NEW, STAGE_OF_STATE,
                                  TRACKS, TRIGGERS,
                                  Era, era_for, get_era)
from workflow.errors import IllegalTransition, InvalidField, NotAuthorized
from workflow.fields import TRIGGER_FIELDS, check_keys, choice, optional_text, parse_date, report_parts, text
from workflow.settings import Settings

CLOCK_SKEW = timedelta(minutes=5)


def check_time(occurred_at: datetime, recorded_at: datetime, not_before: datetime | None) -> datetime:
    if not isinstance(occurred_at, datetime) or occurred_at.tzinfo is None:
        raise InvalidField("occurred_at", f"must be a timezone-aware datetime, got {occurred_at!r}",
                           allowed="ISO 8601 with an offset, e.g. 2024-03-01T09:00+07:00")
    if occurred_at > recorded_at + CLOCK_SKEW:
        raise InvalidField("occurred_at", f"{occurred_at.isoformat()} is in the future "
                                          f"(recorded at {recorded_at.isoformat()})")
    if not_before is not None and occurred_at < not_before:
        raise InvalidField("occurred_at", f"{occurred_at.isoformat()} is before the case's previous event "
                                          f"({not_before.isoformat()}); a case's history does not go backwards")
    return occurred_at


def _authorize(era: Era, state: str, trigger: str, actor: Actor) -> None:
    allowed = rules.roles_for(era, state, trigger)
    if actor.role not in allowed:
        raise NotAuthorized(f"role {actor.role!r} may not {trigger} under {era.version}; "
                            f"allowed roles: {', '.join(sorted(allowed))}")


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
                  settings: Settings, era_id: str | None = None, note: str | None = None) -> dict[str, Any]:
    """The `Reported` event's fields for a new case, or a refusal."""
    check_time(occurred_at, recorded_at, None)
    era = get_era(era_id) if era_id else era_for(occurred_at.astimezone(settings.zone).date())
    _authorize(era, NEW, "report", actor)
    parts = report_parts(fields, reporter_required=actor.role == "reporter")
    region = parts["region"]
    require_jurisdiction(actor, "(new)", region["province"], region["regency"], {parts["terlapor"]["agency"]})
    incident_date = parts["incident"]["date"]
    if incident_date and incident_date > occurred_at.astimezone(settings.zone).date().isoformat():
        raise InvalidField("event_date", f"{incident_date} is after the report itself")
    source = "report" if actor.role == "reporter" else "finding"
    filing_deadline, filing_due_at = _filing_deadline(era, source, incident_date, settings)
    return dict(
        actor=actor.as_dict(), occurred_at=occurred_at, workflow_version=era.version, state="reported",
        deadline=None, due_at=None, note=optional_text("note", note), era=era.id, source=source,
        filing_deadline=filing_deadline, filing_due_at=filing_due_at, **parts,
    )


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
        legal = rules.legal_triggers(era, case.state, facts(case, occurred_at))
        raise IllegalTransition(case.id, case.state, trigger, legal, why="no such trigger",
                                closed=case.state in FINAL_STATES)
    check_time(occurred_at, recorded_at, case.last_occurred_at)
    dest = rules.destination(era, case.state, trigger, facts(case, occurred_at), case.id)
    _authorize(era, case.state, trigger, actor)
    check_keys(fields, TRIGGER_FIELDS.get(trigger, {}), trigger)
    deadline, due_at = _deadline_after(case, era, dest, occurred_at, case.election["kind"], settings)
    payload = dict(actor=actor.as_dict(), occurred_at=occurred_at, workflow_version=era.version, state=dest,
                   deadline=deadline, due_at=due_at, note=optional_text("note", note))
    payload.update(_trigger_fields(case, era, trigger, fields, occurred_at))
    return EVENT_FOR_TRIGGER[trigger], payload


def facts(case: Case, at: datetime) -> rules.CaseFacts:
    return rules.CaseFacts(
        deadline_passed=case.due_at is not None and at >= case.due_at,
        deadline_missed=case.deadline_missed,
        personnel_data_blocked=case.personnel_data_blocked,
        has_reporter_data=case.reporter is not None and not case.reporter_erased,
        reporter_data_in_clear=case.reporter is not None and "sealed" not in case.reporter,
    )


def _trigger_fields(case: Case, era: Era, trigger: str, fields: Mapping[str, Any], occurred_at: datetime
                    ) -> dict[str, Any]:
    if trigger == "forward":
        return {"to": era.commission}
    if trigger == "recommend":
        track = choice("track", fields["track"], TRACKS)
        catalogue = era.sanctions(track)
        return {"track": track, "sanction": choice("sanction", fields["sanction"], catalogue),
                "ppk": check_agency(fields.get("ppk") or case.terlapor["agency"], "ppk")}
    if trigger == "impose_sanction":
        sanction = choice("sanction", fields["sanction"], era.all_sanctions)
        decree_date = parse_date("decree_date", fields.get("decree_date"))
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
    return {}
