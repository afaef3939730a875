"""Where a run's numbers meet, on the master (or the only process).

Process intervals go in and are merged (:mod:`chatload.records.intervals`); each
merged interval goes to every consumer, each in its own module and none reaching
into another: the files (:mod:`~chatload.records.files`), the whole run's totals
and a capacity search's level (:mod:`~chatload.records.windows`), drift
(:mod:`~chatload.records.drift_feed`), trust and saturation
(:mod:`~chatload.records.trust`) and what live views show
(:mod:`~chatload.records.live_state`). Breaches and the server's scrapes go to the
consumers that keep them. A report replays the same consumers over a run's files
(``analysis.replay``), so the two cannot disagree.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from chatload.drift import DRIFT_COLUMNS, ServerPoints
from chatload.records.drift_feed import DriftFeed
from chatload.records.files import RunFiles, ServerSample
from chatload.records.hdr import IntervalSnapshot
from chatload.records.health import Saturation
from chatload.records.intervals import IntervalMerger, MergedInterval
from chatload.records.live_state import LiveState
from chatload.records.traffic_feed import TRAFFIC_INTERVAL_COLUMNS, TrafficFeed
from chatload.records.trust import TrustCounter
from chatload.records.windows import Window
from chatload.tracking.invariants import Breach
from chatload.traffic.compare import TRAFFIC_COLUMNS
from chatload.traffic.exportfiles import write_export

__all__ = ["IntervalPipeline"]


class IntervalPipeline:
    def __init__(
        self,
        prefix: str | None,
        *,
        processes: Callable[[], int],
        saturation: Saturation | None = None,
        horizon_hours: float = 24.0,
    ) -> None:
        self.prefix = prefix
        self.files = RunFiles(prefix)
        self.run = Window()  # the whole run
        self.drift = DriftFeed(horizon_hours)
        self.trust = TrustCounter()
        self.live = LiveState()
        self.server_scrape_failures: dict[str, int] = {}  # by URL (the scraper counts)
        self._merger = IntervalMerger(processes, saturation or Saturation())
        self._server_points = ServerPoints()
        self._level: Window | None = None
        self.traffic: TrafficFeed | None = None  # a model run's proof (follow_traffic)
        self._traffic_written = False

    def follow_traffic(self, feed: TrafficFeed) -> None:
        """A model run: its traffic is kept and, at the end, judged against the model."""
        self.traffic = feed

    def add_interval(self, snapshot: IntervalSnapshot) -> None:
        for interval in self._merger.add(snapshot):
            self._consume(interval)

    def _consume(self, interval: MergedInterval) -> None:
        for consumer in (self.files, self.run, self.drift, self.trust, self.live):
            consumer.add_interval(interval)
        if self.traffic is not None:
            self.traffic.add_interval(interval)
        if self._level is not None:
            self._level.add_interval(interval)

    def add_breaches(self, breaches: Iterable[Breach]) -> None:
        now = time.time()
        stamped = [b if b.wall else dataclasses.replace(b, wall=now) for b in breaches]
        self.files.add_breaches(stamped)
        self.live.add_breaches(stamped)

    def add_server_metrics(self, wall: float, url: str, samples: Iterable[ServerSample]) -> None:
        """One scrape of a server's metrics: written as they are; its points wait
        for the interval they fall in to join the drift."""
        samples = list(samples)
        self.files.add_server_samples(wall, url, samples)
        for sample in samples:
            point = self._server_points.point(url, sample.name, sample.labels, wall, sample.value)
            if point is None:
                continue
            subject, value = point
            self.drift.add_server_point(wall, subject, value)
            if not sample.labels:
                self.live.add_server_point(url, subject, value)
                if self._level is not None:
                    self._level.add_server_point(wall, subject, value)

    def open_window(self, start: float) -> Window:
        """From now on, intervals that start at ``start`` or later are also merged
        into a window of their own (a capacity search's level), until it is closed."""
        self._level = Window(start, breaches_before=dict(self.live.breaches))
        return self._level

    def close_window(self) -> None:
        self._level = None

    def write_table(self, name: str, columns: tuple[str, ...], rows: Iterable[list[str]]) -> None:
        """``PREFIX_<name>.csv`` written whole (the SLO verdicts: ``chatload.slo``)."""
        self.files.write_table(name, columns, rows)

    def finish(self) -> None:
        """Merge and write what is pending, then the whole-run summary; idempotent."""
        for interval in self._merger.flush():
            self._consume(interval)
        self.files.write_summary(self.run)
        self.files.write_table("drift", DRIFT_COLUMNS, self.drift.rows())
        if self.traffic is not None and not self._traffic_written:
            self._traffic_written = True
            self._write_traffic(self.traffic)

    def _write_traffic(self, feed: TrafficFeed) -> None:
        rows = feed.compared()
        trust = self.trust.trust
        trust.traffic_judged = True
        trust.traffic_differs = [row.quantity for row in rows if row.verdict == "differs"]
        trust.traffic_dropped = feed.dropped
        trust.traffic_unanswered = feed.answers_dropped
        self.files.write_table("traffic", TRAFFIC_COLUMNS, [row.row() for row in rows])
        self.files.write_table("traffic_intervals", TRAFFIC_INTERVAL_COLUMNS, feed.interval_rows)
        if self.prefix is not None:
            feed.model.write(Path(f"{self.prefix}_traffic_model.json"))  # for the report
            export, chat_ids = feed.export()
            write_export(
                export,
                Path(self.prefix).parent,
                chat_ids,
                stem=f"{Path(self.prefix).name}_traffic_",
            )

    def close(self) -> None:
        self.finish()
        self.files.close()
