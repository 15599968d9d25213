"""Open cases past their deadline (``/overdue``), as `audits.overdue` lists them: days overdue (working days
where the era's rule counts working days), who owes the next step, the era whose rule set the deadline.
Public: counted by who owes the step, era and deadline (the small-count rule applies); signed in: every case."""

from __future__ import annotations

from fastapi import APIRouter

from entrypoints.web import disclosure
from entrypoints.web.render import PageDep, PageRoute
from projections import audits
from workflow.definitions import get_era

router = APIRouter(route_class=PageRoute, include_in_schema=False)
LISTED = 500  # signed in: the most overdue cases listed on the page (all of them: the API's overdue audit)


def deadline_rule(era: str, deadline: str, settings):
    """The era's rule for a deadline (a `workflow.definitions.Deadline`), None if it has none by that name."""
    try:
        return settings.deadline(get_era(era), deadline)
    except Exception:  # noqa: BLE001 - an era or deadline this version does not know: no rule to show
        return None


def days_late(cases, rules: dict, settings, today) -> list[float]:
    """Each case's days overdue: working days (counted once per due date) where its rule counts them."""
    counted: dict = {}
    late = []
    for row in cases.itertuples():
        rule = rules[(row.era, row.deadline)]
        if rule is not None and rule.working_days:
            first = row.due_at.astimezone(settings.zone).date()  # due at midnight: the first day late
            if first not in counted:
                counted[first] = float(settings.working_days_between(first, today))
            late.append(counted[first])
        else:
            late.append(row.days_overdue)
    return late


@router.get("/overdue", name="overdue")
def overdue(page: PageDep):
    cases = audits.overdue(page.read_side)
    settings = page.server.app.settings
    today = page.server.app.clock().astimezone(settings.zone).date()
    rules = {key: deadline_rule(*key, settings) for key in
             cases[["era", "deadline"]].drop_duplicates().itertuples(index=False, name=None)}
    cases["late"] = days_late(cases, rules, settings, today)
    cases["rule"] = [rules[(e, d)].describe() if rules[(e, d)] else "" for e, d in zip(cases["era"], cases["deadline"])]
    if page.public:
        groups = (cases.groupby(["responsible", "era", "deadline", "rule"], observed=True)
                  .agg(cases=("case_id", "size"), median_days=("late", "median"), max_days=("late", "max"))
                  .reset_index().sort_values(["cases", "responsible"], ascending=[False, True]).reset_index(drop=True))
        groups = disclosure.withhold(groups, "cases", ["median_days", "max_days"], page.min_cases)
        return page.render("overdue.html", nav="overdue", groups=groups, cases=None, total=len(cases))
    return page.render("overdue.html", nav="overdue", groups=None, cases=cases.head(LISTED), total=len(cases),
                       listed=LISTED)
