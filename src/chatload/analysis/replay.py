"""A run's merged intervals rebuilt from its files, and the run's consumers replayed.

The run judged its drift, trust and saturation live from its merged intervals
(``records.pipeline``). A report rebuilds the same typed intervals from the files
(chat_metrics and chat_hdr row by row, as they were written together, with
chat_failures and generator_health) and feeds them, in one pass, to the same
consumers: the whole run's and each step's windows, the drift feed with the
server's scrapes, and the trust counter. So the report cannot disagree with the
run, and a day of intervals is decoded one at a time, in flat memory.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from chatload.analysis.csvfiles import csv_file, number, read_rows, timestamp
from chatload.analysis.inputs import RunData, iter_hdr
from chatload.drift import ServerPoints
from chatload.errors import ConfigError
from chatload.records.drift_feed import DriftFeed
from chatload.records.hdr import MetricSnapshot, Percentiles, decode_histogram, new_histogram
from chatload.records.health import ProcessHealth
from chatload.records.intervals import MergedInterval
from chatload.records.trust import TrustCounter
from chatload.records.windows import Window

__all__ = ["Replay", "merged_intervals", "replay"]

_FIGURES = ("min_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms")
_ROW_COLUMNS = ("interval_start", "metric", "failures", *_FIGURES)


@dataclass
class Replay:
    run: Window  # the whole run
    steps: list[Window]  # one per window asked for
    drift: DriftFeed
    trust: TrustCounter


def _metric_rows(
    run: RunData, progress: Callable[[str], None] | None
) -> Iterator[tuple[float, float, str, MetricSnapshot, Percentiles]]:
    """Each (interval, metric) of chat_metrics with its histogram from chat_hdr (the
    two are written row for row) and its failures by kind from chat_failures."""
    kinds: dict[tuple[float, str], dict[str, int]] = defaultdict(dict)
    for start, metric, kind, count in run.failures:
        kinds[(start, metric)][kind] = kinds[(start, metric)].get(kind, 0) + count
    path = csv_file(run.prefix, "chat_metrics")
    rows = read_rows(run.prefix, "chat_metrics", _ROW_COLUMNS)
    for start, end, metric, count, encoded in iter_hdr(run, progress):
        line, row = next(rows, (0, {}))
        if not row or (timestamp(path, line, row["interval_start"]), row["metric"]) != (
            start,
            metric,
        ):
            raise ConfigError(
                f"{path}, line {line or 'end'}: does not match {run.hdr_path} row for row "
                f"({metric} at {start}): were the two files written by one run?"
            )
        histogram = decode_histogram(encoded) if count else new_histogram()
        snapshot = MetricSnapshot(
            histogram,
            int(number(path, line, row, "failures", int)),
            kinds.get((start, metric), {}),
            int(row.get("cross_process") or 0),
            int(row.get("late") or 0),
        )
        figures = Percentiles(count, *(number(path, line, row, name) for name in _FIGURES))
        yield start, end, metric, snapshot, figures


def merged_intervals(
    run: RunData, progress: Callable[[str], None] | None = None
) -> Iterator[MergedInterval]:
    """The run's merged intervals in the order they were written, as the run had
    them: an interval with health and no samples too."""
    health: dict[float, list[ProcessHealth]] = defaultdict(list)
    ends: dict[float, float] = {}
    for row in run.health:
        health[row.start].append(row.process)
        ends[row.start] = max(ends.get(row.start, row.end), row.end)
    health_only = sorted(health)
    current: MergedInterval | None = None
    for start, end, metric, snapshot, figures in _metric_rows(run, progress):
        if current is not None and current.start != start:
            yield current
            current = None
        if current is None:
            while health_only and health_only[0] < start:
                alone = health_only.pop(0)
                yield MergedInterval(alone, ends[alone], {}, {}, tuple(health[alone]))
            if health_only and health_only[0] == start:
                health_only.pop(0)
            current = MergedInterval(start, end, {}, {}, tuple(health.get(start, ())))
        current.metrics[metric] = snapshot
        current.figures[metric] = figures
        current.end = max(current.end, end)
    if current is not None:
        yield current
    for alone in health_only:
        yield MergedInterval(alone, ends[alone], {}, {}, tuple(health[alone]))


def replay(
    run: RunData,
    steps: list[tuple[float, float]] | None = None,
    *,
    horizon_hours: float = 24.0,
    progress: Callable[[str], None] | None = None,
) -> Replay:
    """The run's consumers fed with its merged intervals, in one pass; ``steps``
    (start, end) become windows of their own."""
    result = Replay(
        Window(),
        [Window(start, end) for start, end in steps or ()],
        DriftFeed(horizon_hours),
        TrustCounter(),
    )
    starts = [window.start for window in result.steps]
    samples = sorted(run.server_samples, key=lambda sample: sample[0])
    points, taken = ServerPoints(), 0
    for interval in merged_intervals(run, progress):
        # The scrapes before the interval's end were in when the run merged it.
        while taken < len(samples) and samples[taken][0] < interval.end:
            wall, url, name, labels, value = samples[taken]
            point = points.point(url, name, labels, wall, value)
            if point is not None:
                result.drift.add_server_point(wall, *point)
            taken += 1
        for consumer in (result.run, result.drift, result.trust):
            consumer.add_interval(interval)
        slot = bisect.bisect_right(starts, interval.start) - 1
        if slot >= 0:
            result.steps[slot].add_interval(interval)
    return result
