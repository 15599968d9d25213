"""Provinces, regencies and cities by their Kemendagri codes, as they stand today and as they stood before.

Today's list is `idn-area-data`'s (``data/provinces.csv``, ``data/regencies.csv``); ``data/region_changes.csv``
adds the codes a change retired (Kabupaten Merauke was 91.01 in Papua until 25 Jul 2022, then 93.01 in Papua
Selatan) and the day each new region began. A region is named by its code (``52``, ``52.06``, or BPS's
``5206``) or by an alias made from its name (``prov-nusa-tenggara-barat``, ``kab-bima``, ``kota-mataram``),
plus those in ``data/region_aliases.csv`` (``prov-ntb``, ``kab-pangkep``). A province's first abbreviation, else
the name's alias, is the region's *alias*: the short stable code a report records beside the official one.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from functools import cache

from reference import DATA, UnknownCode

PREFIX = {"province": "prov-", "regency": "kab-", "city": "kota-"}
_BPS_CODE = re.compile(r"^\d{4}$")  # BPS writes 52.06 as 5206


@dataclass(frozen=True)
class Region:
    code: str  # Kemendagri: "52" (province) or "52.06" (regency or city)
    name: str  # official: "Nusa Tenggara Barat", "Kabupaten Bima"
    level: str  # province, regency or city
    aliases: tuple[str, ...]  # the first is the region's alias
    valid_from: date | None = None  # the day it began (None: before any change we record)
    valid_until: date | None = None  # the day it ended (exclusive); None: it still stands
    successor: str | None = None  # the code that replaced it

    @property
    def alias(self) -> str:
        return self.aliases[0]

    @property
    def province(self) -> str:
        return self.code[:2]

    def exists_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and \
            (self.valid_until is None or day < self.valid_until)

    def label(self) -> str:
        return f"{self.alias} ({self.name}, {self.code})"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _level_and_aliases(code: str, name: str, extra: list[str]) -> tuple[str, tuple[str, ...]]:
    if "." not in code:
        return "province", tuple(dict.fromkeys([*extra, PREFIX["province"] + slug(name)]))
    level = "regency" if name.startswith("Kabupaten") else "city"
    short = re.sub(r"^(Kabupaten|Kota)( Administrasi)? ", "", name)
    names = [PREFIX[level] + slug(short), PREFIX[level] + slug(name.split(" ", 1)[1])]
    return level, tuple(dict.fromkeys([*names, *extra]))  # a regency's alias is its name's


def _read(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


class Regions:
    """Every region of every period, indexed by code and by alias."""

    def __init__(self) -> None:
        extra = defaultdict(list)
        for row in _read("region_aliases.csv"):
            extra[row["code"]].append(row["alias"])
        changes = _read("region_changes.csv")
        began = {row["new_code"]: date.fromisoformat(row["date"]) for row in changes}
        regions = []
        for row in _read("provinces.csv") + _read("regencies.csv"):
            level, aliases = _level_and_aliases(row["code"], row["name"], extra[row["code"]])
            regions.append(Region(row["code"], row["name"], level, aliases, valid_from=began.get(row["code"])))
        for row in changes:
            if row["old_code"]:
                level, aliases = _level_and_aliases(row["old_code"], row["old_name"], extra[row["old_code"]])
                regions.append(Region(row["old_code"], row["old_name"], level, aliases,
                                      valid_until=date.fromisoformat(row["date"]), successor=row["new_code"]))
        self.by_code: dict[str, list[Region]] = defaultdict(list)
        self.by_alias: dict[str, list[Region]] = defaultdict(list)
        for region in regions:
            self.by_code[region.code].append(region)
            for alias in region.aliases:
                self.by_alias[alias].append(region)
        self.current = {r.code: r for r in regions if r.valid_until is None}

    def candidates(self, text: str) -> list[Region]:
        key = text.strip().lower()
        if _BPS_CODE.match(key):
            key = f"{key[:2]}.{key[2:]}"
        return self.by_code.get(key) or self.by_alias.get(key) or []

    def latest(self, text: str) -> Region | None:
        """The region `text` names today, else in its last period; None if it names none."""
        found = self.candidates(text) if isinstance(text, str) else []
        return next((r for r in found if r.valid_until is None), found[-1]) if found else None

    def resolve(self, text: str, levels: tuple[str, ...], on: date | None = None) -> Region:
        """The region `text` names on day `on` (None: today's, else the latest one), of one of these levels."""
        found = self.candidates(text) if isinstance(text, str) else []
        if not found:
            raise UnknownCode(f"unknown {_what(levels)} {text!r}{self._closest(text, levels)}", _allowed(levels))
        wrong = [r for r in found if r.level not in levels]
        if len(wrong) == len(found):
            raise UnknownCode(f"{text!r} is a {wrong[0].level} ({wrong[0].name}), not a {_what(levels)}",
                              _allowed(levels))
        found = [r for r in found if r.level in levels]
        if on is None:
            return next((r for r in found if r.valid_until is None), found[-1])
        for region in found:
            if region.exists_on(on):
                return region
        region = found[0]
        if region.valid_from is not None and on < region.valid_from:
            raise UnknownCode(f"{region.label()} did not exist on {on}: it began on {region.valid_from}")
        successor = self.today(region)
        raise UnknownCode(f"{region.label()} was retired on {region.valid_until}: on {on} it is "
                          f"{successor.label()}")

    def today(self, region: Region) -> Region:
        """The region as it stands today (itself, or the one that took its place)."""
        while region.successor is not None:
            region = self.current[region.successor]
        return region

    def province_of(self, region: Region) -> Region:
        """The province a region lay in while it existed (a province: itself)."""
        day = region.valid_from or (region.valid_until and date.fromordinal(region.valid_until.toordinal() - 1))
        choices = self.by_code[region.province]
        return next((p for p in choices if day is None or p.exists_on(day)), choices[-1])

    def _closest(self, text, levels: tuple[str, ...]) -> str:
        if not isinstance(text, str):
            return ""
        key = text.strip().lower()
        names = {alias: regions[-1] for alias, regions in self.by_alias.items() if regions[-1].level in levels}
        names.update({code: regions[-1] for code, regions in self.by_code.items() if regions[-1].level in levels})
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
        shown = [f"{c} ({names[c].name})" for c in close]
        return "; closest: " + ", ".join(shown) if shown else ""


def _what(levels: tuple[str, ...]) -> str:
    return "province" if levels == ("province",) else "regency or city" if "province" not in levels else "region"


def _allowed(levels: tuple[str, ...]) -> str:
    if levels == ("province",):
        return "a Kemendagri province code such as 52, or an alias such as prov-ntb"
    return "a Kemendagri code such as 52.06, or an alias such as kab-bima or kota-mataram"


@cache
def regions() -> Regions:
    """Read once per process."""
    return Regions()
