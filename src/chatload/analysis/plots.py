"""The report's pictures, one PNG each (matplotlib, no display needed)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import matplotlib

matplotlib.use("Agg")  # files only: no screen on a CI runner
import matplotlib.pyplot as plt
import numpy as np
from hdrh.histogram import HdrHistogram
from matplotlib.ticker import FuncFormatter

from chatload.records.hdr import percentiles, value_buckets
from chatload.tracking.metrics import METRICS

if TYPE_CHECKING:
    from chatload.analysis.capacity import Capacity
    from chatload.analysis.inputs import RunData

__all__ = [
    "capacity_plot",
    "distribution_plot",
    "empty_axis",
    "failures_plot",
    "health_plot",
    "invariants_plot",
    "latency_plot",
    "log_scale",
    "plt",
    "save",
    "throughput_plot",
]

_DPI: Final = 100
_COLORS: Final = {"p50": "#1f77b4", "p95": "#ff7f0e", "p99": "#d62728"}


_MAX_POINTS: Final = 2000  # per line: a day at one-second intervals is 86,400


class _Clock:
    """Times as seconds, minutes or hours into the run, whichever reads best."""

    def __init__(self, run: RunData) -> None:
        self.origin = run.start
        length = run.end - run.start
        name, self.unit = (
            ("seconds", 1.0)
            if length <= 180
            else ("minutes", 60.0)
            if length <= 3 * 3600
            else ("hours", 3600.0)
        )
        self.label = f"{name} into the run"

    def __call__(self, times: Iterable[float]) -> np.ndarray:
        return (np.fromiter(times, dtype=np.float64) - self.origin) / self.unit


def _thin(x: np.ndarray, y: np.ndarray, keep: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """At most _MAX_POINTS points, each standing for a run of neighbours: their
    mean, or their max so that a spike stays visible however long the run."""
    if len(x) <= _MAX_POINTS:
        return x, y
    size = -(-len(x) // _MAX_POINTS)
    starts = np.arange(0, len(x), size)
    if keep == "max":
        return x[starts], np.maximum.reduceat(y, starts)
    lengths = np.diff(np.append(starts, len(x)))
    return x[starts], np.add.reduceat(y, starts) / lengths


def _spans(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Touching spans joined, so a long saturated stretch is one shaded area."""
    joined: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if joined and start <= joined[-1][1] + 1e-6:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def log_scale(axis: Any, which: str = "y") -> None:
    """A log axis labelled 0.5, 2, 100 rather than 5x10^-1, 2x10^0, 10^2."""
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    target = axis.yaxis if which == "y" else axis.xaxis
    (axis.set_yscale if which == "y" else axis.set_xscale)("log")
    target.set_major_formatter(plain)
    target.set_minor_formatter(FuncFormatter(_minor_label))


def _minor_label(value: float, _: Any) -> str:
    """Only 2 and 5 of each decade, so that labels do not overlap."""
    mantissa = round(value / 10 ** np.floor(np.log10(value)), 6)
    return f"{value:g}" if mantissa in (2.0, 5.0) else ""


def _markers(points: int) -> dict[str, Any]:
    """A few points need markers: one point alone draws no line."""
    return {"marker": "o", "ms": 3} if points < 40 else {}


def save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI)
    plt.close(figure)
    return path


def _shade_saturated(axis: Any, run: RunData, clock: _Clock) -> None:
    # A minute in a day is under a pixel wide: each stretch is drawn at least 0.4 %
    # of the run wide, so that none goes unseen.
    least = 0.004 * (run.end - run.start) / clock.unit
    for start, end in _spans(run.saturated):
        low, high = clock((start, end))
        middle, half = (low + high) / 2, max(high - low, least) / 2
        axis.axvspan(middle - half, middle + half, color="0.8", lw=0)


def empty_axis(axis: Any, text: str) -> None:
    axis.text(0.5, 0.5, text, ha="center", va="center", transform=axis.transAxes, color="0.4")
    axis.set_xticks([])
    axis.set_yticks([])


def latency_plot(run: RunData, path: Path) -> Path:
    """p50, p95 and p99 of every metric over time, generator saturation shaded."""
    clock = _Clock(run)
    figure, axes = plt.subplots(4, 2, figsize=(12, 12), sharex=True)
    for axis, metric in zip(axes.flat, METRICS, strict=True):
        series = run.series.get(metric)
        axis.set_title(metric)
        if series is None or not len(series):
            empty_axis(axis, "no samples")
            continue
        _shade_saturated(axis, run, clock)
        x = clock(series.start)
        for name, values, keep in (
            ("p50", series.p50_ms, "mean"),
            ("p95", series.p95_ms, "max"),
            ("p99", series.p99_ms, "max"),
        ):
            shown_x, shown_y = _thin(x, np.frombuffer(values, dtype=np.float64), keep)
            axis.plot(
                shown_x, shown_y, label=name, color=_COLORS[name], lw=1.2, **_markers(len(shown_x))
            )
        log_scale(axis)
        axis.set_ylabel("ms")
        axis.grid(True, which="both", alpha=0.3)
    axes.flat[0].legend(loc="upper right")
    for axis in axes[-1]:
        axis.set_xlabel(clock.label)
    figure.suptitle("Latency percentiles over time (grey: generator saturated)")
    return save(figure, path)


def distribution_plot(
    totals: dict[str, HdrHistogram], metrics: tuple[str, ...], path: Path
) -> Path:
    """Histogram and CDF, log axes, of each metric's whole-run distribution."""
    figure, axes = plt.subplots(len(metrics), 2, figsize=(12, 4 * len(metrics)), squeeze=False)
    for row, metric in enumerate(metrics):
        histogram = totals.get(metric)
        left, right = axes[row]
        left.set_title(f"{metric}: distribution")
        right.set_title(f"{metric}: cumulative distribution")
        if histogram is None or not histogram.get_total_count():
            empty_axis(left, "no samples")
            empty_axis(right, "no samples")
            continue
        values_ms, weights = value_buckets(histogram)
        low, high = max(values_ms.min(), 0.001), max(values_ms.max(), 0.002)
        bins = np.logspace(np.log10(low), np.log10(high) + 1e-9, 60)
        left.hist(values_ms, bins=bins, weights=weights, color="#1f77b4")
        log_scale(left, "x")
        left.set_xlabel("ms")
        left.set_ylabel("samples")
        cumulative = np.cumsum(weights) / weights.sum()
        right.step(values_ms, cumulative, where="post", color="#d62728")
        log_scale(right, "x")
        right.set_ylim(0, 1.01)
        right.set_xlabel("ms")
        right.set_ylabel("share of samples at or below")
        marks = percentiles(histogram)
        for name, value, color in (("p50", marks.p50_ms, "0.35"), ("p99", marks.p99_ms, "0.6")):
            for axis in (left, right):
                axis.axvline(value, color=color, lw=0.9, ls="--", label=f"{name} {value:.3f} ms")
        for axis in (left, right):
            axis.grid(True, which="both", alpha=0.3)
        right.legend(loc="lower right")
    return save(figure, path)


def throughput_plot(run: RunData, path: Path) -> Path:
    """Samples per second of the main metrics, and users, over time."""
    clock = _Clock(run)
    figure, axis = plt.subplots(figsize=(12, 4.5))
    # send_ack and delivery often coincide: a dashed line keeps both in sight.
    styles = {"send_ack": "-", "delivery": "--", "read_ack": "-", "history": "-"}
    for metric, style in styles.items():
        series = run.series.get(metric)
        if series is None or not len(series):
            continue
        lengths = np.maximum(
            np.frombuffer(series.end, dtype=np.float64)
            - np.frombuffer(series.start, dtype=np.float64),
            1e-9,
        )
        rates = np.frombuffer(series.count, dtype=np.int64) / lengths
        x, y = _thin(clock(series.start), rates)
        axis.plot(x, y, label=f"{metric}/s", lw=1.2, ls=style)
    axis.set_xlabel(clock.label)
    axis.set_ylabel("per second")
    axis.set_ylim(bottom=0)
    axis.grid(True, alpha=0.3)
    users = axis.twinx()
    if run.users:
        x, y = _thin(
            clock(u[0] for u in run.users),
            np.fromiter((u[1] for u in run.users), dtype=np.float64),
            "max",
        )
        users.plot(x, y, color="0.3", ls="--", lw=1, label="users")
    users.set_ylabel("users")
    users.set_ylim(bottom=0)
    lines = axis.get_legend_handles_labels()
    more = users.get_legend_handles_labels()
    # Below the axes: inside, it would hide the lines it names.
    axis.legend(
        lines[0] + more[0],
        lines[1] + more[1],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.15),
        ncol=5,
        frameon=False,
    )
    axis.set_title("Throughput and users over time")
    return save(figure, path)


_NICE_BINS: Final = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600)


def _bin_seconds(length: float, interval: float) -> float:
    """A round bin of whole intervals (so that no bin gets an extra interval's
    failures), giving at most 200 bars."""
    for seconds in _NICE_BINS:
        ratio = seconds / interval
        if ratio >= 1 and abs(ratio - round(ratio)) < 1e-9 and length / seconds <= 200:
            return float(seconds)
    return interval * max(1, math.ceil(length / 200 / interval))


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def failures_plot(run: RunData, path: Path) -> Path:
    """Failures over time, stacked by kind; at most 200 bars however long the run."""
    clock = _Clock(run)
    figure, axis = plt.subplots(figsize=(12, 4))
    by_kind: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for start, _, kind, count in run.failures:
        by_kind[kind].append((start, count))
    if not by_kind:
        empty_axis(axis, "no failures")
    else:
        step = _bin_seconds(run.end - run.start, run.interval_seconds)
        bins = np.arange(run.start, max(run.end, run.start + 1e-3) + step, step)
        width = step / clock.unit
        bottom = np.zeros(len(bins) - 1)
        for kind in sorted(by_kind):
            heights, _ = np.histogram(
                [t for t, _ in by_kind[kind]], bins=bins, weights=[n for _, n in by_kind[kind]]
            )
            axis.bar(
                clock(bins[:-1]),
                heights,
                width=width * 0.9,
                bottom=bottom,
                label=kind,
                align="edge",
            )
            bottom += heights
        axis.legend(loc="upper right")
        axis.set_xlabel(clock.label)
        axis.set_ylabel(f"failures per {_duration(step)}")
        axis.grid(True, alpha=0.3)
    axis.set_title("Failures over time, by kind")
    return save(figure, path)


def invariants_plot(run: RunData, path: Path) -> Path:
    """Each breach of a guarantee, by kind, over time."""
    figure, axis = plt.subplots(figsize=(12, 3.5))
    if not run.breaches:
        empty_axis(axis, "no breaches: every guarantee held")
    else:
        clock = _Clock(run)
        kinds = sorted({b.kind for b in run.breaches})
        for row, kind in enumerate(kinds):
            times = clock(b.time for b in run.breaches if b.kind == kind)
            axis.scatter(times, [row] * len(times), marker="|", s=200, label=kind)
        axis.set_yticks(range(len(kinds)), kinds)
        axis.set_xlabel(clock.label)
        axis.grid(True, axis="x", alpha=0.3)
    axis.set_title("Breaches of the chat's guarantees")
    return save(figure, path)


def health_plot(run: RunData, path: Path) -> Path:
    """CPU and event-loop lag of each generator process; saturated intervals shaded."""
    clock = _Clock(run)
    figure, (cpu, lag) = plt.subplots(2, 1, figsize=(12, 6), sharex=True)
    processes: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for row in run.health:
        health = row.process.health
        processes[row.process.process].append(
            (row.start, health.cpu_percent, health.loop_lag_p99_ms)
        )
    for axis in (cpu, lag):
        _shade_saturated(axis, run, clock)
    for process, points in sorted(processes.items()):
        x = clock(p[0] for p in points)
        cpu.plot(*_thin(x, np.array([p[1] for p in points])), label=process, lw=1.2)
        lag.plot(*_thin(x, np.array([p[2] for p in points]), "max"), label=process, lw=1.2)
    cpu.set_ylabel("CPU %")
    lag.set_ylabel("loop lag p99 (ms)")
    lag.set_xlabel(clock.label)
    for axis in (cpu, lag):
        axis.grid(True, alpha=0.3)
        if processes:
            axis.legend(loc="upper right")
    cpu.set_title("Generator health (grey: saturated; latencies then are the generator's)")
    return save(figure, path)


def capacity_plot(
    capacity: Capacity, path: Path, multipliers: Mapping[int, float] | None = None
) -> Path:
    """Latency against load, throughput against load, the knee and the last good step
    (``multipliers``: a model search's, by the users Locust ran for each level; the
    load is then the multiplier, and steps that were no level are left out)."""
    figure, axis = plt.subplots(figsize=(12, 5))
    metric = capacity.key_metric

    def load(users: int) -> float:
        return multipliers[users] if multipliers else users

    steps = [s for s in capacity.steps if not multipliers or s.users in multipliers]
    steps.sort(key=lambda step: load(step.users))
    for name in ("p50", "p99"):
        points = [
            (load(step.users), getattr(step.figures.metrics[metric].percentiles, f"{name}_ms"))
            for step in steps
            if metric in step.figures.metrics
        ]
        axis.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            marker="o",
            color=_COLORS[name],
            label=f"{metric} {name}",
        )
    log_scale(axis)
    axis.set_xlabel("times the traffic model's busiest hour" if multipliers else "users")
    axis.set_ylabel("ms")
    axis.grid(True, which="both", alpha=0.3)
    throughput = axis.twinx()
    measured = [step for step in steps if step.measured]
    throughput.plot(
        [load(step.users) for step in measured],
        [step.throughput for step in measured],
        marker="s",
        color="0.3",
        ls="--",
        label="messages/s",
    )
    throughput.set_ylabel("acknowledged messages/s")
    if capacity.knee is not None and capacity.knee in steps:
        axis.axvline(load(capacity.knee.users), color="#d62728", ls=":", label="knee")
    if capacity.highest_passing is not None and capacity.highest_passing in steps:
        axis.axvline(
            load(capacity.highest_passing.users),
            color="#2ca02c",
            ls="-.",
            label="highest step meeting every SLO",
        )
    lines = axis.get_legend_handles_labels()
    more = throughput.get_legend_handles_labels()
    axis.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left")
    axis.set_title("Capacity: latency and throughput against load")
    return save(figure, path)
