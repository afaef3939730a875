"""What a live view shows of the run so far, kept as the merged intervals come.

The last interval's records, each process's last health, failures by metric and
kind, breaches by kind with the latest few, and the server's unlabelled series as
last scraped: the web UI's Chat tabs and the Prometheus endpoint read these
(``loadgen.watching.live``), at O(metrics x processes) a look.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from chatload.drift import Subject
from chatload.records.files import iso_time
from chatload.records.hdr import MetricSnapshot
from chatload.records.health import ProcessHealth
from chatload.records.intervals import MergedInterval
from chatload.tracking.invariants import Breach
from chatload.traffic.batch import OPEN_SESSIONS

__all__ = ["LiveState"]


class LiveState:
    def __init__(self) -> None:
        self.last_interval: dict[str, MetricSnapshot] = {}
        self.last_dropped_share = 0.0  # a model run's arrivals dropped in the last interval
        self.last_open_sessions: int | None = None  # and its sessions open (None: no model)
        self.last_health: dict[str, ProcessHealth] = {}  # by process
        self.failure_kinds: dict[tuple[str, str], int] = {}  # (metric, kind)
        self.breaches: dict[str, int] = {}  # by kind
        self.recent_breaches: deque[list[str]] = deque(maxlen=20)  # invariants.csv's rows
        self.last_server: dict[str, dict[str, float]] = {}  # by URL, by series

    def add_interval(self, interval: MergedInterval) -> None:
        self.last_interval = interval.metrics
        traffic = interval.traffic
        if traffic is not None:
            offered = traffic.of_every_role("offered")
            dropped = traffic.of_every_role("dropped")
            self.last_dropped_share = dropped / offered if offered else 0.0
            if OPEN_SESSIONS in traffic.counts:
                self.last_open_sessions = traffic.counts[OPEN_SESSIONS]
        else:
            self.last_dropped_share = 0.0
        for process in interval.processes:
            self.last_health[process.process] = process
        for name, metric in interval.metrics.items():
            for kind, failed in metric.kinds.items():
                key = (name, kind)
                self.failure_kinds[key] = self.failure_kinds.get(key, 0) + failed

    def add_breaches(self, breaches: Iterable[Breach]) -> None:
        for breach in breaches:
            self.breaches[breach.kind] = self.breaches.get(breach.kind, 0) + 1
            self.recent_breaches.append([iso_time(breach.wall), *breach.row()])

    def add_server_point(self, url: str, subject: Subject, value: float) -> None:
        """An unlabelled series of a scrape (``drift.ServerPoints``)."""
        self.last_server.setdefault(url, {})[subject.name] = value
