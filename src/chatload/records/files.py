"""chatload's exports beside Locust's CSVs. Each file is a documented contract.

With ``--csv PREFIX`` the master (or the only process) writes one file per kind of
record: chat metrics per interval, a summary, generator health, breaches, the HDR
histograms, failures by kind, the server's scraped series, and with
``--chat-samples`` every sample. The column tuples below define them;
``docs/exports.md`` is written from them (``chatload.docgen``) and says what each
column holds. Rows are flushed as they are written, so an interrupted run leaves
complete files up to that moment.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from chatload.records.hdr import MetricSnapshot, Percentiles, percentiles
from chatload.records.intervals import MergedInterval
from chatload.records.windows import Window
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
    "RunFiles",
    "SampleWriter",
    "ServerSample",
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
SAMPLE_COLUMNS: Final = (
    "time",
    "metric",
    "response_time_ms",
    "failure_kind",
    "chat_id",
    "user_id",
    "cross_process",
)
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


class RunFiles:
    """The files of a run at ``prefix`` (nothing is written without one)."""

    def __init__(self, prefix: str | None) -> None:
        self.prefix = prefix
        self._metrics = self._file("chat_metrics", CHAT_METRICS_COLUMNS)
        self._health = self._file("generator_health", HEALTH_COLUMNS)
        self._invariants = self._file("invariants", INVARIANT_COLUMNS)
        self._hdr = self._file("chat_hdr", HDR_COLUMNS)
        self._failures = self._file("chat_failures", FAILURE_COLUMNS)
        self._server: _Csv | None = None  # created by the first scrape

    def _file(self, name: str, columns: Iterable[str]) -> _Csv | None:
        return None if self.prefix is None else _Csv(Path(f"{self.prefix}_{name}.csv"), columns)

    def add_interval(self, interval: MergedInterval) -> None:
        if self._metrics is None:
            return
        begin, end = iso_time(interval.start), iso_time(interval.end)
        saturated = _flag(interval.saturated)
        rows: list[list[object]] = []
        hdr_rows: list[list[object]] = []
        failure_rows: list[list[object]] = []
        for name in sorted(interval.metrics):
            metric = interval.metrics[name]
            stats = _stats(metric, interval.figures[name])
            rows.append([begin, end, name, *stats, saturated, metric.cross_process, metric.late])
            encoded = metric.histogram.encode().decode("ascii")
            hdr_rows.append([begin, end, name, metric.histogram.get_total_count(), encoded])
            failure_rows.extend(
                [begin, end, name, kind, failed] for kind, failed in sorted(metric.kinds.items())
            )
        self._metrics.rows(rows)
        for file, written in ((self._hdr, hdr_rows), (self._failures, failure_rows)):
            if file is not None:
                file.rows(written)
        if self._health is not None:
            self._health.rows(
                [
                    begin,
                    end,
                    p.process,
                    f"{p.health.cpu_percent:.1f}",
                    _ms(p.health.loop_lag_p50_ms),
                    _ms(p.health.loop_lag_p99_ms),
                    _ms(p.health.loop_lag_max_ms),
                    _flag(p.saturated),
                    p.phase,
                    _ms(p.health.clock_offset_ms),
                    _ms(p.health.clock_uncertainty_ms),
                    p.health.unsettled_chats,
                    f"{p.health.rss_mib or 0.0:.1f}",  # 0.0: not measured (read back as such)
                ]
                for p in interval.processes
            )

    def add_breaches(self, breaches: Iterable[Breach]) -> None:
        rows = [[iso_time(breach.wall or time.time()), *breach.row()] for breach in breaches]
        if self._invariants is not None and rows:
            self._invariants.rows(rows)

    def add_server_samples(self, wall: float, url: str, samples: Iterable[ServerSample]) -> None:
        if self.prefix is None:
            return
        rows = [
            [iso_time(wall), url, sample.name, sample.labels, f"{sample.value:.9g}"]
            for sample in samples
        ]
        if not rows:
            return
        if self._server is None:
            self._server = _Csv(Path(f"{self.prefix}_server_metrics.csv"), SERVER_METRICS_COLUMNS)
        self._server.rows(rows)

    def write_summary(self, run: Window) -> None:
        """``PREFIX_chat_summary.csv`` of the run so far (again at the end, whole)."""
        if self.prefix is None:
            return
        first = iso_time(run.first) if run.first is not None else ""
        last = iso_time(run.end) if run.end is not None else ""
        self.write_table(
            "chat_summary",
            SUMMARY_COLUMNS,
            (
                [
                    name,
                    *_stats(metric, percentiles(metric.histogram, metric.unanswered)),
                    first,
                    last,
                    metric.cross_process,
                    metric.late,
                    metric.unanswered,
                ]
                for name, metric in sorted(run.metrics.items())
            ),
        )
        for file in self._files():
            file.handle.flush()

    def write_table(
        self, name: str, columns: tuple[str, ...], rows: Iterable[Iterable[object]]
    ) -> None:
        """``PREFIX_<name>.csv`` written whole (the summary, drift, SLO verdicts)."""
        if self.prefix is None:
            return
        table = _Csv(Path(f"{self.prefix}_{name}.csv"), columns)
        table.rows(rows)
        table.close()

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
                "true" if sample.cross_process else "false",
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
