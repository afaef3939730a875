"""The drift points of a run, fed with its merged intervals and the server's scrapes.

Each running interval adds a point to each of its subjects (``chatload.drift``):
each metric's p50, p99 and failure ratio (unless a generator process was saturated
in it), each generator process's RSS and loop lag. A scrape of the server waits
until the interval it falls in is merged, and joins the drift only if that interval
was a running one. The same feed serves the
live run and, replayed from the files, the report (``analysis.replay``).
"""

from __future__ import annotations

from chatload.drift import (
    DriftSeries,
    Subject,
    Trend,
    drift_rows,
    generator_points,
    metric_points,
)
from chatload.records.intervals import MergedInterval

__all__ = ["DriftFeed"]


class DriftFeed:
    def __init__(self, horizon_hours: float = 24.0) -> None:
        self.horizon_hours = horizon_hours
        self.series = DriftSeries()
        self._waiting: list[tuple[float, Subject, float]] = []
        self._intervals = 0
        # The trends and rows, with the (intervals, subjects) they were worked out at:
        # a live view looks every 2 s, and a trend costs O(n²).
        self._trends: tuple[tuple[int, int], dict[Subject, Trend | None]] | None = None
        self._rows: tuple[tuple[int, int], list[list[str]]] | None = None

    def add_server_point(self, wall: float, subject: Subject, value: float) -> None:
        self._waiting.append((wall, subject, value))

    def add_interval(self, interval: MergedInterval) -> None:
        self._intervals += 1
        taken = [item for item in self._waiting if item[0] < interval.end]
        self._waiting = [item for item in self._waiting if item[0] >= interval.end]
        if not interval.running:
            return
        series, wall = self.series, interval.end
        # A saturated interval's latencies are the generator's (or a stalled machine's),
        # not the server's: they are no point of the server's drift.
        server_side = {} if interval.saturated else interval.metrics
        for name, metric in server_side.items():
            figures = interval.figures[name]
            for subject, value in metric_points(
                name,
                p50_ms=figures.p50_ms,
                p99_ms=figures.p99_ms,
                answered=metric.answered,
                operations=metric.operations,
                failures=metric.failures,
            ):
                series.add(subject, wall, value)
        for process in interval.processes:
            health = process.health
            for subject, value in generator_points(
                process.process, health.rss_bytes, health.loop_lag_p99_ms
            ):
                series.add(subject, wall, value)
        for at, subject, value in taken:
            series.add(subject, at, value)

    def _key(self) -> tuple[int, int]:
        return (self._intervals, len(self.series.points))

    def trends(self) -> dict[Subject, Trend | None]:
        """Each subject's trend so far, worked out again only once an interval came."""
        if self._trends is None or self._trends[0] != self._key():
            self._trends = (self._key(), self.series.trends())
        return self._trends[1]

    def rows(self) -> list[list[str]]:
        """``PREFIX_drift.csv``'s rows, from the same trends."""
        trends = self.trends()
        if self._rows is None or self._rows[0] != self._key():
            self._rows = (self._key(), drift_rows(self.series, self.horizon_hours, trends))
        return self._rows[1]
