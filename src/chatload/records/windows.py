"""A span of a run, merged: the whole run, a capacity search's level, a step's plateau.

A window takes the merged intervals that lie within it, whole, and merges their
records; it is what the SLOs judge over that span (``slo.run_figures`` of its
metrics and seconds). The
live run keeps one for the whole run and one for the search's current level; a
report makes the same from the files, one per step of the user count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from chatload.drift import SERVER_CPU, SERVER_RSS, Subject
from chatload.records.hdr import MetricSnapshot, new_histogram
from chatload.records.intervals import MergedInterval
from chatload.tracking.metrics import SEND_ACK
from chatload.traffic.batch import OPEN_SESSIONS

__all__ = ["Window"]


@dataclass
class Window:
    start: float = -math.inf  # intervals that start here or later ...
    until: float = math.inf  # ... and end here or earlier
    breaches_before: dict[str, int] = field(default_factory=dict)  # when it opened
    metrics: dict[str, MetricSnapshot] = field(default_factory=dict)
    first: float | None = None  # the first merged interval's start
    end: float | None = None  # the last merged interval's end
    intervals: int = 0
    saturated: int = 0  # intervals where a generator process was saturated
    server_cpu: list[float] = field(default_factory=list)  # percent of a core, each scrape
    server_rss: float | None = None  # bytes, the last scrape
    # A model run's sessions begun (arrivals' and answering ones), and the sessions
    # open as each interval was taken, summed over the intervals that said.
    sessions_begun: int = 0
    sessions_open: int = 0
    sessions_counted: int = 0
    arrivals_offered: int = 0  # the model's arrivals given to the generators ...
    arrivals_dropped: int = 0  # ... and those that found no free slot or person

    def takes(self, interval: MergedInterval) -> bool:
        return interval.start >= self.start and interval.end <= self.until

    def add_interval(self, interval: MergedInterval) -> None:
        if not self.takes(interval):
            return
        for name, metric in interval.metrics.items():
            self.metrics.setdefault(name, MetricSnapshot(new_histogram())).add(metric)
        self.first = interval.start if self.first is None else min(self.first, interval.start)
        self.end = interval.end if self.end is None else max(self.end, interval.end)
        self.intervals += 1
        self.saturated += interval.saturated
        traffic = interval.traffic
        if traffic is not None:
            self.sessions_begun += traffic.of_every_role("started", "answering")
            self.sessions_open += traffic.counts.get(OPEN_SESSIONS, 0)
            self.sessions_counted += 1
            self.arrivals_offered += traffic.of_every_role("offered")
            self.arrivals_dropped += traffic.of_every_role("dropped")

    def add_server_point(self, wall: float, subject: Subject, value: float) -> None:
        """An unlabelled server series as scraped (``drift.ServerPoints``)."""
        if not self.start <= wall < self.until:
            return
        if subject.name == SERVER_CPU:
            self.server_cpu.append(value * 100)
        elif subject.name == SERVER_RSS:
            self.server_rss = value

    @property
    def seconds(self) -> float:
        """From the first merged interval's start to the last one's end."""
        return (self.end - self.first) if self.first is not None and self.end else 0.0

    def breaches(self, now: Mapping[str, int]) -> dict[str, int]:
        """The breaches found since the window opened, by kind."""
        return {kind: n - self.breaches_before.get(kind, 0) for kind, n in now.items()}

    def sessions_at_once(self) -> float | None:
        """Sessions open, the mean as the intervals were taken (None: no model run)."""
        return self.sessions_open / self.sessions_counted if self.sessions_counted else None

    def dropped_share(self) -> float:
        """The model's arrivals dropped, of those given to the generators (0: none)."""
        return self.arrivals_dropped / self.arrivals_offered if self.arrivals_offered else 0.0

    def acknowledged(self) -> int:
        """Sends answered in time (one answered late failed by its timeout first)."""
        sends = self.metrics.get(SEND_ACK)
        return (sends.operations - sends.failures) if sends is not None else 0
