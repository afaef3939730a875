"""Microsecond records of every metric, per reporting interval, mergeable.

Each generator process keeps one HDR histogram (1 µs to 1 hour, 3 significant
digits) per metric for the current interval. Intervals are aligned on the wall
clock (``floor(time / length) * length``), so the intervals of every worker line
up and the master merges them by start time. An interval travels as an
:class:`IntervalSnapshot` (histograms encoded, as HdrHistogram's own format).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from hdrh.histogram import HdrHistogram

from chatload.records.health import Health, Phase, parse_phase
from chatload.traffic.batch import TrafficBatch

__all__ = [
    "HIGHEST_US",
    "PERCENTILE_SHARES",
    "IntervalRecorder",
    "IntervalSnapshot",
    "MetricSnapshot",
    "Percentiles",
    "decode_histogram",
    "new_histogram",
    "percentiles",
    "record_many",
    "value_buckets",
]

HIGHEST_US: Final = 3_600_000_000  # one hour
_BUFFERED: Final = 65_536  # values kept before they are folded into the histogram
_DIGITS: Final = 3


def _acyclic(histogram: HdrHistogram) -> HdrHistogram:
    """hdrh's histogram and its encoder point at each other: a reference cycle that
    only the cyclic garbage collector frees. Generator processes keep that
    collector away from what they freeze (``loadgen.engine.gc_policy``), so every
    histogram here points back through a weak proxy and is freed as soon as it
    is dropped."""
    histogram.encoder.histogram = weakref.proxy(histogram)
    return histogram


def new_histogram() -> HdrHistogram:
    return _acyclic(HdrHistogram(1, HIGHEST_US, _DIGITS))


def decode_histogram(encoded: str) -> HdrHistogram:
    """A histogram from HdrHistogram's compressed, base64 encoding."""
    return _acyclic(HdrHistogram.decode(encoded.encode("ascii")))


def record_many(histogram: HdrHistogram, micros: Sequence[int] | np.ndarray) -> None:
    """Record many values at once: hdrh's own index arithmetic, vectorised.

    A generator records three or four samples per chat message; one
    ``record_value`` call each would cost more than the rest of the bookkeeping.
    """
    if len(micros) == 0:
        return
    values = np.clip(np.asarray(micros, dtype=np.int64), 1, HIGHEST_US)
    bits = np.frexp((values | histogram.sub_bucket_mask).astype(np.float64))[1]
    buckets = bits - histogram.unit_magnitude - (histogram.sub_bucket_half_count_magnitude + 1)
    subs = values >> (buckets + histogram.unit_magnitude)
    indexes = ((buckets + 1) << histogram.sub_bucket_half_count_magnitude) + (
        subs - histogram.sub_bucket_half_count
    )
    counts = np.ctypeslib.as_array(histogram.counts)
    counts += np.bincount(indexes, minlength=histogram.counts_len).astype(counts.dtype)
    histogram.total_count += len(values)
    histogram.min_value = min(histogram.min_value, int(values.min()))
    histogram.max_value = max(histogram.max_value, int(values.max()))


@dataclass(frozen=True, slots=True)
class Percentiles:
    """In milliseconds, with microsecond precision."""

    count: int
    min_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float


# Each percentile's name and share of the samples at or below it: one table for
# the exports, SLOs, comparisons and the capacity search.
PERCENTILE_SHARES: Final = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}
_SHARES: Final = tuple(PERCENTILE_SHARES.values())


def percentiles(histogram: HdrHistogram, unanswered: int = 0) -> Percentiles:
    """pXX is the value at rank floor(count * XX / 100), counting from 0: Locust's
    convention, so that the two can be compared in a sparse tail, where two
    neighbouring samples may be milliseconds apart. Values are the highest of
    their HDR bucket (3 significant digits: within 0.1 %).

    ``unanswered``: requests never answered, each slower than any answer; a
    percentile whose rank falls among them (and the maximum) is infinite.

    Ranks are found with numpy over the counts: hdrh's own iterators walk the
    23,552 buckets in Python, 20 ms a histogram, which on a generator's event loop
    would be latency the tool adds to its own measurements."""
    answered = histogram.get_total_count()
    count = answered + max(unanswered, 0)
    if not count:
        return Percentiles(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    ranks = [min(count - 1, int(count * share)) for share in _SHARES]
    inside = [rank for rank in ranks if rank < answered]
    values = _values_at_ranks(histogram, inside) if inside else []
    values += [math.inf] * (len(ranks) - len(inside))
    p50, p90, p95, p99, p999 = values
    return Percentiles(
        count,
        histogram.get_min_value() / 1000 if answered else math.inf,
        p50,
        p90,
        p95,
        p99,
        p999,
        histogram.get_max_value() / 1000 if count == answered else math.inf,
    )


def _bucket_ms(histogram: HdrHistogram, index: int) -> float:
    """The highest value (ms) of bucket ``index``."""
    raw = histogram.get_value_from_index(index)
    return float(histogram.get_highest_equivalent_value(raw)) / 1000


def _values_at_ranks(histogram: HdrHistogram, ranks: Sequence[int]) -> list[float]:
    """The values (ms) at 0-based ``ranks`` (each below the count) of the samples."""
    cumulative = np.cumsum(np.frombuffer(histogram.counts, dtype=np.uint64))
    indexes = np.searchsorted(cumulative, np.array(ranks, dtype=np.uint64), side="right")
    return [_bucket_ms(histogram, int(index)) for index in indexes]


def value_buckets(histogram: HdrHistogram) -> tuple[np.ndarray, np.ndarray]:
    """The non-empty buckets: their values (ms, the highest of each) and counts."""
    counts = np.ctypeslib.as_array(histogram.counts).astype(np.float64)
    indexes = np.nonzero(counts)[0]
    values_ms = [_bucket_ms(histogram, int(index)) for index in indexes]
    return np.array(values_ms, dtype=np.float64), counts[indexes]


@dataclass(slots=True)
class MetricSnapshot:
    histogram: HdrHistogram
    failures: int = 0
    kinds: dict[str, int] = field(default_factory=dict)  # failures by kind
    cross_process: int = 0  # samples timed across processes (wall clocks)
    late: int = 0  # answers that came after their request had failed by timeout

    @property
    def timeouts(self) -> int:
        return self.kinds.get("timeout", 0)

    @property
    def answered(self) -> int:
        """Answers with their latency, late ones included (the histogram's count)."""
        count: int = self.histogram.get_total_count()
        return count

    @property
    def operations(self) -> int:
        """Requests and awaited frames ended here: the histogram holds a latency
        for each answer (late ones too) and each failure that took a measurable
        time; a timeout is counted with no latency, and its late answer is no
        second operation."""
        return self.answered - self.late + self.timeouts

    @property
    def unanswered(self) -> int:
        """Timeouts whose answer never came (meaningful over a whole run)."""
        return max(0, self.timeouts - self.late)

    def to_wire(self) -> list[Any]:
        return [
            self.histogram.encode().decode("ascii"),
            self.failures,
            self.kinds,
            self.cross_process,
            self.late,
        ]

    @classmethod
    def from_wire(cls, item: list[Any]) -> MetricSnapshot:
        encoded, failures, kinds, cross_process, late = item
        return cls(
            decode_histogram(encoded),
            int(failures),
            {str(kind): int(count) for kind, count in kinds.items()},
            int(cross_process),
            int(late),
        )

    def add(self, other: MetricSnapshot) -> None:
        if other.histogram.get_total_count():  # hdrh takes an empty one's minimum as 0
            self.histogram.add(other.histogram)
        self.failures += other.failures
        for kind, count in other.kinds.items():
            self.kinds[kind] = self.kinds.get(kind, 0) + count
        self.cross_process += other.cross_process
        self.late += other.late


@dataclass(slots=True)
class IntervalSnapshot:
    """One process's records of one interval (start and end: Unix seconds)."""

    start: float
    end: float
    process: str
    metrics: dict[str, MetricSnapshot] = field(default_factory=dict)
    health: Health | None = None
    final: bool = False  # the process's last interval of the run
    # What the generator was doing: "running" (the load), or "spawning" /
    # "stopping" (start-up and shutdown work, whose health is not the load's).
    phase: Phase = "running"
    traffic: TrafficBatch | None = None  # with a traffic model: what the people did

    def to_wire(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "process": self.process,
            "metrics": {name: snap.to_wire() for name, snap in self.metrics.items()},
            "health": None if self.health is None else self.health.to_wire(),
            "final": self.final,
            "phase": self.phase,
            "traffic": None if self.traffic is None else self.traffic.to_wire(),
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> IntervalSnapshot:
        return cls(
            float(data["start"]),
            float(data["end"]),
            str(data["process"]),
            {name: MetricSnapshot.from_wire(item) for name, item in data["metrics"].items()},
            None if data["health"] is None else Health.from_wire(data["health"]),
            bool(data["final"]),
            parse_phase(data["phase"]),
            None if data.get("traffic") is None else TrafficBatch.from_wire(data["traffic"]),
        )


class IntervalRecorder:
    """The current interval of one process; ``record`` is the hot path."""

    def __init__(self, length: float, process: str, now_wall: float) -> None:
        if length <= 0:
            raise ValueError("the interval length must be positive")
        self.length = length
        self.process = process
        self._open(now_wall)

    def _open(self, wall: float) -> None:
        self.start = math.floor(wall / self.length) * self.length
        self.end = self.start + self.length
        self._values: dict[str, list[int]] = {}
        self._failures: dict[str, dict[str, int]] = {}
        self._histograms: dict[str, HdrHistogram] = {}
        self._cross: dict[str, int] = {}
        self._late: dict[str, int] = {}

    def record(
        self,
        metric: str,
        seconds: float,
        failure: str | None = None,
        cross_process: bool = False,
        *,
        measured: bool = True,
    ) -> None:
        """The hot path: keep the value (and the failure's kind); histograms are
        built at the roll. ``measured``: False for a timeout, whose latency is not
        known yet (its late answer brings it)."""
        values = self._values.get(metric)
        if values is None:
            values = self._values[metric] = []
            self._failures[metric] = {}
        if measured:
            values.append(round(seconds * 1_000_000))
        if failure is not None:
            kinds = self._failures[metric]
            kinds[failure] = kinds.get(failure, 0) + 1
        if cross_process:
            self._cross[metric] = self._cross.get(metric, 0) + 1
        if len(values) >= _BUFFERED:
            self._fold(metric)

    def late(self, metric: str, seconds: float, cross_process: bool = False) -> None:
        """An answer to a request already failed by its timeout: its true latency."""
        self.record(metric, seconds, None, cross_process)
        self._late[metric] = self._late.get(metric, 0) + 1

    def _fold(self, metric: str) -> HdrHistogram:
        histogram = self._histograms.get(metric)
        if histogram is None:
            histogram = self._histograms[metric] = new_histogram()
        record_many(histogram, self._values[metric])
        self._values[metric] = []
        return histogram

    def due(self, wall: float) -> bool:
        return wall >= self.end

    def roll(self, wall: float, health: Health | None = None) -> IntervalSnapshot:
        """Close the current interval (at ``wall`` if it is the end of the run)."""
        metrics = {
            metric: MetricSnapshot(
                self._fold(metric),
                sum(self._failures[metric].values()),
                self._failures[metric],
                self._cross.get(metric, 0),
                self._late.get(metric, 0),
            )
            for metric in list(self._values)
        }
        snapshot = IntervalSnapshot(
            self.start, min(self.end, max(wall, self.start)), self.process, metrics, health
        )
        self._open(wall)
        return snapshot
