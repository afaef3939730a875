"""``chatload compare BASELINE CANDIDATE``: did the candidate get worse?

Both runs' interval histograms are merged into whole-run distributions, so
percentiles are exact (to HDR's 0.1 %) rather than averages of averages. A
figure has regressed when:

- a judged latency percentile (p50, p95 and p99 by default) is more than
  ``tolerance`` above the baseline's *and* more than ``min_change_ms`` above it:
  the second rule keeps a 0.3 ms median from failing CI by moving 0.1 ms;
- a metric the baseline measured has no samples in the candidate;
- the failure ratio rose by more than ``failure_tolerance`` (absolute);
- acknowledged messages per second fell by more than ``tolerance``;
- the candidate broke more guarantees than the baseline.

Noise is not a regression: the change must also be significant. A percentile
has regressed only when the candidate's confidence interval lies wholly above the
baseline's (distribution-free intervals from the binomial rank of a sample
quantile, z = 3), and a failure ratio only when a one-sided two-proportion z-test
gives z > 3. So the p95 of 500 connects, or one timeout among them, does not fail
a build. p90, p99.9 and max are shown, not judged unless asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Final

from chatload.analysis.capacity import Totals, aggregate
from chatload.analysis.html import cell, page
from chatload.analysis.inputs import RunData, load_run
from chatload.errors import ConfigError
from chatload.records.hdr import quantile_bounds
from chatload.slo import MetricFigures
from chatload.tracking.metrics import METRICS, SEND_ACK

__all__ = ["Change", "ComparePolicy", "Comparison", "compare_runs", "table", "write_comparison"]

SHOWN: Final = ("p50", "p90", "p95", "p99", "p999", "max")
_SHARE: Final = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999, "max": 1.0}
SIGNIFICANT_Z: Final = 3.0


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
    note: str = ""  # why a figure is not judged

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
        return (self.note or "ok") if self.judged else ""

    def change_text(self) -> str:
        if self.baseline is None or self.candidate is None:
            return "no samples" if self.candidate is None else "new"
        if self.unit == "%":
            return f"{(self.candidate - self.baseline) * 100:+.3f} pt"
        relative = self.relative
        return f"{relative:+.1%}" if relative is not None else f"{self.candidate:+g}"


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
        listed = ", ".join(f"{c.metric} {c.statistic} {c.change_text()}" for c in worse[:6])
        more = f" and {len(worse) - 6} more" if len(worse) > 6 else ""
        return f"REGRESSION: {len(worse)} of {judged} judged figures worse: {listed}{more}"


def compare_runs(
    baseline: Path,
    candidate: Path,
    policy: ComparePolicy,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    base_run, cand_run = load_run(baseline, progress), load_run(candidate, progress)
    base, _ = aggregate(base_run, [], progress)
    cand, _ = aggregate(cand_run, [], progress)
    changes: list[Change] = []
    measured: set[str] = set(base.histograms) | set(cand.histograms)
    names = [m for m in METRICS if m in measured] + sorted(measured - set(METRICS))
    base_figures, cand_figures = base.figures({}), cand.figures({})
    for metric in names:
        before, after = base_figures.metrics.get(metric), cand_figures.metrics.get(metric)
        for statistic in SHOWN:
            old = float(getattr(before.percentiles, f"{statistic}_ms")) if before else None
            new = float(getattr(after.percentiles, f"{statistic}_ms")) if after else None
            judged = statistic in policy.judged
            regressed, note = (
                _latency_regressed(metric, statistic, old, new, base=base, cand=cand, policy=policy)
                if judged
                else (False, "")
            )
            changes.append(Change(metric, statistic, old, new, "ms", judged, regressed, note))
        changes.append(_failures(metric, before, after, policy))
    changes.append(_rate(base, cand, policy))
    old_breaches, new_breaches = len(base_run.breaches), len(cand_run.breaches)
    changes.append(
        Change("invariant", "breaches", float(old_breaches), float(new_breaches), "", True,
               new_breaches > old_breaches)
    )  # fmt: skip
    return Comparison(base_run, cand_run, base, cand, changes, policy)


def _latency_regressed(
    metric: str, statistic: str, old: float | None, new: float | None, *,
    base: Totals, cand: Totals, policy: ComparePolicy,
) -> tuple[bool, str]:  # fmt: skip
    if old is None:
        return False, ""  # nothing to regress from
    if new is None:
        return True, ""  # the candidate lost the metric
    if not (new > old * (1 + policy.tolerance) and new - old > policy.min_change_ms):
        return False, ""
    share = _SHARE[statistic]
    if share >= 1.0:
        return True, ""
    _, base_high = quantile_bounds(base.histograms[metric], share, SIGNIFICANT_Z)
    cand_low, _ = quantile_bounds(cand.histograms[metric], share, SIGNIFICANT_Z)
    if cand_low <= base_high:
        return False, "within noise"
    return True, ""


def _failures(
    metric: str, before: MetricFigures | None, after: MetricFigures | None, policy: ComparePolicy
) -> Change:
    old = before.failures / before.count if before and before.count else None
    new = after.failures / after.count if after and after.count else None
    regressed = False
    if before and after and old is not None and new is not None:
        pooled = (before.failures + after.failures) / (before.count + after.count)
        spread = math.sqrt(pooled * (1 - pooled) * (1 / before.count + 1 / after.count))
        significant = new > old if spread == 0 else (new - old) / spread > SIGNIFICANT_Z
        regressed = new - old > policy.failure_tolerance and significant
    elif old is not None:
        regressed = True  # the candidate lost the metric
    return Change(metric, "failure_ratio", old, new, "%", True, regressed)


def _rate(base: Totals, cand: Totals, policy: ComparePolicy) -> Change:
    def rate(totals: Totals) -> float | None:
        histogram = totals.histograms.get(SEND_ACK)
        seconds = totals.end - totals.start
        if histogram is None or seconds <= 0:
            return None
        acknowledged: int = histogram.get_total_count() - totals.failures.get(SEND_ACK, 0)
        return acknowledged / seconds

    old, new = rate(base), rate(cand)
    regressed = old is not None and (new is None or new < old * (1 - policy.tolerance))
    return Change(SEND_ACK, "rate", old, new, "/s", True, regressed)


def table(comparison: Comparison) -> str:
    """The comparison as text, one figure a line, for a terminal or a CI log."""
    lines = [
        f"{'metric':<20} {'statistic':<14} {'baseline':>14} {'candidate':>14} "
        f"{'change':>11}  verdict"
    ]
    for change in comparison.changes:
        lines.append(
            f"{change.metric:<20} {change.statistic:<14} {change.text(change.baseline):>14} "
            f"{change.text(change.candidate):>14} {change.change_text():>11}  {change.verdict()}"
        )
    return "\n".join(lines)


def write_comparison(comparison: Comparison, out: Path) -> Path:
    """``out/compare.html`` with its plots; the page's path."""
    from chatload.analysis.compare_plots import distributions_plot, percentiles_plot

    out.mkdir(parents=True, exist_ok=True)
    images = [
        (
            "Percentiles, baseline against candidate",
            percentiles_plot(comparison, out / "compare_percentiles.png"),
        ),
        (
            "Delivery and unread propagation distributions",
            distributions_plot(comparison, out / "compare_distributions.png"),
        ),
    ]
    index = out / "compare.html"
    index.write_text(_page(comparison, images), encoding="utf-8")
    return index


def _page(comparison: Comparison, images: Sequence[tuple[str, Path]]) -> str:
    base, cand = escape(comparison.baseline.name), escape(comparison.candidate.name)
    css = "fail" if comparison.regressions else "pass"
    rows = [
        "<tr><th class='left'>metric</th><th class='left'>statistic</th><th>baseline</th>"
        "<th>candidate</th><th>change</th><th>verdict</th></tr>"
    ]
    for change in comparison.changes:
        css = "fail" if change.regressed else "pass" if change.judged else ""
        rows.append(
            "<tr>" + cell(change.metric, "left") + cell(change.statistic, "left")
            + cell(change.text(change.baseline)) + cell(change.text(change.candidate))
            + cell(change.change_text()) + cell(change.verdict(), css) + "</tr>"
        )  # fmt: skip
    policy = comparison.policy
    sections = [
        f"<h1>chatload compare: {base} against {cand}</h1>",
        f"<p class='note'>Judged: {', '.join(policy.judged)}, failure ratio, "
        f"acknowledged messages/s and breaches; tolerance {policy.tolerance:.0%} and "
        f"{policy.min_change_ms:g} ms, failure ratio +{policy.failure_tolerance:.2%}.</p>",
        f"<p class='verdict {css}'>{escape(comparison.verdict())}</p>",
        "<table>" + "".join(rows) + "</table>",
    ]
    for title, image in images:
        sections += [f"<h2>{title}</h2>", f'<img src="{image.name}" alt="{title}">']
    title = f"chatload compare: {comparison.baseline.name} against {comparison.candidate.name}"
    return page(title, "\n".join(sections))
