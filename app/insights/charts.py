"""Server-drawn SVG charts for periods of any length (7 to 366 points): bars for one series and,
optionally, a line for a second one on its own scale. Like the dashboard's charts
(app/dashboard/charts.py) they are geometry only; ``templates/insights/_chart.html`` draws them
with CSS classes and puts the figures in a table beside them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from app.dashboard.charts import nice_top

WEEKLY_AFTER = 90  # a chart of a longer period of days draws one bar per ISO week
WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 56, 10, 24
X_LABELS = 6


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: date
    value: int


@dataclass(frozen=True)
class Tick:
    position: float
    value: int | date


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int
    baseline: float
    bars: list[Bar]
    line: str  # SVG polyline points ("" without a line)
    y_ticks: list[Tick]
    line_ticks: list[Tick]
    x_ticks: list[Tick]
    per_week: bool = False  # each bar sums an ISO week (labelled by its first day in the period)

    @property
    def empty(self) -> bool:
        return not self.bars and not self.line


def _ticks(top: int, baseline: float, plot_h: float) -> list[Tick]:
    return [Tick(round(baseline - plot_h * f, 2), int(top * f)) for f in (0, 0.5, 1) if top * f == int(top * f)]


def by_week(labels: list[date], *series: list[int]) -> tuple[list[date], list[list[int]]]:
    """Each series summed per ISO week (Monday to Sunday), labelled by the week's first day in
    ``labels`` (the first and last weeks of a period may be partial)."""
    weeks: list[date] = []
    sums: list[list[int]] = [[] for _ in series]
    current = None
    for i, label in enumerate(labels):
        monday = label - timedelta(days=label.weekday())
        if monday != current:
            current = monday
            weeks.append(label)
            for total in sums:
                total.append(0)
        for total, values in zip(sums, series, strict=True):
            total[-1] += values[i]
    return weeks, sums


def daily_chart(days: list[date], bars: list[int], line: list[int] | None = None) -> Chart:
    """:func:`chart` of a value per day; over ``WEEKLY_AFTER`` days, of the sums per ISO week."""
    if len(days) <= WEEKLY_AFTER:
        return chart(days, bars, line)
    if line is None:
        weeks, (week_bars,) = by_week(days, bars)
        return chart(weeks, week_bars, per_week=True)
    weeks, (week_bars, week_line) = by_week(days, bars, line)
    return chart(weeks, week_bars, week_line, per_week=True)


def chart(labels: list[date], bars: list[int], line: list[int] | None = None, per_week: bool = False) -> Chart:
    """Bars of ``bars`` per label and, when given, a line of ``line`` on a right-hand scale."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_h
    slot = plot_w / max(len(labels), 1)
    width = max(slot * 0.75, 0.5)
    top = nice_top(max(bars, default=0) or 1)
    drawn = [Bar(round(LEFT + i * slot + (slot - width) / 2, 2), round(baseline - plot_h * v / top, 2),
                 round(width, 2), round(plot_h * v / top, 2), labels[i], v) for i, v in enumerate(bars) if v]
    points, line_ticks = "", []
    if line is not None and any(line):
        line_top = nice_top(max(line))
        points = " ".join(f"{round(LEFT + i * slot + slot / 2, 2)},{round(baseline - plot_h * v / line_top, 2)}"
                          for i, v in enumerate(line))
        line_ticks = _ticks(line_top, baseline, plot_h)
    step = max(1, -(-len(labels) // X_LABELS))
    x_ticks = [Tick(round(LEFT + i * slot + slot / 2, 2), label) for i, label in enumerate(labels)
               if (len(labels) - 1 - i) % step == 0]
    return Chart(WIDTH, HEIGHT, LEFT, RIGHT, baseline, drawn, points, _ticks(top, baseline, plot_h), line_ticks,
                 x_ticks, per_week)
