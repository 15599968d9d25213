"""The PPK league table (``/ppk``): one row per PPK, named as the reference data names its agency —
recommendations received, followed up, follow-up rate, median days to follow-up, open overdue, blocked —
filtered by election, province and era, sorted by any column (links and a GET form: no script needed), and
``/ppk.csv``: exactly the rows shown.

A filtered table is `audits.responsiveness` grouped by the filters' columns and the PPK, keeping the rows of
the chosen values: the same numbers as ``GET /api/v1/audits/responsiveness?by=…&by=ppk``."""

from __future__ import annotations

import pandas as pd
from fastapi import APIRouter, Response

from entrypoints.web import disclosure
from entrypoints.web.render import PageDep, PageRoute
from projections import audits, dashboard
from workflow.errors import InvalidField

router = APIRouter(route_class=PageRoute, include_in_schema=False)
FILTERS = ("election", "province", "era")
COLUMNS = ("ppk", "received", "followed_up", "follow_up_rate", "median_days", "overdue", "blocked")
FIGURES = [c for c in COLUMNS if c != "ppk"]
SHOWN = ["ppk", "ppk_name", *FIGURES]  # the rows' columns, on the page and in the CSV
DEFAULT_SORT = ("follow_up_rate", "asc")  # the least responsive first


def league_rows(page, filters: dict, sort: str | None, direction: str | None, options: dict | None = None
                ) -> tuple[pd.DataFrame, tuple]:
    """The rows shown, in order, after the public rule, and the (column, direction) they are sorted by.
    `options`: each filter's values (read here when not given)."""
    sort, direction = sort or DEFAULT_SORT[0], direction or DEFAULT_SORT[1]
    if sort not in COLUMNS:
        raise InvalidField("sort", f"cannot sort by {sort!r}", allowed=COLUMNS)
    if direction not in ("asc", "desc"):
        raise InvalidField("dir", f"not a direction: {direction!r}", allowed=("asc", "desc"))
    chosen = {name: value for name, value in filters.items() if value}
    rs = page.read_side
    options = options or dashboard.choice_sets(rs, list(FILTERS), recommended_only=True)
    for name, value in chosen.items():
        if value not in options[name]:
            raise InvalidField(name, f"no recommendation has {name} {value!r}")
    table = audits.responsiveness(rs, by=[*chosen, "ppk"])
    for name, value in chosen.items():
        table = table[table[name] == value]
    table = table[SHOWN].reset_index(drop=True)
    table["ppk_name"] = table["ppk_name"].fillna("")  # a code the reference data does not know: shown as it is
    if page.public:
        table = disclosure.withhold(table, "received", FIGURES, page.min_cases)
    else:
        table["withheld"] = False
    table = table.sort_values([sort, "ppk"], ascending=[direction == "asc", True], na_position="last",
                              kind="stable").reset_index(drop=True)
    return table, (sort, direction)


def _filters(election, province, era) -> dict:
    return {"election": election, "province": province, "era": era}


@router.get("/ppk", name="league")
def league(page: PageDep, election: str | None = None, province: str | None = None, era: str | None = None,
           sort: str | None = None, dir: str | None = None):
    filters = _filters(election, province, era)
    options = dashboard.choice_sets(page.read_side, list(FILTERS), recommended_only=True)
    rows, (sort, direction) = league_rows(page, filters, sort, dir, options)
    return page.render("league.html", nav="ppk", rows=rows, filters=filters, options=options, sort=sort,
                       direction=direction, columns=COLUMNS)


@router.get("/ppk.csv", name="league_csv")
def league_csv(page: PageDep, election: str | None = None, province: str | None = None, era: str | None = None,
               sort: str | None = None, dir: str | None = None):
    rows, _ = league_rows(page, _filters(election, province, era), sort, dir)
    out = rows[SHOWN].copy()
    if page.public:  # a withheld row says so instead of leaving empty cells to guess at
        out[FIGURES] = out[FIGURES].astype(object).where(~rows["withheld"], f"<{page.min_cases}")
    return Response(out.to_csv(index=False), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="ppk.csv"'})
