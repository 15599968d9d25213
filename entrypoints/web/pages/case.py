"""A case's page (``/cases/{id}``), for signed-in readers only (every role but the reporter's, as the API's
``GET /api/v1/cases/{id}/events``): the report's particulars, the current state and running deadline, and the
timeline — every event with who, when it occurred, when it was recorded, era and rule version — as of a
chosen date. The timeline is the `case_event` read model; the particulars are the case's first event (its
report: one event read, not a replay)."""

from __future__ import annotations

from fastapi import APIRouter

from entrypoints.problems import NotAuthenticated
from entrypoints.web.pages.overview import as_of_date
from entrypoints.web.render import PageDep, PageRoute
from projections import dashboard
from workflow.errors import CaseNotFound, NotAuthorized

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def require_reader(page) -> None:
    if page.viewer is None:
        raise NotAuthenticated("case pages are for signed-in readers: sign in with an API token or your "
                               "identity provider's token")
    if page.viewer.actor.role == "reporter":
        raise NotAuthorized("a reporter's credential files reports and corrections; it reads no cases or audits")


@router.get("/cases/{case_id}", name="case")
def case_page(case_id: str, page: PageDep, as_of: str | None = None):
    require_reader(page)
    rs = page.read_side
    day = as_of_date(as_of, rs)
    summary = dashboard.case_row(rs, case_id)
    if summary is None:
        raise CaseNotFound(case_id)
    report = page.server.app.get_case(case_id, version=1)
    timeline = dashboard.case_timeline(rs, case_id, as_of=day)
    now = timeline.iloc[-1] if len(timeline) else None
    state = {"state": now["state_after"] if now is not None else None,
             "deadline": now["deadline"] if now is not None else None,
             "due_at": now["due_at"] if now is not None else None} if day else \
        {"state": summary["state"], "deadline": summary["deadline"], "due_at": summary["due_at"]}
    return page.render("case.html", nav="", case_id=case_id, summary=summary, report=report, timeline=timeline,
                       as_of=day, state=state)
