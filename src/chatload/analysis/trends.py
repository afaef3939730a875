"""A run's drift and the server's resources, from its files: the report's part.

The points are those the run judged: the report replays the run's own drift feed
(``records.drift_feed``) over its files (``analysis.replay``): each metric's
interval p50, p99 and failure ratio, each generator process's RSS and loop lag,
each scraped server series, all from the running phase only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

from chatload.analysis.html import cell
from chatload.analysis.plots import empty_axis, plt, save
from chatload.drift import (
    DRIFT_COLUMNS,
    SERVER_CPU,
    SERVER_OPEN_FILES,
    SERVER_RSS,
    DriftSeries,
    ServerPoints,
    Subject,
    Trend,
    drift_rows,
)

if TYPE_CHECKING:
    from chatload.analysis.inputs import RunData

__all__ = ["drift_plot", "drift_series", "drift_table", "server_plot"]

# The server series a report draws when they were scraped (the process metrics
# prom-client, prometheus_client and Micrometer all export).
_SERVER_PANELS: Final = (
    (SERVER_CPU, "CPU %", 100.0),
    (SERVER_RSS, "RSS (MiB)", 1 / (1 << 20)),
    (SERVER_OPEN_FILES, "open files", 1.0),
)


def drift_series(run: RunData) -> DriftSeries:
    """The drift points of a run as it judged them, from its files (``analysis.replay``)."""
    from chatload.analysis.replay import replay

    return replay(run).drift.series


def drift_table(
    series: DriftSeries, horizon_hours: float, trends: Mapping[Subject, Trend | None]
) -> str:
    rows = drift_rows(series, horizon_hours, trends)
    if not rows:
        return "<p class='note'>No running intervals: nothing to judge a drift on.</p>"
    shown = ("subject", "slope_per_h", "ci_low_per_h", "ci_high_per_h", "unit", "projected")
    head = "".join(f"<th>{escape(name)}</th>" for name in (*shown, "verdict", "whose"))
    body = []
    for row in rows:
        values = dict(zip(DRIFT_COLUMNS, row, strict=True))
        css = "fail" if values["verdict"] == "rising" else ""
        body.append(
            "<tr>"
            + cell(values["subject"], "left")
            + "".join(cell(values[name]) for name in shown[1:])
            + cell(values["verdict"], css)
            + cell(values["whose"])
            + "</tr>"
        )
    return (
        f"<table><tr>{head}</tr>{''.join(body)}</table><p class='note'>Theil-Sen slopes per "
        "hour over the running phase with their 99 % interval; rising means the whole "
        f"interval is above zero. Projected: the trend's value {horizon_hours:g} h after the "
        "run's end (--soak-horizon). A latency that rises while the generator's loop lag "
        "rises too may be the generator's.</p>"
    )


def _shown_unit(subject: Subject) -> str:
    return "MiB" if subject.unit == "bytes" else subject.unit or "value"


def _panels(series: DriftSeries, wanted: list[str]) -> list[tuple[str, list[Subject]]]:
    """Each metric's p50 and p99 together; the generator's and the server's series
    that the run's SLOs name or that rose."""
    panels: dict[str, list[Subject]] = defaultdict(list)
    for subject in sorted(series.points):
        if subject.kind == "metric" and subject.statistic in ("p50", "p99"):
            panels[f"{subject.name} (ms)"].append(subject)
        elif subject.kind == "generator":
            panels[f"generator {subject.name} ({_shown_unit(subject)})"].append(subject)
        elif any(subject.name.startswith(name) for name in wanted):
            panels[f"server {subject.name} ({_shown_unit(subject)})"].append(subject)
    return list(panels.items())


def drift_plot(
    series: DriftSeries,
    path: Path,
    trends: Mapping[Subject, Trend | None],
    server_series: list[str] | None = None,
) -> Path | None:
    """Each subject's running-phase points and its trend line."""
    wanted = [name for name, _, _ in _SERVER_PANELS] + list(server_series or [])
    panels = _panels(series, wanted)
    if not panels:
        return None
    columns = 3
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(13, 2.8 * rows), squeeze=False)
    origin = min(points[0][0] for points in series.points.values())
    for axis, (title, subjects) in zip(axes.flat, panels, strict=False):
        axis.set_title(title, fontsize=9)
        for subject in subjects:
            points = series.points[subject]
            scale = 1 / (1 << 20) if subject.unit == "bytes" else 1.0
            x = (np.array([p[0] for p in points]) - origin) / 60
            y = np.array([p[1] for p in points]) * scale
            label = subject.statistic or subject.source
            line = axis.plot(x, y, ".", ms=2.5, alpha=0.6, label=label)[0]
            trend = trends.get(subject)
            if trend is not None:
                _draw_trend(axis, trend, origin, scale, line.get_color())
        axis.grid(True, alpha=0.3)
        axis.tick_params(labelsize=8)
        axis.legend(fontsize=7, loc="upper left")
    for axis in axes.flat[len(panels) :]:
        axis.set_visible(False)
    for axis in axes[-1]:
        axis.set_xlabel("minutes into the running phase", fontsize=8)
    figure.suptitle("Drift: running-phase points and Theil-Sen trend lines")
    return save(figure, path)


def _draw_trend(axis: object, trend: Trend, origin: float, scale: float, color: str) -> None:
    x = np.array([trend.first, trend.last])
    y = np.array([trend.at(trend.first), trend.at(trend.last)]) * scale
    axis.plot((x - origin) / 60, y, "-", color=color, lw=1.5)  # type: ignore[attr-defined]


def server_plot(run: RunData, path: Path) -> Path | None:
    """The server's CPU %, RSS and open files over the run, from --server-metrics."""
    if not run.server_samples:
        return None
    figure, axes = plt.subplots(len(_SERVER_PANELS), 1, figsize=(12, 7), sharex=True)
    points = ServerPoints()
    drawn: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for wall, url, name, labels, value in run.server_samples:
        point = points.point(url, name, labels, wall, value)
        if point is not None and not labels:
            drawn[(point[0].name, url)].append((wall, point[1]))
    for axis, (name, label, scale) in zip(axes, _SERVER_PANELS, strict=True):
        lines = [(url, values) for (series, url), values in sorted(drawn.items()) if series == name]
        if not lines:
            empty_axis(axis, f"{name} was not scraped")
            continue
        for url, values in lines:
            x = (np.array([v[0] for v in values]) - run.start) / 60
            axis.plot(x, np.array([v[1] for v in values]) * scale, lw=1.2, label=url)
        axis.set_ylabel(label)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel("minutes into the run")
    figure.suptitle("The server's own resources (--server-metrics)")
    return save(figure, path)
