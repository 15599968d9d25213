"""Cases: report, fire triggers, read state, history, what the caller may do, and the reporter's data."""

from __future__ import annotations

import inspect
import re
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from entrypoints import access_log
from entrypoints.api.deps import PrincipalDep, ReaderDep, ServerDep
from entrypoints.api.freshness import read_models
from entrypoints.api.idempotency import fingerprint
from entrypoints.api.schemas import CaseState, ReportIn, TriggerIn, Triggers, report_fields
from entrypoints.auth import Principal
from entrypoints.problems import BadRequest, StaleVersion
from entrypoints.views import event_row, parse_when, to_jsonable
from projections.cutoffs import happened_by
from workflow.actors import Actor, covers
from workflow.application import Jejak
from workflow.errors import ConcurrentUpdate, InvalidField, NotAuthorized
from workflow.fields import TRIGGER_FIELDS

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])

IdempotencyKey = Annotated[str | None, Header(description="a retried POST with the same key returns the first "
                                                          "response and writes nothing more")]
IfMatch = Annotated[str | None, Header(description='"<version>": refuse (412) if the case has moved on')]
_NOT_FIELDS = set(inspect.signature(Jejak.advance).parameters)  # the command's own arguments
_VERSION = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')


def acting_as(principal: Principal, claimed: str | None) -> Actor:
    """The actor is the principal; a body naming another one is refused (403), not obeyed."""
    if claimed is not None and Actor.parse(claimed) != principal.actor:
        raise NotAuthorized(f"the credential proves {principal.actor}; a request cannot act as {claimed.strip()}")
    return principal.actor


def expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    match = _VERSION.match(if_match.strip())
    if not match:
        raise BadRequest(f'If-Match: cannot read {if_match!r}; expected the case version as an entity tag, e.g. "3"')
    return int(match[1])


def written(server) -> dict[str, str]:
    """`Jejak-Position` of a command's answer: a position at or after its event (the newest when it committed),
    for a later read's ?min_position= to see it."""
    return {"Jejak-Position": str(server.app.recorder.max_notification_id() or 0)}


def _state(case) -> dict:
    return {"case_id": str(case.id), "state": case.state, "version": case.version}


@router.post("", status_code=201, response_model=CaseState, summary="File a report (or, as Bawaslu, a finding)")
def report(body: ReportIn, principal: PrincipalDep, server: ServerDep, request: Request,
           idempotency_key: IdempotencyKey = None):
    actor = acting_as(principal, body.actor)
    occurred_at = parse_when(body.occurred_at, "occurred_at")

    def command():
        case = server.app.new_case(actor, occurred_at=occurred_at, era=body.era, note=body.note,
                                   **report_fields(body))
        server.app.record_cases(case)
        return 201, {"Location": f"{request.url.path}/{case.id}", "ETag": f'"{case.version}"',
                     **written(server)}, _state(case)

    key = fingerprint("POST", request.url.path, None, body.model_dump())
    return server.idempotency.respond(principal, idempotency_key, key, command)


@router.post("/{case_id}/triggers/{trigger}", response_model=CaseState, summary="Fire a trigger on a case")
def fire(case_id: str, trigger: str, principal: PrincipalDep, server: ServerDep, request: Request,
         body: TriggerIn | None = None, if_match: IfMatch = None, idempotency_key: IdempotencyKey = None,
         retries: Annotated[int, Query(ge=0, le=5, description="without If-Match: on a concurrent update, "
                                                               "decide again on the newer case")] = 0):
    body = body or TriggerIn()
    actor = acting_as(principal, body.actor)
    if taken := sorted(set(body.fields) & _NOT_FIELDS):
        raise InvalidField("fields", f"{', '.join(taken)}: not a trigger field (occurred_at and note go at the "
                                     "top of the body; the actor is the credential's)",
                           allowed=TRIGGER_FIELDS.get(trigger) or "no fields")
    expected = expected_version(if_match)
    occurred_at = parse_when(body.occurred_at, "occurred_at")
    if trigger == "erase_reporter" and expected is None:
        retries = max(retries, 5)  # the key is destroyed before the record of it: do not leave it unrecorded

    def command():
        app = server.app
        try:
            case = app.advance(case_id, trigger, actor, occurred_at=occurred_at, note=body.note,
                               expected_version=expected, retries=0 if expected is not None else retries,
                               **body.fields)
        except ConcurrentUpdate:
            if expected is not None and (current := app.get_case(case_id).version) != expected:
                raise StaleVersion(case_id, expected, current) from None
            raise
        return 200, {"ETag": f'"{case.version}"', **written(server)}, _state(case)

    key = fingerprint("POST", request.url.path, if_match, body.model_dump())
    return server.idempotency.respond(principal, idempotency_key, key, command)


MinPosition = Annotated[int | None, Query(description="read models that reflect at least this notification "
                                                     "position (a command's Jejak-Position): wait briefly, else 503")]


@router.get("", summary="The cases (one row of case_summary each), like `jejak cases`; from the replica if "
                        "there is one (Jejak-Position and Jejak-Read-From say how fresh, and where)")
def cases(principal: ReaderDep, server: ServerDep, response: Response, state: Annotated[str | None, Query()] = None,
          min_position: MinPosition = None):
    read_side, headers = read_models(server, min_position)
    response.headers.update(headers)
    return to_jsonable(read_side.cases(state=state))


@router.get("/{case_id}", summary="A case now: state, version (also as ETag) and what it records")
def get_case(case_id: str, principal: ReaderDep, server: ServerDep, response: Response):
    case = server.app.get_case(case_id)
    response.headers["ETag"] = f'"{case.version}"'
    return to_jsonable({
        **_state(case), "era": case.era, "source": case.source, "terlapor": case.terlapor, "region": case.region,
        "category": case.category, "election": case.election, "incident": case.incident,
        "external_ref": case.external_ref, "commission": case.commission, "ppk": case.ppk,
        "deadline": case.deadline, "due_at": case.due_at, "deadline_missed": case.deadline_missed,
        "personnel_data_blocked": case.personnel_data_blocked, "escalations": case.escalations,
        "recommendation": case.recommendation, "sanction": case.sanction, "departure": case.departure,
        "milestones": case.milestones, "has_reporter": case.reporter is not None,
        "reporter_erased": case.reporter_erased})


@router.get("/{case_id}/events", summary="The case's history, one row per event, like `jejak show`")
def events(case_id: str, principal: ReaderDep, server: ServerDep,
           as_of: Annotated[str | None, Query(description="only what had happened by then (ISO; a date means the "
                                                           "end of that local day, as the audits)")] = None):
    history = server.app.case_events(case_id)
    if as_of is not None:
        history = happened_by(history, as_of, server.app, "as_of")
    return to_jsonable([event_row(e) for e in history])


@router.get("/{case_id}/triggers", response_model=Triggers, summary="What the caller may fire on the case now")
def triggers(case_id: str, principal: PrincipalDep, server: ServerDep):
    allowed = server.app.triggers(case_id, principal.actor)
    return {"case_id": case_id, "actor": str(principal.actor), "triggers": allowed}


@router.get("/{case_id}/reporter", summary="The reporter's personal data, decrypted: the case's own Bawaslu "
                                           "only, and every request is recorded")
def reporter(case_id: str, principal: PrincipalDep, server: ServerDep):
    case = server.app.get_case(case_id)
    actor, region = principal.actor, case.region
    if actor.role != "bawaslu" or not covers(actor, region["province"], region["regency"], case.agencies):
        reason = (f"{actor} is not the Bawaslu of case {case.id} (region {region['province']}"
                  f"{'/' + region['regency'] if region['regency'] else ''}): only it may read the reporter's data")
        access_log.record(server.engine, principal, str(case.id), False, reason)
        raise NotAuthorized(reason)
    access_log.record(server.engine, principal, str(case.id), True)  # recorded before anything is shown
    return {"case_id": str(case.id), "reporter": server.app.reporter(case.id), "erased": case.reporter_erased}
