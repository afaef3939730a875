"""What ``chatload compare`` found: its policy, each figure's change, the verdict.

Plain data, shared by the comparison itself (``analysis.compare``) and its
pictures (``analysis.compare_plots``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hdrh.histogram import HdrHistogram

from chatload.analysis.inputs import RunData
from chatload.errors import ConfigError
from chatload.records.windows import Window
from chatload.slo import RunFigures, run_figures
from chatload.tracking.metrics import SEND_ACK

__all__ = ["SHOWN", "Change", "ComparePolicy", "Comparison", "Totals"]

SHOWN: Final = ("p50", "p90", "p95", "p99", "p999", "max")


@dataclass(frozen=True, slots=True)
class ComparePolicy:
    tolerance: float = 0.10  # relative
    min_change_ms: float = 1.0
    failure_tolerance: float = 0.001  # absolute: 0.1 percentage point
    judged: tuple[str, ...] = ("p50", "p95", "p99")

    def __post_init__(self) -> None:
        unknown = [name for name in self.judged if name not in SHOWN]
        if unknown:
            raise ConfigError(
                f"--percentiles: unknown {', '.join(unknown)} (choose from {', '.join(SHOWN)})"
            )
        if self.tolerance < 0 or self.min_change_ms < 0 or self.failure_tolerance < 0:
            raise ConfigError("--tolerance, --min-change-ms and --failure-tolerance must be >= 0")


@dataclass(frozen=True, slots=True)
class Change:
    metric: str
    statistic: str
    baseline: float | None
    candidate: float | None
    unit: str  # "ms", "%", "/s" or ""
    judged: bool
    regressed: bool
    note: str = ""  # why a figure is not judged, or was not called a regression
    p_value: float | None = None  # a member of the judged family: its one-sided p-value

    @property
    def relative(self) -> float | None:
        if self.baseline is None or self.candidate is None or not self.baseline:
            return None
        return self.candidate / self.baseline - 1

    def text(self, value: float | None) -> str:
        if value is None:
            return "-"
        if self.unit == "%":
            return f"{value:.3%}"
        if self.unit == "ms":
            return f"{value:.3f} ms"
        return f"{value:,.1f}{self.unit}"

    def verdict(self) -> str:
        if self.regressed:
            return "REGRESSED"
        return self.note or ("ok" if self.judged else "")

    def change_text(self) -> str:
        if self.baseline is None or self.candidate is None:
            return "no samples" if self.candidate is None else "new"
        if self.unit == "%":
            return f"{(self.candidate - self.baseline) * 100:+.3f} pt"
        relative = self.relative
        return f"{relative:+.1%}" if relative is not None else f"{self.candidate:+g}"


@dataclass(frozen=True, slots=True)
class Totals:
    """One run merged whole (``records.windows.Window``, replayed from its files)
    over its span in seconds."""

    window: Window
    seconds: float

    def histogram(self, metric: str) -> HdrHistogram | None:
        snapshot = self.window.metrics.get(metric)
        return snapshot.histogram if snapshot is not None else None

    def figures(self) -> RunFigures:
        return run_figures(self.window.metrics, self.seconds, {})

    def rate(self) -> float | None:
        """Sends acknowledged in time per second."""
        if SEND_ACK not in self.window.metrics or self.seconds <= 0:
            return None
        return self.window.acknowledged() / self.seconds


@dataclass(frozen=True, slots=True)
class Comparison:
    baseline: RunData
    candidate: RunData
    baseline_totals: Totals
    candidate_totals: Totals
    changes: list[Change]
    policy: ComparePolicy

    @property
    def regressions(self) -> list[Change]:
        return [change for change in self.changes if change.regressed]

    def verdict(self) -> str:
        worse = self.regressions
        judged = sum(1 for change in self.changes if change.judged)
        if not worse:
            return (
                f"NO REGRESSION: {judged} judged figures within {self.policy.tolerance:.0%} "
                f"(and {self.policy.min_change_ms:g} ms) of the baseline"
            )
        # The surest first: most samples, clearest change.
        worse = sorted(worse, key=lambda c: 1.0 if c.p_value is None else c.p_value)
        listed = ", ".join(f"{c.metric} {c.statistic} {c.change_text()}" for c in worse[:6])
        more = f" and {len(worse) - 6} more" if len(worse) > 6 else ""
        return f"REGRESSION: {len(worse)} of {judged} judged figures worse: {listed}{more}"
