"""A run's files, read and checked: Locust's CSVs and chatload's exports.

``RESULTS`` is the ``--csv`` prefix of a run (``results/smoke``) or a directory that
holds one run's files. Each file is checked as it is read; anything missing, empty,
truncated or malformed is a :class:`~chatload.errors.ConfigError` naming the file,
the line and what is wrong. Only the columns chatload relies on are required, so
Locust may add columns without breaking the report.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from chatload.analysis.csvfiles import (
    csv_file,
    find_prefix,
    number,
    read_rows,
    timestamp,
)
from chatload.errors import ConfigError
from chatload.records.files import (
    CHAT_METRICS_COLUMNS,
    FAILURE_COLUMNS,
    HDR_COLUMNS,
    SERVER_METRICS_COLUMNS,
)
from chatload.records.health import Health, ProcessHealth, parse_phase

__all__ = [
    "Breach",
    "HealthRow",
    "MetricSeries",
    "RunData",
    "find_prefix",
    "iter_hdr",
    "load_run",
]

_LOCUST: Final = {
    "stats": ("Type", "Name", "Request Count", "Failure Count", "Requests/s"),
    "stats_history": ("Timestamp", "User Count", "Name", "Requests/s", "Failures/s"),
    "failures": ("Method", "Name", "Error", "Occurrences"),
    "exceptions": ("Count", "Message"),
}
_CHATLOAD: Final = {
    # The columns of the exports (records.files) that a report needs; the later
    # ones (cross_process, late) are read when present, so older runs still load.
    "chat_metrics": CHAT_METRICS_COLUMNS[: CHAT_METRICS_COLUMNS.index("generator_saturated") + 1],
    "chat_summary": ("metric", "count", "failures", "p50_ms", "p99_ms"),
    "chat_hdr": HDR_COLUMNS,
    "chat_failures": FAILURE_COLUMNS,
    "generator_health": (
        "interval_start",
        "interval_end",
        "process",
        "cpu_percent",
        "loop_lag_p99_ms",
        "saturated",
    ),
    "invariants": ("time", "kind", "chat_id", "message_ids", "users", "detail"),
}
_OPTIONAL: Final = {
    "slo": ("threshold", "value", "passed"),
    "server_metrics": SERVER_METRICS_COLUMNS,
}


class MetricSeries:
    """One metric's rows of chat_metrics, column by column: a day at one-second
    intervals is 700,000 rows, which as objects would cost a few hundred MiB."""

    __slots__ = (
        "count",
        "cross_process",
        "end",
        "failures",
        "late",
        "max_ms",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "start",
    )

    def __init__(self) -> None:
        self.start = array("d")
        self.end = array("d")
        self.count = array("q")
        self.failures = array("q")
        self.cross_process = array("q")
        self.late = array("q")
        self.p50_ms = array("d")
        self.p95_ms = array("d")
        self.p99_ms = array("d")
        self.max_ms = array("d")

    def __len__(self) -> int:
        return len(self.start)


@dataclass(frozen=True, slots=True)
class HealthRow:
    """One process's row of generator_health: its interval and its health."""

    start: float
    end: float
    process: ProcessHealth


@dataclass(frozen=True, slots=True)
class Breach:
    time: float
    kind: str
    chat_id: str
    message_ids: str
    users: str
    detail: str


@dataclass
class RunData:
    prefix: Path
    locust_stats: list[dict[str, str]] = field(default_factory=list)
    users: list[tuple[float, int]] = field(default_factory=list)  # (time, users) each second
    locust_failures: list[dict[str, str]] = field(default_factory=list)
    locust_exceptions: list[dict[str, str]] = field(default_factory=list)
    series: dict[str, MetricSeries] = field(default_factory=dict)
    saturated: list[tuple[float, float]] = field(default_factory=list)  # (start, end)
    summary: list[dict[str, str]] = field(default_factory=list)
    failures: list[tuple[float, str, str, int]] = field(
        default_factory=list
    )  # (start, metric, kind, n)
    health: list[HealthRow] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    slo: list[tuple[str, str, bool, str]] = field(default_factory=list)  # ..., PASS/FAIL/...
    # (time, url, name, labels, value) of each scraped series (--server-metrics)
    server_samples: list[tuple[float, str, str, str, float]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.prefix.name

    @property
    def start(self) -> float:
        return min((s.start[0] for s in self.series.values() if len(s)), default=0.0)

    @property
    def end(self) -> float:
        return max((s.end[-1] for s in self.series.values() if len(s)), default=0.0)

    @property
    def interval_seconds(self) -> float:
        """The length of one reporting interval (of the first full one)."""
        for series in self.series.values():
            if len(series) > 1:
                return series.start[1] - series.start[0]
            if len(series):
                return max(series.end[0] - series.start[0], 1e-3)
        return 1.0

    @property
    def hdr_path(self) -> Path:
        return csv_file(self.prefix, "chat_hdr")


def load_run(results: Path, progress: Callable[[str], None] | None = None) -> RunData:
    """Every file of the run at ``results``, checked."""
    say = progress or (lambda text: None)
    prefix = find_prefix(results)
    run = RunData(prefix)
    for name, columns in (*_LOCUST.items(), *_CHATLOAD.items()):
        path = csv_file(prefix, name)
        if name == "chat_hdr":  # read as it is merged: see iter_hdr
            next(read_rows(prefix, name, columns), None)
            continue
        say(f"reading {path}")
        rows = read_rows(prefix, name, columns)
        _LOADERS[name](run, path, rows)
    for name, columns in _OPTIONAL.items():
        path = csv_file(prefix, name)
        if path.exists():
            say(f"reading {path}")
            _LOADERS[name](run, path, read_rows(prefix, name, columns))
    if not run.series:
        raise ConfigError(
            f"{csv_file(prefix, 'chat_metrics')} has no rows: the run recorded nothing"
        )
    return run


def _stats(run: RunData, path: Path, rows: Iterator[tuple[int, dict[str, str]]]) -> None:
    for line, row in rows:
        number(path, line, row, "Request Count", int)
        run.locust_stats.append(row)


def _history(run: RunData, path: Path, rows: Iterator[tuple[int, dict[str, str]]]) -> None:
    for line, row in rows:
        if row["Name"] != "Aggregated":
            continue
        run.users.append(
            (
                number(path, line, row, "Timestamp"),
                int(number(path, line, row, "User Count", int)),
            )
        )


def _plain(attribute: str) -> Callable[[RunData, Path, Iterator[tuple[int, dict[str, str]]]], None]:
    def load(run: RunData, path: Path, rows: Iterator[tuple[int, dict[str, str]]]) -> None:
        getattr(run, attribute).extend(row for _, row in rows)

    return load


def _metrics(run: RunData, path: Path, rows: Iterator[tuple[int, dict[str, str]]]) -> None:
    last_saturated: tuple[float, float] | None = None
    for line, row in rows:
        series = run.series.get(row["metric"])
        if series is None:
            series = run.series[row["metric"]] = MetricSeries()
        start = timestamp(path, line, row["interval_start"])
        end = timestamp(path, line, row["interval_end"])
        series.start.append(start)
        series.end.append(end)
        series.count.append(int(number(path, line, row, "count", int)))
        series.failures.append(int(number(path, line, row, "failures", int)))
        # Files from before these columns: nothing crossed, nothing was late.
        series.cross_process.append(int(row.get("cross_process") or 0))
        series.late.append(int(row.get("late") or 0))
        series.p50_ms.append(number(path, line, row, "p50_ms"))
        series.p95_ms.append(number(path, line, row, "p95_ms"))
        series.p99_ms.append(number(path, line, row, "p99_ms"))
        series.max_ms.append(number(path, line, row, "max_ms"))
        if row["generator_saturated"] == "true" and last_saturated != (start, end):
            last_saturated = (start, end)
            run.saturated.append(last_saturated)


def iter_hdr(
    run: RunData, progress: Callable[[str], None] | None = None
) -> Iterator[tuple[float, float, str, int, str]]:
    """``(start, end, metric, count, encoded)`` of each row of chat_hdr, checked.

    Streamed rather than kept: the encoded histograms of a long run are the bulk
    of its files."""
    path = run.hdr_path
    for index, (line, row) in enumerate(read_rows(run.prefix, "chat_hdr", _CHATLOAD["chat_hdr"])):
        if progress is not None and index and index % 100_000 == 0:
            progress(f"merged {index:,} interval histograms")
        if not row["hdr"].startswith("HISTF"):
            raise ConfigError(f"{path}, line {line}: hdr is not an encoded HdrHistogram")
        yield (
            timestamp(path, line, row["interval_start"]),
            timestamp(path, line, row["interval_end"]),
            row["metric"],
            int(number(path, line, row, "count", int)),
            row["hdr"],
        )


def _failures(run: RunData, path: Path, rows: Iterator[tuple[int, dict[str, str]]]) -> None:
    for line, row in rows:
        run.failures.append(
            (
                timestamp(path, line, row["interval_start"]),
                row["metric"],
                row["kind"],
                int(number(path, line, row, "count", int)),
            )
        )


def _health(run: RunData, path: Path, rows: Iterator[tuple[int, dict[str, str]]]) -> None:
    for line, row in rows:
        # Columns a file from before them lacks: no lag p50 or maximum, no clocks,
        # nothing unsettled, no RSS (0.0 is written when it was not measured).
        rss = number(path, line, row, "rss_mib") if row.get("rss_mib") else 0.0
        health = Health(
            cpu_percent=number(path, line, row, "cpu_percent"),
            loop_lag_p50_ms=float(row.get("loop_lag_p50_ms") or 0.0),
            loop_lag_p99_ms=number(path, line, row, "loop_lag_p99_ms"),
            loop_lag_max_ms=float(row.get("loop_lag_max_ms") or 0.0),
            clock_offset_ms=float(row.get("clock_offset_ms") or 0.0),
            clock_uncertainty_ms=float(row.get("clock_uncertainty_ms") or 0.0),
            unsettled_chats=int(row.get("unsettled_chats") or 0),
            rss_mib=rss or None,
        )
        try:
            phase = parse_phase(row.get("phase") or "running")  # older files: load only
        except ValueError as exc:
            raise ConfigError(f"{path}, line {line}: {exc}") from None
        process = ProcessHealth(row["process"], health, phase, row["saturated"] == "true")
        run.health.append(
            HealthRow(
                timestamp(path, line, row["interval_start"]),
                timestamp(path, line, row["interval_end"]),
                process,
            )
        )


def _breaches(run: RunData, path: Path, rows: Iterator[tuple[int, dict[str, str]]]) -> None:
    for line, row in rows:
        run.breaches.append(
            Breach(
                timestamp(path, line, row["time"]),
                row["kind"],
                row["chat_id"],
                row["message_ids"],
                row["users"],
                row["detail"],
            )
        )


def _slo(run: RunData, path: Path, rows: Iterator[tuple[int, dict[str, str]]]) -> None:
    for _, row in rows:
        passed = row["passed"]
        # Files from before the verdict column: PASS, FAIL or (no value) NOT JUDGED.
        word = row.get("verdict") or {"true": "PASS", "false": "FAIL"}.get(passed, "NOT JUDGED")
        run.slo.append((row["threshold"], row["value"], passed == "true", word))


def _server_metrics(run: RunData, path: Path, rows: Iterator[tuple[int, dict[str, str]]]) -> None:
    for line, row in rows:
        run.server_samples.append(
            (
                timestamp(path, line, row["time"]),
                row["url"],
                row["name"],
                row["labels"],
                number(path, line, row, "value"),
            )
        )


_LOADERS: Final[
    dict[str, Callable[[RunData, Path, Iterator[tuple[int, dict[str, str]]]], None]]
] = {
    "stats": _stats,
    "stats_history": _history,
    "failures": _plain("locust_failures"),
    "exceptions": _plain("locust_exceptions"),
    "chat_metrics": _metrics,
    "chat_summary": _plain("summary"),
    "chat_failures": _failures,
    "generator_health": _health,
    "invariants": _breaches,
    "slo": _slo,
    "server_metrics": _server_metrics,
}


def progress_to_stderr(text: str) -> None:
    sys.stderr.write(f"  {text}\n")
    sys.stderr.flush()
