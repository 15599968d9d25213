"""Region, agency and election codes, checked against the official reference data (package `reference`).

A report's codes are checked as they stood on its date (a 2020 report in Kabupaten Merauke names Papua, 91.01;
a 2024 one Papua Selatan, 93.01) and recorded in their canonical form: the region's alias and its Kemendagri
code, the agency's canonical code. Actors' scopes are checked against every period (a Bawaslu of a region that
changed still acts on the cases it had) and compared in canonical form.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from reference import UnknownCode
from reference.agencies import agencies
from reference.elections import Election, calendar
from reference.regions import Region, regions
from workflow.errors import InvalidField

PROVINCE = ("province",)
REGENCY = ("regency", "city")
ANY_REGION = ("province", "regency", "city")


def region(text: Any, name: str, levels: tuple[str, ...], on: date | None = None, allowed: str | None = None
           ) -> Region:
    try:
        return regions().resolve(text, levels, on)
    except UnknownCode as error:
        raise InvalidField(name, error.problem, allowed or error.allowed or None) from None


def report_region(province: Any, regency: Any, on: date) -> dict[str, str | None]:
    """The report's region as it stood on its date: aliases and Kemendagri codes; the regency must lie in
    the province."""
    prov = region(province, "province", PROVINCE, on)
    reg = region(regency, "regency", REGENCY, on) if regency else None
    if reg is not None and reg.province != prov.code:
        where = regions().province_of(reg)
        raise InvalidField("regency", f"{reg.label()} lies in {where.label()}, not in {prov.label()} (on {on})")
    return {"province": prov.alias, "regency": reg.alias if reg else None,
            "province_code": prov.code, "regency_code": reg.code if reg else None}


def province_on(regency: Any, on: date) -> str:
    """The alias of the province a regency (code or alias) lay in on that day."""
    reg = region(regency, "regency", REGENCY, on)
    return region(reg.province, "province", PROVINCE, on).alias


def agency(text: Any, name: str = "agency", on: date | None = None) -> str:
    """The canonical code of the agency `text` names (existing on `on`, if given)."""
    try:
        return agencies().resolve(text, on).code
    except UnknownCode as error:
        raise InvalidField(name, error.problem, error.allowed or None) from None


def election(text: Any, elections_file: Path | None = None) -> Election:
    """The election `text` names in the calendar (the shipped one, or the file ``JEJAK_ELECTIONS_FILE`` names)."""
    try:
        return calendar(elections_file).resolve(text)
    except UnknownCode as error:
        raise InvalidField("election", error.problem, error.allowed or None) from None


@lru_cache(maxsize=4096)
def canonical_region(text: str) -> str:
    """A region code or alias in its canonical form (the alias of its latest period); unknown text as it is
    (an old store may hold codes nobody checked)."""
    found = regions().latest(text)
    return found.alias if found else text


@lru_cache(maxsize=4096)
def current_province(regency: str | None) -> str | None:
    """The alias of the province a regency (code or alias) lies in today."""
    found = regions().latest(regency)
    if found is None:
        return None
    today = regions().today(found)
    return regions().current[today.province].alias


@lru_cache(maxsize=4096)
def canonical_agency(text: str) -> str:
    canonical = agencies().names.get(text) if isinstance(text, str) else None
    return canonical or text
