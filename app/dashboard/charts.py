"""Small bar charts drawn on the server as SVG: no chart library, nothing for the CSP to refuse.

:func:`bar_chart` turns daily series into geometry; ``templates/dashboard/_chart.html``
draws it with CSS classes (colours live in static/css/app.css) and a data table for
screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 600, 180
LEFT, RIGHT, TOP, BOTTOM = 40, 24, 10, 24


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    day: date
    value: int


@dataclass(frozen=True)
class Tick:
    position: float
    label: str | date


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    days: list[date]
    series: list[tuple[str, list[int]]]
    baseline: float
    left: int

    @property
    def empty(self) -> bool:
        return not any(any(values) for _name, values in self.series)


def nice_top(value: float) -> int:
    """The smallest of 1, 2, 5 x 10^n not below ``value`` (a readable top of an axis; 1 for none)."""
    if value <= 0:
        return 1
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def bar_chart(days: list[date], series: list[tuple[str, list[int]]]) -> BarChart:
    """Stacked bars, one per day; ``series`` is [(name, values per day)], drawn bottom up."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [sum(values[i] for _name, values in series) for i in range(len(days))]
    top = nice_top(max(totals, default=0))
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.7, 1)
    baseline = TOP + plot_h
    bars = []
    for i, day in enumerate(days):
        stacked = 0
        for name, values in series:
            value = values[i]
            if value:
                height = plot_h * value / top
                y = baseline - plot_h * (stacked + value) / top
                bars.append(Bar(round(LEFT + i * slot + (slot - bar_w) / 2, 2), round(y, 2), round(bar_w, 2),
                                round(height, 2), name, day, value))
            stacked += value
    y_ticks = [Tick(round(baseline - plot_h * f, 2), str(int(top * f))) for f in (0, 0.5, 1)
               if f == 0 or top * f == int(top * f)]
    x_ticks = [Tick(round(LEFT + i * slot + slot / 2, 2), day) for i, day in enumerate(days)
               if i % 7 == (len(days) - 1) % 7]
    return BarChart(WIDTH, HEIGHT, bars, y_ticks, x_ticks, list(days), series, baseline, LEFT)
