"""The steps of a capacity run and its capacity verdict.

Each step's window (``records.windows.Window``) is merged by the report's one pass
over the run's intervals (``analysis.replay``), as the run's own windows are.

Steps are the plateaus of the user count (Locust's stats history): a level held
for at least ``min_hold`` seconds; the first ``settle`` seconds of each are left out
(users still connecting). For each step, every SLO is judged on that step alone.

- The highest passing step is the highest user count where every SLO holds.
- The knee is the last step before latency turns up: the highest step up to which
  the key metric's p99 stays within twice the first step's, and the throughput per
  user within 80 % of it. Past it, the server trades latency for load.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from chatload.analysis.inputs import RunData
from chatload.records.windows import Window
from chatload.slo import RunFigures, Threshold, Verdict, evaluate, run_figures

__all__ = ["Capacity", "Step", "find_steps", "judge_capacity"]

KNEE_LATENCY: Final = 2.0
KNEE_EFFICIENCY: Final = 0.8


def find_steps(
    users: Iterable[tuple[float, int]], *, min_hold: float = 20.0, settle: float = 10.0
) -> list[tuple[int, float, float]]:
    """(users, start, end) of each plateau of the user count, settle time left out."""
    plateaus: list[list[float]] = []
    for time, count in users:
        if plateaus and plateaus[-1][0] == count:
            plateaus[-1][2] = time
        else:
            plateaus.append([count, time, time])
    return [
        (int(count), start + settle, end)
        for count, start, end in plateaus
        if count > 0 and end - start >= min_hold
    ]


@dataclass
class Step:
    users: int
    start: float
    end: float
    figures: RunFigures
    verdicts: list[Verdict]
    throughput: float  # acknowledged messages per second

    @property
    def measured(self) -> bool:
        """Did any whole reporting interval fall within the step?"""
        return any(figures.count for figures in self.figures.metrics.values())

    @property
    def passed(self) -> bool:
        return self.measured and all(verdict.passed for verdict in self.verdicts)

    def p99(self, metric: str) -> float | None:
        figures = self.figures.metrics.get(metric)
        return figures.percentiles.p99_ms if figures and figures.count else None


@dataclass
class Capacity:
    steps: list[Step]
    key_metric: str
    highest_passing: Step | None
    knee: Step | None
    knee_reached: bool
    text: str


def judge_capacity(
    run: RunData,
    per_step: list[Window],
    steps: list[tuple[int, float, float]],
    thresholds: list[Threshold],
    key_metric: str = "delivery",
) -> Capacity | None:
    """The capacity verdict of a step run; None when the run has fewer than two steps."""
    if len(steps) < 2:
        return None
    judged = []
    for (users, start, end), window in zip(steps, per_step, strict=True):
        breaches: dict[str, int] = {}
        for breach in run.breaches:
            if start <= breach.time < end:
                breaches[breach.kind] = breaches.get(breach.kind, 0) + 1
        figures = run_figures(window.metrics, end - start, breaches)
        acked = figures.metrics.get("send_ack")
        throughput = (
            (acked.count - acked.failures) / (end - start) if acked and end > start else 0.0
        )
        judged.append(Step(users, start, end, figures, evaluate(thresholds, figures), throughput))
    measured = [step for step in judged if step.measured]
    unmeasured = [step.users for step in judged if not step.measured]
    warning = (
        f"{len(unmeasured)} load level(s) ({', '.join(map(str, unmeasured))} users) held no "
        f"whole reporting interval of {run.interval_seconds:g} s after settling: hold the "
        "steps longer, or lower --chat-interval. "
        if unmeasured
        else ""
    )
    if len(measured) < 2:
        text = warning + "Fewer than two load levels were measured: no capacity verdict."
        return Capacity(judged, key_metric, None, None, False, text)
    passing = [step for step in measured if step.passed]
    highest = max(passing, key=lambda step: step.users) if passing else None
    knee, reached = _knee(measured, key_metric)
    return Capacity(
        judged,
        key_metric,
        highest,
        knee,
        reached,
        warning + _verdict(measured, key_metric, highest, knee, reached),
    )


def _knee(steps: list[Step], metric: str) -> tuple[Step | None, bool]:
    first = steps[0]
    base_p99 = first.p99(metric)
    base_efficiency = first.throughput / first.users if first.users else 0.0
    if base_p99 is None:
        return None, False
    knee = first
    for step in steps[1:]:
        p99 = step.p99(metric)
        efficiency = step.throughput / step.users if step.users else 0.0
        if (
            p99 is None
            or p99 > KNEE_LATENCY * base_p99
            or (base_efficiency and efficiency < KNEE_EFFICIENCY * base_efficiency)
        ):
            return knee, True
        knee = step
    return knee, False


def _verdict(
    steps: list[Step], metric: str, highest: Step | None, knee: Step | None, reached: bool
) -> str:
    parts = []
    if highest is None:
        parts.append(f"No step meets every SLO, not even the first ({steps[0].users} users).")
    else:
        parts.append(
            f"Every SLO holds up to {highest.users} users ({highest.throughput:,.0f} messages/s)."
        )
    if knee is None:
        parts.append(f"No {metric} samples to find the knee with.")
    elif reached:
        after = steps[steps.index(knee) + 1]
        before_p99, after_p99 = knee.p99(metric), after.p99(metric)
        turn = (
            f"{metric} p99 goes from {before_p99:.1f} ms to {after_p99:.1f} ms"
            if before_p99 is not None and after_p99 is not None
            else "it loses its samples"
        )
        parts.append(
            f"Latency turns up after {knee.users} users ({knee.throughput:,.0f} messages/s at the "
            f"knee): at {after.users} users {turn}."
        )
    else:
        parts.append(
            f"No knee up to {steps[-1].users} users: {metric} p99 stays within "
            f"{KNEE_LATENCY:g} times the first step's; test further to find it."
        )
    return " ".join(parts)
