"""Audit tables for people: counts with thousands separators, rates as percentages, days to one decimal, times
in the local zone to the minute, a deadline due at midnight as "24:00" of the day before (its last day), and
a dash for a missing value. The data keep their raw values: this only shapes how a table is shown (the CLI's
text output, a notebook's pandas Styler); JSON, CSV and the DataFrames are unchanged."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

MISSING = "–"


def _is_rate(name: str) -> bool:
    return name.endswith("_rate") or name.startswith("share") or name.endswith("_share")


def _moment(zone, due: bool) -> Callable:
    def show(value) -> str:
        if pd.isna(value):
            return MISSING
        local = pd.Timestamp(value).tz_convert(zone) if pd.Timestamp(value).tzinfo else pd.Timestamp(value)
        if due and (local.hour, local.minute, local.second) == (0, 0, 0):
            return f"{local - pd.Timedelta(days=1):%Y-%m-%d} 24:00"  # due by the end of the day before
        return f"{local:%Y-%m-%d %H:%M}"
    return show


def column_formats(frame: pd.DataFrame, zone) -> dict[str, Callable]:
    """A formatter per column that needs one (by its type and name)."""
    formats: dict[str, Callable] = {}
    for name in frame.columns:
        series = frame[name]
        if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(series):
            formats[name] = _moment(zone, due=name == "due_at" or name.endswith("_due_at"))
        elif pd.api.types.is_bool_dtype(series):
            formats[name] = lambda v: MISSING if pd.isna(v) else ("yes" if v else "no")
        elif pd.api.types.is_integer_dtype(series):
            formats[name] = lambda v: MISSING if pd.isna(v) else f"{int(v):,}"
        elif pd.api.types.is_float_dtype(series):
            if _is_rate(name):
                formats[name] = lambda v: MISSING if pd.isna(v) else f"{v:.1%}"
            elif "days" in name:
                formats[name] = lambda v: MISSING if pd.isna(v) else f"{v:,.1f}"
            elif series.dropna().mod(1).eq(0).all():  # whole numbers held as floats (a count with gaps)
                formats[name] = lambda v: MISSING if pd.isna(v) else f"{v:,.0f}"
            else:
                formats[name] = lambda v: MISSING if pd.isna(v) else f"{v:,.3g}"
        else:
            formats[name] = lambda v: MISSING if v is None or (not isinstance(v, (list, dict)) and pd.isna(v)) \
                else str(v)
    return formats


def for_people(frame: pd.DataFrame, zone) -> pd.DataFrame:
    """The table as text, column by column (for `jejak audit`'s aligned output)."""
    formats = column_formats(frame, zone)
    return pd.DataFrame({name: [formats[name](v) for v in frame[name]] for name in frame.columns},
                        index=frame.index)


def styled(frame: pd.DataFrame, zone):
    """A pandas Styler showing the table for people; the frame (`.data`) keeps the raw values."""
    return frame.style.format(column_formats(frame, zone), na_rep=MISSING)
