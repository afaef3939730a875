"""A run's files made up, for the report's benchmark and tests: as big as asked.

The samples are real: drawn from a log-normal distribution per metric and
recorded into the same interval histograms a run records, and the chatload
files are written by the run's own :class:`~chatload.records.pipeline.IntervalPipeline`,
so the report reads exactly what a run leaves. Locust's files follow Locust's
columns. The load is shaped by the plan: constant users (a soak) or steps (a
capacity run), latency that turns up past ``knee_users``, failures, breaches of
the guarantees and stretches where the generator was saturated.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from chatload.records.hdr import IntervalSnapshot, MetricSnapshot, new_histogram, record_many
from chatload.records.health import Health
from chatload.records.pipeline import IntervalPipeline
from chatload.tracking.invariants import BREACH_KINDS, Breach
from chatload.tracking.metrics import METRICS, REQUEST_TYPE

__all__ = ["SyntheticPlan", "write_synthetic_run"]

# Per metric: share of the samples and median latency in ms at light load.
_PROFILE: Final = {
    "connect": (0.01, 5.0),
    "initial_data": (0.01, 12.0),
    "send_ack": (1.0, 3.0),
    "delivery": (1.0, 4.0),
    "unread_propagation": (1.0, 4.5),
    "read_ack": (0.3, 3.0),
    "read_propagation": (0.3, 4.0),
    "history": (0.05, 8.0),
}
_SIGMA: Final = 0.45  # log-normal spread: p99 about 2.9 times the median
_LOCUST_PERCENTILES: Final = (
    "50%",
    "66%",
    "75%",
    "80%",
    "90%",
    "95%",
    "98%",
    "99%",
    "99.9%",
    "99.99%",
    "100%",
)
_STATS_COLUMNS: Final = (
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
    *_LOCUST_PERCENTILES,
)
_HISTORY_COLUMNS: Final = (
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
    *_LOCUST_PERCENTILES,
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
)


@dataclass(frozen=True, slots=True)
class SyntheticPlan:
    samples: int = 1_000_000  # chat samples over the whole run, every metric together
    seconds: float = 3600.0
    interval: float = 5.0  # chatload's reporting interval (--chat-interval)
    users: int = 200  # constant load (a soak) ...
    steps: tuple[int, ...] = ()  # ... or these user counts, each held an equal time
    knee_users: int = 0  # latency turns up past this many users; 0: never
    slowdown: float = 1.0  # every latency multiplied by this (a regressed build)
    failure_ratio: float = 0.001
    breaches: int = 0
    saturated_share: float = 0.0  # share of the run where the generator was saturated
    processes: int = 2
    seed: int = 1
    start: float = 1_790_000_000.0

    def users_at(self, offset: float) -> int:
        if self.steps:
            hold = self.seconds / len(self.steps)
            return self.steps[min(int(offset // hold), len(self.steps) - 1)]
        ramp = min(60.0, self.seconds / 10)
        return max(1, round(self.users * min(1.0, (offset + 1) / ramp)))

    def load_factor(self, users: int) -> float:
        if not self.knee_users:
            return 1.0
        return 1.0 + (users / self.knee_users) ** 6


def write_synthetic_run(
    prefix: Path, plan: SyntheticPlan, progress: Callable[[str], None] | None = None
) -> Path:
    """Write every file of a run at ``prefix`` (a --csv prefix); ``prefix``."""
    say = progress or (lambda text: None)
    rng = np.random.default_rng(plan.seed)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    intervals = max(1, math.ceil(plan.seconds / plan.interval))
    starts = plan.start + np.arange(intervals) * plan.interval
    users = np.array([plan.users_at(s - plan.start) for s in starts])
    hot = _saturated(rng, intervals, plan.saturated_share)
    weights = {metric: _PROFILE[metric][0] for metric in METRICS}
    total_weight = sum(weights.values())
    per_metric = {m: int(plan.samples * w / total_weight) for m, w in weights.items()}
    per_metric["send_ack"] += plan.samples - sum(per_metric.values())  # exactly plan.samples
    counts = {m: rng.multinomial(n, users / users.sum()) for m, n in per_metric.items()}
    pipeline = IntervalPipeline(str(prefix), processes=lambda: plan.processes)
    totals: dict[str, list[int]] = {metric: [0, 0] for metric in METRICS}  # count, failures
    for index, start in enumerate(starts):
        if index and index % 10_000 == 0:
            say(f"wrote {index:,} of {intervals:,} intervals")
        end = min(start + plan.interval, plan.start + plan.seconds)
        factor = plan.load_factor(int(users[index])) * plan.slowdown
        per_process = [IntervalSnapshot(start, end, f"worker-{p}") for p in range(plan.processes)]
        for metric in METRICS:
            n = int(counts[metric][index])
            if not n:
                continue
            median_us = _PROFILE[metric][1] * 1000 * factor
            values = rng.lognormal(math.log(median_us), _SIGMA, n).astype(np.int64)
            failures = int(rng.binomial(n, plan.failure_ratio)) if plan.failure_ratio else 0
            totals[metric][0] += n
            totals[metric][1] += failures
            for process, share in enumerate(np.array_split(values, plan.processes)):
                if not len(share):
                    continue
                kinds = _kinds(failures if process == 0 else 0)
                # A timeout is counted with no latency (records.hdr.MetricSnapshot).
                histogram = new_histogram()
                record_many(histogram, share[kinds.get("timeout", 0) :])
                per_process[process].metrics[metric] = MetricSnapshot(
                    histogram, sum(kinds.values()), kinds
                )
        for process, snapshot in enumerate(per_process):
            cpu = 95.0 if hot[index] else float(rng.normal(45 + 5 * process, 4))
            snapshot.health = Health(
                cpu_percent=cpu,
                loop_lag_p50_ms=0.2,
                loop_lag_p99_ms=float(rng.gamma(2.0, 0.8)) + (12.0 if hot[index] else 0.0),
                loop_lag_max_ms=5.0,
            )
            pipeline.add_interval(snapshot)
    pipeline.add_breaches(_breaches(rng, plan))
    pipeline.close()
    _write_locust_files(prefix, plan, totals)
    say(f"wrote {intervals:,} intervals of {sum(c for c, _ in totals.values()):,} samples")
    return prefix


def _kinds(failures: int) -> dict[str, int]:
    if not failures:
        return {}
    disconnects = failures // 4
    return {
        "timeout": failures - disconnects,
        **({"disconnect": disconnects} if disconnects else {}),
    }


def _saturated(rng: np.random.Generator, intervals: int, share: float) -> np.ndarray:
    """A few stretches, together about ``share`` of the run."""
    hot = np.zeros(intervals, dtype=bool)
    wanted = round(intervals * share)
    stretches = max(1, min(5, wanted))
    for _ in range(stretches if wanted else 0):
        length = max(1, wanted // stretches)
        first = int(rng.integers(0, max(1, intervals - length)))
        hot[first : first + length] = True
    return hot


def _breaches(rng: np.random.Generator, plan: SyntheticPlan) -> list[Breach]:
    breaches = []
    for number in range(plan.breaches):
        kind = BREACH_KINDS[number % len(BREACH_KINDS)]
        message = int(rng.integers(1, 1_000_000))
        breaches.append(
            Breach(
                kind,
                str(int(rng.integers(1, 10_000))),
                (message,),
                (1, 2),
                f"synthetic {kind}",
                0.0,
                plan.start + float(rng.uniform(0, plan.seconds)),
            )
        )
    breaches.sort(key=lambda breach: breach.wall)
    return breaches


def _write_locust_files(prefix: Path, plan: SyntheticPlan, totals: dict[str, list[int]]) -> None:
    """Locust's own four files, in its columns (the report reads a few of them)."""
    seconds = max(plan.seconds, 1e-9)
    count = sum(c for c, _ in totals.values())
    failures = sum(f for _, f in totals.values())
    with _csv(prefix, "stats", _STATS_COLUMNS) as writer:
        for metric, (metric_count, metric_failures) in totals.items():
            median = _PROFILE[metric][1]
            writer.writerow(_stats_row(metric, metric_count, metric_failures, median, seconds))
        writer.writerow(_stats_row("Aggregated", count, failures, 4, seconds))
    rate = count / seconds
    with _csv(prefix, "stats_history", _HISTORY_COLUMNS) as writer:
        for second in range(int(plan.seconds)):
            users = plan.users_at(second)
            writer.writerow(
                [
                    int(plan.start) + second,
                    users,
                    "",
                    "Aggregated",
                    f"{rate:.6f}",
                    "0.000000",
                    *[4] * len(_LOCUST_PERCENTILES),
                    int(rate * second),
                    0,
                    4,
                    4.4,
                    0.1,
                    100,
                    0,
                ]
            )
    with _csv(prefix, "failures", ("Method", "Name", "Error", "Occurrences")) as writer:
        for metric, (_, metric_failures) in totals.items():
            if metric_failures:
                writer.writerow(
                    [REQUEST_TYPE, metric, "timeout: no answer in time", metric_failures]
                )
    with _csv(prefix, "exceptions", ("Count", "Message", "Traceback", "Nodes")):
        pass


def _stats_row(name: str, count: int, failures: int, median: float, seconds: float) -> list[object]:
    """A row of Locust's stats file: the aggregate's median is 4 ms, its maximum 100."""
    aggregate = name == "Aggregated"
    return [
        "" if aggregate else REQUEST_TYPE,
        name,
        count,
        failures,
        median,
        median * 1.1,
        0.1,
        100 if aggregate else median * 20,
        0,
        count / seconds,
        failures / seconds,
        *[median] * len(_LOCUST_PERCENTILES),
    ]


@contextmanager
def _csv(prefix: Path, name: str, columns: tuple[str, ...]) -> Iterator[Any]:
    with Path(f"{prefix}_{name}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        yield writer
