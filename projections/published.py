"""A store's cumulative curve beside published figures (notebook 03 and the demo's calibration): for each
published date, the store's count of reported, recommended and followed-up cases by the end of that day, the
published count scaled to the store's size, and the relative difference."""

from __future__ import annotations

import pandas as pd

from projections.audits import funnel

STEPS = ("reported", "recommended", "sanctioned")


def compare_curve(source, election: str, points, scale: float = 1.0, recorded: bool = False) -> pd.DataFrame:
    """`points`: (date, reported, recommended, sanctioned) as published. One row per date and step: ``date``,
    ``step``, ``published`` (times `scale`, rounded), ``store``, ``difference`` (store / published - 1)."""
    points = list(points)
    counts = funnel(source, by="election", as_of=[day for day, *_ in points], recorded=recorded)
    counts = counts[counts["election"] == election].set_index("as_of")
    rows = []
    for day, *values in points:
        ours = counts.loc[day if isinstance(day, str) else day.isoformat()]
        for step, value in zip(STEPS, values):
            published = value * scale
            rows.append({"date": day, "step": step, "published": round(published), "store": int(ours[step]),
                         "difference": ours[step] / published - 1 if published else float("nan")})
    return pd.DataFrame(rows)
