"""An agency's page (``/ppk/{code}``): the cases addressed to one PPK, by state and age. Public: counts per
state (the small-count rule applies to each row); signed in: every case, linked to its page."""

from __future__ import annotations

from fastapi import APIRouter

from entrypoints.web import disclosure
from entrypoints.web.render import PageDep, PageRoute
from projections import dashboard
from reference.agencies import agencies
from workflow.errors import CaseNotFound, JejakError

router = APIRouter(route_class=PageRoute, include_in_schema=False)


class NoSuchAgency(CaseNotFound):
    """404 (as an unknown case): no case is addressed to this PPK."""

    def __init__(self, code: str):
        JejakError.__init__(self, f"no case is addressed to PPK {code!r}")  # not CaseNotFound's "no case X"


@router.get("/ppk/{code}", name="agency")
def agency(code: str, page: PageDep):
    cases = dashboard.agency_cases(page.read_side, code)
    if cases.empty:
        raise NoSuchAgency(code)
    states = (cases.groupby("state").agg(cases=("case_id", "size"), median_age_days=("age_days", "median"))
              .reset_index().sort_values(["cases", "state"], ascending=[False, True]).reset_index(drop=True))
    total = {"cases": len(cases), "open": int(cases["is_open"].sum())}
    if page.public:
        states = disclosure.withhold(states, "cases", ["median_age_days"], page.min_cases)
        if len(cases) < page.min_cases:
            total = {"cases": float("nan"), "open": float("nan")}
    listed = None if page.public else cases.sort_values(["is_open", "age_days"], ascending=[False, False])
    return page.render("agency.html", nav="ppk", code=code, name=agencies().name(code), states=states, total=total,
                       cases=listed)
