"""Drift: is a series slowly rising over a run? Pure: points in, trends out.

A soak exists to catch what a short run cannot: a latency that creeps, memory that
grows. Each *subject* (a metric's interval p50 or p99, its failure ratio, a
generator process's RSS or loop lag, a scraped server series) is a list of
``(wall seconds, value)`` points from the running phase. Its trend is the
Theil-Sen slope (the median of the slopes between every pair of points: a GC
sawtooth or a few spikes do not move it) with Sen's confidence interval, widened
for the autocorrelation interval series have (a slow wave is not many independent
points). A slope is *rising* only when its whole interval lies above zero.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

__all__ = [
    "DRIFT_COLUMNS",
    "MIN_POINTS",
    "MIN_SPAN_S",
    "SERVER_CPU",
    "SERVER_OPEN_FILES",
    "SERVER_RSS",
    "DriftSeries",
    "ServerPoints",
    "Subject",
    "Trend",
    "drift_rows",
    "generator_points",
    "metric_points",
    "rate_of",
    "theil_sen",
]

MIN_POINTS: Final = 10
MIN_SPAN_S: Final = 60.0
_MAX_POINTS: Final = 600  # more are binned into medians: the pairs grow as n²
_Z99: Final = 2.575829  # two-sided 99 %: a steady run's slope is called rising 1 time in 200
_HOUR: Final = 3600.0
# Residuals within this share of a series' magnitude are rounding (a few hundred ulps).
_ROUNDING: Final = 1e-13

DRIFT_COLUMNS: Final = (
    "subject",
    "slope_per_h",
    "ci_low_per_h",
    "ci_high_per_h",
    "unit",
    "projected",
    "verdict",
    "whose",
    "points",
)


@dataclass(frozen=True, slots=True)
class Trend:
    """A subject's slope per hour with its 99 % interval, in the subject's unit."""

    slope: float
    low: float
    high: float
    intercept: float  # the trend's value at the first point
    level: float  # the median value: what a relative drift (%/h) is relative to
    points: int
    first: float  # wall seconds of the first and last points
    last: float

    @property
    def verdict(self) -> str:
        if self.low > 0:
            return "rising"
        if self.high < 0:
            return "falling"
        return "steady"

    def at(self, wall: float) -> float:
        return self.intercept + self.slope * (wall - self.first) / _HOUR

    def relative(self, per_hour: float) -> float:
        """``per_hour`` as a percentage of the level (inf when the level is 0)."""
        if self.level == 0:
            return 0.0 if per_hour == 0 else math.copysign(math.inf, per_hour)
        return per_hour / abs(self.level) * 100


def _binned(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= _MAX_POINTS:
        return x, y
    groups = np.array_split(np.arange(len(x)), _MAX_POINTS)
    return (
        np.array([np.median(x[g]) for g in groups]),
        np.array([np.median(y[g]) for g in groups]),
    )


def theil_sen(points: Sequence[tuple[float, float]]) -> Trend | None:
    """The trend of ``points`` (wall seconds, value); None when too few or too short
    to tell (fewer than MIN_POINTS, or spanning less than MIN_SPAN_S)."""
    finite = sorted((t, v) for t, v in points if math.isfinite(v))
    if len(finite) < MIN_POINTS or finite[-1][0] - finite[0][0] < MIN_SPAN_S:
        return None
    first = float(finite[0][0])
    x = np.array([(t - first) / _HOUR for t, _ in finite])
    y = np.array([v for _, v in finite])
    x, y = _binned(x, y)
    n = len(x)
    i, j = np.triu_indices(n, k=1)
    dx = x[j] - x[i]
    keep = dx > 0
    slopes = np.sort((y[j] - y[i])[keep] / dx[keep])
    if len(slopes) == 0:
        return None
    slope = float(np.median(slopes))
    intercept = float(np.median(y - slope * x))
    # Sen's interval from the variance of Kendall's S, inflated by (1+r)/(1-r) for a
    # positive lag-1 autocorrelation r of the residuals.
    residuals = y - (intercept + slope * x)
    variance = n * (n - 1) * (2 * n + 5) / 18
    rho = _lag1(residuals, float(np.abs(y).max()))
    if rho > 0:
        variance *= (1 + rho) / (1 - rho)
    spread = _Z99 * math.sqrt(variance)
    pairs = len(slopes)
    lower = math.floor((pairs - spread) / 2)
    upper = math.ceil((pairs + spread) / 2)
    low = float(slopes[lower]) if lower >= 0 else -math.inf
    high = float(slopes[upper]) if upper < pairs else math.inf
    return Trend(
        slope,
        low,
        high,
        intercept,
        float(np.median(y)),
        len(finite),
        float(first),
        float(finite[-1][0]),
    )


def _lag1(residuals: np.ndarray, scale: float) -> float:
    """The lag-1 autocorrelation of ``residuals``; 0 when they are rounding residue
    of a series that fits its line exactly (within ``_ROUNDING`` of ``scale``, the
    series' largest magnitude): their correlation is then the BLAS kernel's summation
    order, not the series. Sums are exact (fsum), so no kernel decides the interval."""
    if len(residuals) < 3 or float(np.abs(residuals).max()) <= _ROUNDING * scale:
        return 0.0
    mean = math.fsum(residuals) / len(residuals)
    centred = [float(r) - mean for r in residuals]
    denominator = math.fsum(c * c for c in centred)
    if denominator == 0:
        return 0.0
    lagged = math.fsum(a * b for a, b in itertools.pairwise(centred))
    return min(lagged / denominator, 0.95)


@dataclass(frozen=True, slots=True, order=True)
class Subject:
    """What drifts: ``kind`` is ``metric``, ``generator`` or ``server``."""

    kind: str
    name: str  # metric name, generator series, or server series with its labels
    statistic: str = ""  # p50, p99, failure_ratio for a metric
    source: str = ""  # the process (generator) or the URL (server)
    unit: str = ""

    def label(self) -> str:
        head = {"metric": "", "generator": "generator ", "server": "server "}[self.kind]
        text = f"{head}{self.name}" + (f" {self.statistic}" if self.statistic else "")
        return text + (f" ({self.source})" if self.source else "")

    @property
    def whose(self) -> str:
        return "generator" if self.kind == "generator" else "server"


@dataclass
class DriftSeries:
    """Points per subject, added interval by interval during the running phase."""

    points: dict[Subject, list[tuple[float, float]]] = field(default_factory=dict)

    def add(self, subject: Subject, wall: float, value: float) -> None:
        self.points.setdefault(subject, []).append((wall, value))

    def trends(self) -> dict[Subject, Trend | None]:
        return {subject: theil_sen(points) for subject, points in sorted(self.points.items())}

    def matching(self, kind: str, name: str, statistic: str = "") -> list[Subject]:
        return [
            s
            for s in sorted(self.points)
            if s.kind == kind and s.name == name and s.statistic == statistic
        ]

    def generator_rising(self, trends: Mapping[Subject, Trend | None]) -> list[str]:
        """The generator's own series that rise: a rising latency is then maybe its."""
        return [
            s.label()
            for s, trend in trends.items()
            if s.kind == "generator" and s.name.startswith("loop_lag") and trend is not None
            if trend.verdict == "rising"
        ]


Point = tuple[Subject, float]
_SKIPPED_SERVER_SERIES: Final = ("_bucket", "_created")  # per-bucket counts, creation times


def rate_of(counter: str) -> str:
    """The name of a counter's per-second rate, as a server series' points carry it."""
    return f"rate({counter})"


# The process series every Prometheus client library exports (prom-client,
# prometheus_client, Micrometer): the server's CPU (seconds per second), RSS, files.
SERVER_CPU: Final = rate_of("process_cpu_seconds_total")
SERVER_RSS: Final = "process_resident_memory_bytes"
SERVER_OPEN_FILES: Final = "process_open_fds"


def metric_points(
    name: str, *, p50_ms: float, p99_ms: float, answered: int, operations: int, failures: int
) -> list[Point]:
    """A metric's points of one running interval: its p50 and p99 when something was
    answered, its failure ratio when anything was tried."""
    points: list[Point] = []
    if answered:
        points.append((Subject("metric", name, "p50", unit="ms"), p50_ms))
        points.append((Subject("metric", name, "p99", unit="ms"), p99_ms))
    if operations:
        points.append(
            (Subject("metric", name, "failure_ratio", unit="ratio"), failures / operations)
        )
    return points


def generator_points(process: str, rss_bytes: float | None, loop_lag_p99_ms: float) -> list[Point]:
    points: list[Point] = [
        (Subject("generator", "loop_lag_p99", source=process, unit="ms"), loop_lag_p99_ms)
    ]
    if rss_bytes is not None:
        points.append((Subject("generator", "rss", source=process, unit="bytes"), rss_bytes))
    return points


class ServerPoints:
    """A scraped series' points: a total (``*_total``, Prometheus' counter names) as
    its rate per second between two scrapes; histogram buckets left out."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str, str], tuple[float, float]] = {}

    def point(self, url: str, name: str, labels: str, wall: float, value: float) -> Point | None:
        if name.endswith(_SKIPPED_SERVER_SERIES) or not math.isfinite(value):
            return None
        if name.endswith("_total"):
            key = (url, name, labels)
            before = self._last.get(key)
            self._last[key] = (wall, value)
            if before is None or wall <= before[0] or value < before[1]:
                return None  # the first scrape, or a restarted counter
            value = (value - before[1]) / (wall - before[0])
            name = rate_of(name)
        unit = "bytes" if name.endswith("_bytes") else ""
        return Subject("server", name + labels, source=url, unit=unit), value


def _whose(subject: Subject, generator_rising: Sequence[str]) -> str:
    if subject.kind == "generator":
        return "generator"
    if subject.kind == "metric" and subject.statistic != "failure_ratio" and generator_rising:
        return "generator? (its loop lag rises too)"
    return "server"


def drift_rows(
    series: DriftSeries, horizon_h: float, trends: Mapping[Subject, Trend | None] | None = None
) -> list[list[str]]:
    """``PREFIX_drift.csv``: one row per subject, slopes per hour in its unit, the
    value projected ``horizon_h`` hours past the run's last point."""
    trends = series.trends() if trends is None else trends
    rising = series.generator_rising(trends)
    rows = []
    for subject, trend in trends.items():
        count = len(series.points[subject])
        if trend is None:
            rows.append(
                [subject.label(), "", "", "", subject.unit, "", "not judged", "", str(count)]
            )
            continue
        projected = trend.at(trend.last) + trend.slope * horizon_h
        rows.append(
            [
                subject.label(),
                _number(trend.slope),
                _number(trend.low),
                _number(trend.high),
                subject.unit,
                _number(projected),
                trend.verdict,
                _whose(subject, rising),
                str(count),
            ]
        )
    return rows


def _number(value: float) -> str:
    return f"{value:.6g}"
