"""Regions and agencies on the read side: grouped by today's region, named officially.

A case keeps the region it was reported in (``province_reported``, ``regency_reported``: Kemendagri codes as
they stood on the report's date) and is grouped by the region as it stands today (``province``, ``regency``:
aliases; ``province_code``, ``regency_code``): a 2020 report from Kabupaten Merauke (91.01, Papua) counts in
Papua Selatan (93.01) today. Events recorded before the codes were checked carry aliases only; they are read
as of the report's date, and an alias that names nothing is kept as it was, without codes.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import pandas as pd

from reference.agencies import agencies
from reference.regions import Region, regions

NAMED = {"province": "region", "regency": "region", "agency": "agency", "ppk": "agency"}


def _on(text: str | None, code: str | None, day: date) -> Region | None:
    """The region an event names (by its recorded code, else its alias read on the report's day)."""
    found = regions().candidates(code or text) if isinstance(code or text, str) else []
    return next((r for r in found if r.exists_on(day)), found[-1] if found else None)


@lru_cache(maxsize=65536)
def region_columns(province: str, regency: str | None, province_code: str | None, regency_code: str | None,
                   day: date) -> dict[str, str | None]:
    every = regions()
    reported_province, reported_regency = _on(province, province_code, day), _on(regency, regency_code, day)
    today_regency = every.today(reported_regency) if reported_regency else None
    today_province = every.current.get(today_regency.province) if today_regency else \
        (every.today(reported_province) if reported_province else None)
    return {
        "province": today_province.alias if today_province else province,
        "regency": today_regency.alias if today_regency else regency,
        "province_code": today_province.code if today_province else None,
        "regency_code": today_regency.code if today_regency else None,
        "province_reported": reported_province.code if reported_province else province,
        "regency_reported": reported_regency.code if reported_regency else regency,
    }


@lru_cache(maxsize=65536)
def name(kind: str, code: str | None) -> str | None:
    """The official name of a region (as it stands today) or agency code; None if it names nothing."""
    if not isinstance(code, str):
        return None
    if kind == "agency":
        return agencies().name(code)
    found = regions().latest(code)
    return regions().today(found).name if found else None


def with_names(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with a ``<column>_name`` beside each region or agency column it has."""
    for column in [c for c in NAMED if c in frame.columns]:
        names = pd.Series([name(NAMED[column], code) for code in frame[column]], index=frame.index, dtype="str")
        frame.insert(frame.columns.get_loc(column) + 1, f"{column}_name", names)
    return frame
