"""chatload's exports beside Locust's CSVs. Each file is a documented contract.

With ``--csv PREFIX`` the master (or the only process) writes one file per kind of
record: chat metrics per interval, a summary, generator health, breaches, the HDR
histograms, failures by kind, and with ``--chat-samples`` every sample. The column
tuples below define them; ``docs/exports.md`` is written from them
(``chatload.docgen``) and says what each column holds. Rows are flushed as they are
written, so an interrupted run leaves complete files up to that moment.
"""

from __future__ import annotations

import csv
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from chatload.drift import (
    DRIFT_COLUMNS,
    DriftSeries,
    Point,
    ServerPoints,
    Subject,
    Trend,
    drift_rows,
    generator_points,
    metric_points,
)
from chatload.records.hdr import (
    IntervalSnapshot,
    MetricSnapshot,
    Percentiles,
    new_histogram,
    percentiles,
)
from chatload.records.trust import Trust
from chatload.tracking.invariants import Breach
from chatload.tracking.metrics import Sample

__all__ = [
    "CHAT_METRICS_COLUMNS",
    "FAILURE_COLUMNS",
    "HDR_COLUMNS",
    "HEALTH_COLUMNS",
    "INVARIANT_COLUMNS",
    "SAMPLE_COLUMNS",
    "SERVER_METRICS_COLUMNS",
    "SUMMARY_COLUMNS",
    "RecordsExporter",
    "SampleWriter",
    "Saturation",
    "ServerSample",
    "Window",
    "iso_time",
]

_PERCENTILE_COLUMNS: Final = (
    "count",
    "failures",
    "min_ms",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
)
CHAT_METRICS_COLUMNS: Final = (
    "interval_start",
    "interval_end",
    "metric",
    *_PERCENTILE_COLUMNS,
    "generator_saturated",
    "cross_process",
    "late",
)
SUMMARY_COLUMNS: Final = (
    "metric",
    *_PERCENTILE_COLUMNS,
    "first_interval_start",
    "last_interval_end",
    "cross_process",
    "late",
    "unanswered",
)
HEALTH_COLUMNS: Final = (
    "interval_start",
    "interval_end",
    "process",
    "cpu_percent",
    "loop_lag_p50_ms",
    "loop_lag_p99_ms",
    "loop_lag_max_ms",
    "saturated",
    "phase",
    "clock_offset_ms",
    "clock_uncertainty_ms",
    "unsettled_chats",
    "rss_mib",
)
INVARIANT_COLUMNS: Final = ("time", "kind", "chat_id", "message_ids", "users", "detail")
HDR_COLUMNS: Final = ("interval_start", "interval_end", "metric", "count", "hdr")
FAILURE_COLUMNS: Final = ("interval_start", "interval_end", "metric", "kind", "count")
SAMPLE_COLUMNS: Final = ("time", "metric", "response_time_ms", "failure_kind", "chat_id", "user_id")
SERVER_METRICS_COLUMNS: Final = ("time", "url", "name", "labels", "value")


@dataclass(frozen=True, slots=True)
class ServerSample:
    """One series of a scrape: ``labels`` as Prometheus writes them (``{a="b"}``)."""

    name: str
    labels: str
    value: float


def iso_time(wall: float) -> str:
    whole = int(wall)
    millis = int((wall - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def _ms(value: float) -> str:
    return f"{value:.3f}"


def _flag(value: bool) -> str:
    return "true" if value else "false"


@dataclass(frozen=True, slots=True)
class Saturation:
    """When a generator process is too busy for its latencies to be the server's."""

    cpu_percent: float = 90.0
    lag_ms: float = 10.0

    def saturated(self, health: dict[str, float]) -> bool:
        return (
            health.get("cpu_percent", 0.0) >= self.cpu_percent
            or health.get("loop_lag_p99_ms", 0.0) >= self.lag_ms
        )


class _Csv:
    def __init__(self, path: Path, columns: Iterable[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle: IO[str] = path.open("w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.handle)
        self.writer.writerow(columns)
        self.handle.flush()

    def rows(self, rows: Iterable[Iterable[object]]) -> None:
        self.writer.writerows(rows)
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


@dataclass
class _Pending:
    end: float
    processes: set[str] = field(default_factory=set)
    metrics: dict[str, MetricSnapshot] = field(default_factory=dict)
    health: list[tuple[str, dict[str, float], str]] = field(default_factory=list)


@dataclass
class Window:
    """The intervals written from ``start`` on, merged: one load level of a search."""

    start: float
    breaches_before: dict[str, int]
    metrics: dict[str, MetricSnapshot] = field(default_factory=dict)
    end: float | None = None  # of the last interval merged
    saturated: int = 0  # intervals where a generator process was saturated
    server_cpu: list[float] = field(default_factory=list)  # rate(process_cpu_seconds_total)
    server_rss: float | None = None

    def add(self, name: str, metric: MetricSnapshot) -> None:
        self.metrics.setdefault(name, MetricSnapshot(new_histogram())).add(metric)

    @property
    def seconds(self) -> float:
        return (self.end - self.start) if self.end is not None else 0.0

    def breaches(self, now: dict[str, int]) -> dict[str, int]:
        """The breaches found since the window opened, by kind."""
        return {kind: n - self.breaches_before.get(kind, 0) for kind, n in now.items()}


class RecordsExporter:
    """Merges every process's intervals and writes the files (on the master).

    An interval is written once every process reported it, or once two newer
    intervals have arrived (a worker that went away does not hold the files
    back), and at the end whatever is left.
    """

    def __init__(
        self,
        prefix: str | None,
        *,
        processes: Callable[[], int],
        saturation: Saturation | None = None,
        horizon_hours: float = 24.0,
    ) -> None:
        self.prefix = prefix
        self.horizon_hours = horizon_hours
        # Running-phase points of every series whose drift is judged (chatload.drift);
        # server samples wait here until the interval they fall in is written.
        self.drift = DriftSeries()
        self._server_waiting: list[tuple[float, Point]] = []
        self._server_points = ServerPoints()
        self.last_server: dict[str, dict[str, float]] = {}  # by URL: unlabelled series
        # The trends and rows of the drift, with the (intervals written, subjects) they
        # were worked out at: a live view looks every 2 s, a trend costs O(n²).
        self._drift_cache: tuple[tuple[int, int], dict[Subject, Trend | None]] | None = None
        self._rows_cache: tuple[tuple[int, int], list[list[str]]] | None = None
        self.window: Window | None = None  # a search's level (loadgen.wiring.search_shape)
        self.server_scrape_failures: dict[str, int] = {}
        self.processes = processes
        self.saturation = saturation or Saturation()
        self._pending: dict[float, _Pending] = {}
        self._run: dict[str, MetricSnapshot] = {}
        self._first: float | None = None
        self._last: float | None = None
        self.trust = Trust()
        self.saturated_intervals: dict[str, int] = {}  # by process, under load
        self.saturated_elsewhere: dict[str, int] = {}  # by phase: spawning, stopping
        self.intervals_written = 0
        self.breaches: dict[str, int] = {}
        # What a live view shows (chatload.loadgen.watching.live): the last interval written,
        # each process's last health, failures by metric and kind, recent breaches.
        self.last_interval: dict[str, MetricSnapshot] = {}
        self.last_health: dict[str, tuple[dict[str, float], str, bool]] = {}
        self.failure_kinds: dict[tuple[str, str], int] = {}
        self.recent_breaches: deque[list[str]] = deque(maxlen=20)
        self._metrics = self._file("chat_metrics", CHAT_METRICS_COLUMNS)
        self._health = self._file("generator_health", HEALTH_COLUMNS)
        self._invariants = self._file("invariants", INVARIANT_COLUMNS)
        self._hdr = self._file("chat_hdr", HDR_COLUMNS)
        self._failures = self._file("chat_failures", FAILURE_COLUMNS)
        self._server: _Csv | None = None  # created by the first scrape

    def _file(self, name: str, columns: Iterable[str]) -> _Csv | None:
        return None if self.prefix is None else _Csv(Path(f"{self.prefix}_{name}.csv"), columns)

    def add_interval(self, snapshot: IntervalSnapshot) -> None:
        pending = self._pending.setdefault(snapshot.start, _Pending(snapshot.end))
        pending.end = max(pending.end, snapshot.end)
        pending.processes.add(snapshot.process)
        for name, metric in snapshot.metrics.items():
            merged = pending.metrics.setdefault(name, MetricSnapshot(new_histogram()))
            merged.add(metric)
        if snapshot.health:
            pending.health.append((snapshot.process, snapshot.health, snapshot.phase))
        self._write_ready()

    def _write_ready(self) -> None:
        starts = sorted(self._pending)
        expected = max(self.processes(), 1)
        for position, start in enumerate(starts):
            newer = len(starts) - position - 1
            if len(self._pending[start].processes) >= expected or newer >= 2:
                self._write(start, self._pending.pop(start))

    def _write(self, start: float, pending: _Pending) -> None:
        self._first = start if self._first is None else min(self._first, start)
        self._last = pending.end if self._last is None else max(self._last, pending.end)
        saturated = False
        hot_phase: str | None = None  # running outranks spawning: the load's own saturation
        health_rows = []
        for process, health, phase in sorted(pending.health):
            hot = self.saturation.saturated(health)
            saturated = saturated or hot
            self.last_health[process] = (health, phase, hot)
            self.trust.add_clock(health.get("clock_uncertainty_ms", 0.0))
            self.trust.unsettled += int(health.get("unsettled_chats", 0))
            if hot and phase == "running":
                self.saturated_intervals[process] = self.saturated_intervals.get(process, 0) + 1
                hot_phase = "running"
            elif hot:
                self.saturated_elsewhere[phase] = self.saturated_elsewhere.get(phase, 0) + 1
                hot_phase = hot_phase or phase
            health_rows.append(
                [
                    iso_time(start),
                    iso_time(pending.end),
                    process,
                    f"{health.get('cpu_percent', 0.0):.1f}",
                    _ms(health.get("loop_lag_p50_ms", 0.0)),
                    _ms(health.get("loop_lag_p99_ms", 0.0)),
                    _ms(health.get("loop_lag_max_ms", 0.0)),
                    _flag(hot),
                    phase,
                    _ms(health.get("clock_offset_ms", 0.0)),
                    _ms(health.get("clock_uncertainty_ms", 0.0)),
                    int(health.get("unsettled_chats", 0)),
                    f"{health.get('rss_bytes', 0.0) / (1 << 20):.1f}",
                ]
            )
        rows: list[list[object]] = []
        hdr_rows: list[list[object]] = []
        failure_rows: list[list[object]] = []
        begin, end = iso_time(start), iso_time(pending.end)
        running = bool(pending.health) and all(p == "running" for _, _, p in pending.health)
        # One percentile pass per metric, for the row and the drift alike.
        figures = {name: percentiles(m.histogram) for name, m in pending.metrics.items()}
        self._feed_drift(pending, figures, running)
        window = self.window
        if window is not None and start >= window.start:
            for name, metric in pending.metrics.items():
                window.add(name, metric)
            window.end = pending.end
            window.saturated += saturated
        for name in sorted(pending.metrics):
            metric = pending.metrics[name]
            run = self._run.setdefault(name, MetricSnapshot(new_histogram()))
            run.add(metric)
            self.trust.add_metric(
                name,
                metric.operations,
                metric.kinds,
                cross_process=metric.cross_process,
                late=metric.late,
                saturated=hot_phase,
            )
            rows.append(
                [
                    begin,
                    end,
                    name,
                    *self._stats(metric, figures[name]),
                    _flag(saturated),
                    metric.cross_process,
                    metric.late,
                ]
            )
            hdr_rows.append(
                [
                    begin,
                    end,
                    name,
                    metric.histogram.get_total_count(),
                    metric.histogram.encode().decode("ascii"),
                ]
            )
            for kind, failed in sorted(metric.kinds.items()):
                failure_rows.append([begin, end, name, kind, failed])
                key = (name, kind)
                self.failure_kinds[key] = self.failure_kinds.get(key, 0) + failed
        self.last_interval = pending.metrics
        self.intervals_written += 1
        if self._metrics is not None:
            self._metrics.rows(rows)
        if self._hdr is not None:
            self._hdr.rows(hdr_rows)
        if self._failures is not None:
            self._failures.rows(failure_rows)
        if self._health is not None:
            self._health.rows(health_rows)

    def _feed_drift(
        self, pending: _Pending, figures: dict[str, Percentiles], running: bool
    ) -> None:
        """An interval of the running phase adds a point to each drift subject; the
        server samples scraped before its end are taken (kept only if running)."""
        waiting = self._server_waiting
        taken = [item for item in waiting if item[0] < pending.end]
        self._server_waiting = [item for item in waiting if item[0] >= pending.end]
        if not running:
            return
        drift, wall = self.drift, pending.end
        for name, metric in pending.metrics.items():
            p = figures[name]
            answered = metric.histogram.get_total_count()
            for subject, value in metric_points(
                name,
                p50_ms=p.p50_ms,
                p99_ms=p.p99_ms,
                answered=answered,
                operations=metric.operations,
                failures=metric.failures,
            ):
                drift.add(subject, wall, value)
        for process, health, _ in pending.health:
            rss = health.get("rss_bytes")
            for subject, value in generator_points(
                process, rss, health.get("loop_lag_p99_ms", 0.0)
            ):
                drift.add(subject, wall, value)
        for at, (subject, value) in taken:
            drift.add(subject, at, value)

    def add_server_metrics(self, wall: float, url: str, samples: Iterable[ServerSample]) -> None:
        """One scrape of a server's metrics: written as they are, and waiting for the
        interval they fall in to join the drift."""
        rows = []
        for sample in samples:
            rows.append([iso_time(wall), url, sample.name, sample.labels, f"{sample.value:.9g}"])
            point = self._server_points.point(url, sample.name, sample.labels, wall, sample.value)
            if point is not None:
                self._server_waiting.append((wall, point))
                if not sample.labels:
                    self.last_server.setdefault(url, {})[point[0].name] = point[1]
                    self._to_window(wall, point[0].name, point[1])
        if self.prefix is None or not rows:
            return
        if self._server is None:
            self._server = _Csv(Path(f"{self.prefix}_server_metrics.csv"), SERVER_METRICS_COLUMNS)
        self._server.rows(rows)

    def _to_window(self, wall: float, name: str, value: float) -> None:
        window = self.window
        if window is None or wall < window.start:
            return
        if name == "rate(process_cpu_seconds_total)":
            window.server_cpu.append(value * 100)
        elif name == "process_resident_memory_bytes":
            window.server_rss = value

    def open_window(self, start: float) -> Window:
        """From now on, intervals that start at ``start`` or later are also merged into
        a window of their own."""
        self.window = Window(start, dict(self.breaches))
        return self.window

    def drift_trends(self) -> dict[Subject, Trend | None]:
        """Each subject's trend so far, worked out again only once an interval was written."""
        key = (self.intervals_written, len(self.drift.points))
        if self._drift_cache is None or self._drift_cache[0] != key:
            self._drift_cache = (key, self.drift.trends())
        return self._drift_cache[1]

    def drift_rows(self) -> list[list[str]]:
        """PREFIX_drift.csv's rows, from the same trends."""
        trends = self.drift_trends()
        assert self._drift_cache is not None
        key = self._drift_cache[0]
        if self._rows_cache is None or self._rows_cache[0] != key:
            self._rows_cache = (key, drift_rows(self.drift, self.horizon_hours, trends))
        return self._rows_cache[1]

    @staticmethod
    def _stats(metric: MetricSnapshot, p: Percentiles) -> list[str]:
        """An interval's percentiles are of the answers it saw (late ones at their
        true latency); the whole run's count what never came as slower than all."""
        return [
            str(metric.operations),
            str(metric.failures),
            _ms(p.min_ms),
            _ms(p.p50_ms),
            _ms(p.p90_ms),
            _ms(p.p95_ms),
            _ms(p.p99_ms),
            _ms(p.p999_ms),
            _ms(p.max_ms),
        ]

    def add_breaches(self, breaches: Iterable[Breach]) -> None:
        rows = []
        for breach in breaches:
            self.breaches[breach.kind] = self.breaches.get(breach.kind, 0) + 1
            rows.append([iso_time(breach.wall or time.time()), *breach.row()])
            self.recent_breaches.append([str(cell) for cell in rows[-1]])
        if self._invariants is not None and rows:
            self._invariants.rows(rows)

    def summary(self) -> dict[str, MetricSnapshot]:
        return self._run

    def run_seconds(self) -> float:
        """From the first interval's start to the last one's end."""
        return (self._last - self._first) if self._first is not None and self._last else 0.0

    def write_table(self, name: str, columns: tuple[str, ...], rows: Iterable[list[str]]) -> None:
        """``PREFIX_<name>.csv`` written whole (the SLO verdicts: ``chatload.slo``)."""
        if self.prefix is None:
            return
        table = _Csv(Path(f"{self.prefix}_{name}.csv"), columns)
        table.rows(rows)
        table.close()

    def finish(self) -> None:
        """Write what is pending and the whole-run summary; idempotent."""
        for start in sorted(self._pending):
            self._write(start, self._pending.pop(start))
        self.write_summary()
        self.write_table("drift", DRIFT_COLUMNS, self.drift_rows())

    def write_summary(self) -> None:
        """``PREFIX_chat_summary.csv`` of the run so far (again at the end, whole)."""
        if self.prefix is None:
            return
        summary = _Csv(Path(f"{self.prefix}_chat_summary.csv"), SUMMARY_COLUMNS)
        first = iso_time(self._first) if self._first is not None else ""
        last = iso_time(self._last) if self._last is not None else ""
        summary.rows(
            [
                name,
                *self._stats(metric, percentiles(metric.histogram, metric.unanswered)),
                first,
                last,
                metric.cross_process,
                metric.late,
                metric.unanswered,
            ]
            for name, metric in sorted(self._run.items())
        )
        summary.close()
        for file in self._files():
            file.handle.flush()

    def _files(self) -> list[_Csv]:
        files = (
            self._metrics,
            self._health,
            self._invariants,
            self._hdr,
            self._failures,
            self._server,
        )
        return [file for file in files if file is not None]

    def close(self) -> None:
        self.finish()
        for file in self._files():
            file.close()
        self._metrics = self._health = self._invariants = self._hdr = self._failures = None
        self._server = None


class SampleWriter:
    """The optional raw export: one row per sample, per process."""

    def __init__(self, path: Path) -> None:
        self._csv = _Csv(path, SAMPLE_COLUMNS)
        self._rows: list[list[object]] = []

    def add(self, wall: float, sample: Sample, kind: str) -> None:
        self._rows.append(
            [
                iso_time(wall),
                sample.metric,
                _ms(sample.seconds * 1000),
                kind,
                sample.chat_id or "",
                sample.user_id,
            ]
        )
        if len(self._rows) >= 1000:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self._csv.rows(self._rows)
            self._rows = []

    def close(self) -> None:
        self.flush()
        self._csv.close()
