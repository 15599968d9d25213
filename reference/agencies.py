"""Agencies (*instansi*) whose staffing authority (PPK) acts on a case, with their official names.

Regional governments are derived from the regions: ``pemprov-<province>``, ``pemkab-<regency>``,
``pemkot-<city>`` for each of the region's aliases and its code (``pemprov-ntb``, ``pemkab-52.06``), named
"Pemerintah Kabupaten Bima"; they exist while their region does (``pemkab-merauke`` through the 2022 split,
``pemprov-papua-selatan`` from it). Ministries (``kementerian-…``) and national agencies (``lembaga-…``) are
listed in ``data/agencies.csv`` with their source and, where the 2024 cabinet changed them, their dates.
"""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass
from datetime import date
from functools import cache

from reference import DATA, UnknownCode
from reference.regions import PREFIX, Region, regions

GOVERNMENT = {"province": ("pemprov-", "Pemerintah Provinsi "), "regency": ("pemkab-", "Pemerintah "),
              "city": ("pemkot-", "Pemerintah ")}
ALLOWED = ("pemprov-<province>, pemkab-<regency>, pemkot-<city> (e.g. pemkab-bima, pemkab-52.06), or a "
           "ministry or national agency: kementerian-…, lembaga-… (e.g. kementerian-agama, lembaga-bps)")


@dataclass(frozen=True)
class Agency:
    code: str  # its canonical code: pemkab-bima, kementerian-agama
    name: str
    periods: tuple[tuple[date | None, date | None], ...]  # (from, until-exclusive); None: open
    region: str | None = None  # a regional government's region code (today's)

    def exists_on(self, day: date) -> bool:
        return any((start is None or start <= day) and (end is None or day < end) for start, end in self.periods)


def _government(region: Region, alias: str) -> str:
    return GOVERNMENT[region.level][0] + alias.removeprefix(PREFIX[region.level])


class Agencies:
    def __init__(self) -> None:
        self.by_code: dict[str, Agency] = {}
        self.names: dict[str, Agency] = {}  # every accepted spelling
        every = regions()
        for code, versions in every.by_code.items():
            for region in versions:
                today = every.today(region)
                canonical = _government(today, today.alias)
                known = self.by_code.get(canonical)
                periods = (known.periods if known else ()) + ((region.valid_from, region.valid_until),)
                name = GOVERNMENT[today.level][1] + today.name
                agency = Agency(canonical, name, periods, today.code)
                self.by_code[canonical] = agency
                for alias in (*region.aliases, *today.aliases, region.code, today.code):
                    self.names[_government(region, alias)] = canonical
        with (DATA / "agencies.csv").open(encoding="utf-8", newline="") as file:
            for row in csv.DictReader(file):
                start, end = (date.fromisoformat(row[k]) if row[k] else None for k in ("valid_from", "valid_until"))
                self.by_code[row["code"]] = Agency(row["code"], row["name"], ((start, end),))
                self.names[row["code"]] = row["code"]

    def resolve(self, text: str, on: date | None = None) -> Agency:
        """The agency `text` names, existing on day `on` (None: on any day)."""
        key = text.strip().lower() if isinstance(text, str) else ""
        canonical = self.names.get(key)
        if canonical is None:
            raise UnknownCode(f"unknown agency {text!r}{self._closest(key)}", ALLOWED)
        agency = self.by_code[canonical]
        if on is not None and not agency.exists_on(on):
            starts = [s for s, _ in agency.periods if s is not None and s > on]
            when = f"it began on {min(starts)}" if starts else \
                f"it ended on {max(e for _, e in agency.periods if e is not None)}"
            raise UnknownCode(f"{agency.code} ({agency.name}) did not exist on {on}: {when}")
        return agency

    def name(self, code: str | None) -> str | None:
        """The official name of an agency code (any accepted spelling), None if unknown."""
        canonical = self.names.get(code) if isinstance(code, str) else None
        return self.by_code[canonical].name if canonical else None

    def _closest(self, key: str) -> str:
        close = difflib.get_close_matches(key, self.names, n=3, cutoff=0.6)
        shown = list(dict.fromkeys(f"{c} ({self.by_code[self.names[c]].name})" for c in close))
        return "; closest: " + ", ".join(shown) if shown else ""


@cache
def agencies() -> Agencies:
    """Read once per process."""
    return Agencies()
