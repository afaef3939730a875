"""Process intervals merged into the run's intervals. Pure: snapshots in, merged out.

Every generator process ships one :class:`~chatload.records.hdr.IntervalSnapshot`
per reporting interval; intervals are aligned on the wall clock, so the master
merges them by start time. An interval is merged once every process reported it,
or once two newer intervals have arrived (a worker that went away does not hold
the run back), and at the end whatever is left. Each merged interval carries each
metric's merged records and percentiles (worked out once, here) and each
process's health with its saturation verdict. Whatever consumes a run's numbers,
live (the files, the totals, drift, trust, the live view, the search's window) or
offline (``analysis.replay``), consumes these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from chatload.records.hdr import (
    IntervalSnapshot,
    MetricSnapshot,
    Percentiles,
    new_histogram,
    percentiles,
)
from chatload.records.health import Phase, ProcessHealth, Saturation, hottest_phase
from chatload.traffic.batch import TrafficBatch

__all__ = ["IntervalMerger", "MergedInterval"]


@dataclass(slots=True)
class MergedInterval:
    start: float
    end: float
    metrics: dict[str, MetricSnapshot]
    figures: dict[str, Percentiles]  # each metric's answers in this interval
    processes: tuple[ProcessHealth, ...]  # by process name
    traffic: TrafficBatch | None = None  # with a traffic model: every process's, merged

    @property
    def saturated(self) -> bool:
        return any(p.saturated for p in self.processes)

    @property
    def hot_phase(self) -> Phase | None:
        return hottest_phase(self.processes)

    @property
    def running(self) -> bool:
        """Every process reported, and all of them under load: a drift point."""
        return bool(self.processes) and all(p.phase == "running" for p in self.processes)


@dataclass
class _Pending:
    end: float
    processes: set[str] = field(default_factory=set)
    metrics: dict[str, MetricSnapshot] = field(default_factory=dict)
    health: list[ProcessHealth] = field(default_factory=list)
    traffic: TrafficBatch | None = None


class IntervalMerger:
    def __init__(self, processes: Callable[[], int], saturation: Saturation) -> None:
        self._processes = processes  # how many report (the master's workers, or 1)
        self._saturation = saturation
        self._pending: dict[float, _Pending] = {}

    def add(self, snapshot: IntervalSnapshot) -> list[MergedInterval]:
        """Take one process's interval; the intervals complete now, oldest first."""
        pending = self._pending.setdefault(snapshot.start, _Pending(snapshot.end))
        pending.end = max(pending.end, snapshot.end)
        pending.processes.add(snapshot.process)
        for name, metric in snapshot.metrics.items():
            pending.metrics.setdefault(name, MetricSnapshot(new_histogram())).add(metric)
        if snapshot.traffic is not None:
            if pending.traffic is None:
                pending.traffic = TrafficBatch()
            pending.traffic.add(snapshot.traffic)
        if snapshot.health is not None:
            saturated = self._saturation.saturated(snapshot.health)
            pending.health.append(
                ProcessHealth(snapshot.process, snapshot.health, snapshot.phase, saturated)
            )
        return self._ready()

    def _ready(self) -> list[MergedInterval]:
        starts = sorted(self._pending)
        expected = max(self._processes(), 1)
        ready = []
        for position, start in enumerate(starts):
            newer = len(starts) - position - 1
            if len(self._pending[start].processes) >= expected or newer >= 2:
                ready.append(_merged(start, self._pending.pop(start)))
        return ready

    def flush(self) -> list[MergedInterval]:
        """Whatever is left, oldest first: the end of the run."""
        return [_merged(start, self._pending.pop(start)) for start in sorted(self._pending)]


def _merged(start: float, pending: _Pending) -> MergedInterval:
    return MergedInterval(
        start,
        pending.end,
        pending.metrics,
        {name: percentiles(metric.histogram) for name, metric in pending.metrics.items()},
        tuple(sorted(pending.health, key=lambda p: p.process)),
        pending.traffic,
    )
