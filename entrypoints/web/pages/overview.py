"""The overview (``/``): an election's funnel (reported → registered → forwarded → recommended → followed
up) with counts and shares, and its cumulative curve, both as they stood on an "as of" date."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from entrypoints.web import charts, disclosure
from entrypoints.web.render import PageDep, PageRoute
from projections import audits, dashboard
from workflow.errors import InvalidField

router = APIRouter(route_class=PageRoute, include_in_schema=False)
STEPS = audits.FUNNEL_STEPS
CURVE = ("reported", "recommended", "sanctioned")


def as_of_date(text: str | None, source) -> date | None:
    """An "as of" date (YYYY-MM-DD), checked as the audits check one; None for "now"."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidField("as_of", f"not a date: {text!r}", allowed="YYYY-MM-DD") from None
    audits._cutoff(source, day, "as_of")  # within the accepted dates: from JEJAK_EARLIEST_DATE to today
    return day


def chosen_election(page, election: str | None) -> tuple[str | None, list[str]]:
    names = dashboard.elections(page.read_side)
    if election and election not in names:
        raise InvalidField("election", f"no cases of election {election!r} in this store", allowed=names or "none")
    return (election or (names[0] if names else None)), names


@router.get("/", name="overview")
def overview(page: PageDep, election: str | None = None, as_of: str | None = None):
    rs = page.read_side
    election, names = chosen_election(page, election)
    day = as_of_date(as_of, rs)
    steps, curve, chart = [], None, None
    if election:
        counts = audits.funnel(rs, by="election", as_of=[day] if day else None)
        row = counts[counts["election"] == election][list(STEPS)]
        if page.public:
            row = disclosure.withhold(row, "reported", list(STEPS), page.min_cases)
        values = row.iloc[0] if len(row) else None
        reported = values["reported"] if values is not None else 0
        lengths = charts.bars([values[s] if values is not None else 0 for s in STEPS])
        for step, length in zip(STEPS, lengths):
            count = values[step] if values is not None else 0
            steps.append({"step": step, "count": count, "share": count / reported if reported == reported and
                          reported else float("nan"), "length": length})
        curve = dashboard.cumulative_curve(rs, election, until=day)
        if page.public and len(curve):
            curve = disclosure.withhold(curve, "reported", list(STEPS), page.min_cases)
        shown = curve.dropna(subset=list(CURVE)) if len(curve) else curve
        chart = charts.curve(list(shown["as_of"]), {s: list(shown[s]) for s in CURVE})
    return page.render("overview.html", nav="overview", election=election, elections=names, as_of=day,
                       steps=steps, curve=curve, chart=chart, withheld=any(s["count"] != s["count"] for s in steps))
