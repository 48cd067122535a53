"""Figures of a load run from the locustfile's response samples and the resource samples:
percentiles per kind of request and per step, error timelines, and the step-load plot (SVG)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

KINDS = ("page", "api", "sign-in")


def read_samples(directory: Path) -> list[tuple[str, float, float, bool]]:
    """Every (kind, epoch seconds, milliseconds, failed) written by the worker processes."""
    rows: list = []
    for path in sorted(directory.glob("samples-*.json")):
        rows.extend(tuple(row) for row in json.loads(path.read_text()))
    rows.sort(key=lambda row: row[1])
    return rows


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(rows: list, start: float, end: float) -> dict:
    """Requests, errors, requests/s and p50/p95 (ms), overall and per kind, for samples in [start, end)."""
    window = [row for row in rows if start <= row[1] < end]
    seconds = max(end - start, 1e-9)
    result = {"requests": len(window), "errors": sum(1 for row in window if row[3]),
              "rps": round(len(window) / seconds, 1)}
    every = [row[2] for row in window]
    result["p50"], result["p95"] = round(percentile(every, 0.5)), round(percentile(every, 0.95))
    for kind in KINDS:
        times = [row[2] for row in window if row[0] == kind]
        result[kind] = {"requests": len(times), "p50": round(percentile(times, 0.5)) if times else None,
                        "p95": round(percentile(times, 0.95)) if times else None,
                        "errors": sum(1 for row in window if row[0] == kind and row[3])}
    return result


def recovery(rows: list, fault_at: float, horizon: float) -> dict:
    """Errors after a fault (within ``horizon`` s) and the seconds from the fault to the last of them."""
    after = [row for row in rows if fault_at <= row[1] < fault_at + horizon]
    before = [row[2] for row in rows if fault_at - horizon <= row[1] < fault_at]
    failed = [row for row in after if row[3]]
    return {"errors": len(failed), "requests": len(after),
            "recovered_after_s": round(failed[-1][1] - fault_at, 1) if failed else 0.0,
            "p95_before_ms": round(percentile(before, 0.95)) if before else None,
            "p95_after_ms": round(percentile([row[2] for row in after], 0.95)) if after else None}


def step_plot(steps: list[dict], title: str) -> str:
    """An SVG line chart: users on the x axis; p50 and p95 (ms, left axis), requests/s and errors
    (right axis). Small on purpose: no plotting library in the project."""
    width, height, left, right, top, bottom = 720, 400, 60, 60, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    users = [s["users"] for s in steps]
    max_users = max(users) or 1
    max_ms = max([s["p95"] for s in steps] + [1]) * 1.1
    max_rps = max([s["rps"] for s in steps] + [s["errors"] for s in steps] + [1]) * 1.1

    def x(u):
        return left + plot_w * u / max_users

    def y(value, top_value):
        return top + plot_h * (1 - value / top_value)

    def line(key, top_value, colour, dash=""):
        points = " ".join(f"{x(s['users']):.1f},{y(s[key], top_value):.1f}" for s in steps)
        marks = "".join(f'<circle cx="{x(s["users"]):.1f}" cy="{y(s[key], top_value):.1f}" r="3" fill="{colour}"/>'
                        for s in steps)
        return (f'<polyline fill="none" stroke="{colour}" stroke-width="2" {dash} points="{points}"/>' + marks)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>',
             f'<line x1="{left + plot_w}" y1="{top}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>']
    for i in range(5):
        frac = i / 4
        parts.append(f'<text x="{left - 5}" y="{top + plot_h * (1 - frac) + 4:.1f}" text-anchor="end">'
                     f'{max_ms * frac:.0f}</text>')
        parts.append(f'<text x="{left + plot_w + 5}" y="{top + plot_h * (1 - frac) + 4:.1f}">'
                     f'{max_rps * frac:.0f}</text>')
    for s in steps:
        parts.append(f'<text x="{x(s["users"]):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{s["users"]}</text>')
    parts += [f'<text x="{left + plot_w / 2}" y="{height - 10}" text-anchor="middle">simulated users</text>',
              f'<text x="15" y="{top + plot_h / 2}" transform="rotate(-90 15 {top + plot_h / 2})" '
              'text-anchor="middle">milliseconds</text>',
              f'<text x="{width - 12}" y="{top + plot_h / 2}" transform="rotate(90 {width - 12} {top + plot_h / 2})" '
              'text-anchor="middle">requests/s, errors</text>',
              line("p50", max_ms, "#1f77b4"), line("p95", max_ms, "#d62728"),
              line("rps", max_rps, "#2ca02c", 'stroke-dasharray="6 4"'),
              line("errors", max_rps, "#7f7f7f", 'stroke-dasharray="2 3"')]
    legend = (("p50 (ms)", "#1f77b4"), ("p95 (ms)", "#d62728"), ("requests/s", "#2ca02c"), ("errors", "#7f7f7f"))
    for i, (label, colour) in enumerate(legend):
        parts.append(f'<rect x="{left + 10 + i * 120}" y="{top + 5}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{left + 26 + i * 120}" y="{top + 15}">{label}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
