"""Geometry of the inline SVG charts (drawn by the templates; no script, nothing fetched): the funnel's bars
and the cumulative curve's lines, ticks and labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 12, 36


@dataclass
class Curve:
    width: int = WIDTH
    height: int = HEIGHT
    lines: dict[str, str] = field(default_factory=dict)  # series -> SVG polyline points
    x_ticks: list[tuple[float, date]] = field(default_factory=list)
    y_ticks: list[tuple[float, int]] = field(default_factory=list)
    plot: tuple[int, int, int, int] = (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)


def nice_step(top: float, ticks: int = 5) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving about `ticks` ticks up to `top`."""
    raw = max(top / ticks, 1)
    power = 10 ** (len(str(int(raw))) - 1)
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def curve(days: list[date], series: dict[str, list[float]]) -> Curve:
    """Cumulative counts (one list per series, one value per day) scaled into the plot area."""
    chart = Curve()
    x0, y0, x1, y1 = chart.plot
    if not days:
        return chart
    top = max([max(values, default=0) for values in series.values()] + [1])
    step = nice_step(top)
    top = -(-top // step) * step
    first, span = days[0], max((days[-1] - days[0]).days, 1)

    def x(day: date) -> float:
        return round(x0 + (x1 - x0) * (day - first).days / span, 1)

    def y(value: float) -> float:
        return round(y1 - (y1 - y0) * value / top, 1)

    for name, values in series.items():
        chart.lines[name] = " ".join(f"{x(day)},{y(value)}" for day, value in zip(days, values))
    chart.y_ticks = [(y(value), value) for value in range(0, int(top) + 1, step)]
    months = sorted({d.replace(day=1) for d in days if d.replace(day=1) >= first})
    shown = months[:: max(1, len(months) // 6)]
    chart.x_ticks = [(x(month), month) for month in shown]
    return chart


def bars(values: list[float], width: int = 480) -> list[float]:
    """Bar lengths for the funnel, the first (largest) step filling `width`."""
    top = max([v for v in values if v == v] + [1])
    return [round(width * (v if v == v else 0) / top, 1) for v in values]
