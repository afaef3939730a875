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
- the candidate broke more guarantees than the baseline;
- of two capacity searches (``--shape search``), the capacity in users (two model
  searches': the multiplier, sessions at once, sessions/s) or in
  messages/s fell by more than ``tolerance``.

Noise is not a regression: the change must also be significant, judged for the
whole family of figures at once (``analysis.significance``: a distribution-free
test of each quantile and of each failure ratio, Holm's procedure over all of
them, 1 % family-wise). So two runs of one build compare as "no regression"
nearly always, and the p99 of 30 connects (the largest of them) is not judged at
all: it is shown "not judged: too few samples". p90, p99.9 and max are shown, not
judged unless asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from html import escape
from pathlib import Path
from typing import Any, Final

from chatload.analysis.compare_plots import distributions_plot, percentiles_plot
from chatload.analysis.comparison import SHOWN, Change, ComparePolicy, Comparison, Totals
from chatload.analysis.html import cell, page
from chatload.analysis.inputs import RunData, load_run
from chatload.analysis.replay import replay
from chatload.analysis.search_report import load_search
from chatload.analysis.significance import (
    failure_p_value,
    highest_judged_share,
    holm,
    quantile_p_value,
)
from chatload.records.hdr import PERCENTILE_SHARES
from chatload.slo import MetricFigures
from chatload.tracking.metrics import METRICS, SEND_ACK

__all__ = ["Change", "ComparePolicy", "Comparison", "compare_runs", "table", "write_comparison"]

_SHARE: Final = {**PERCENTILE_SHARES, "max": 1.0}
_LABEL: Final = {share: name for name, share in _SHARE.items()}


def compare_runs(
    baseline: Path,
    candidate: Path,
    policy: ComparePolicy,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    base_run, cand_run = load_run(baseline, progress), load_run(candidate, progress)
    base, cand = _totals(base_run, progress), _totals(cand_run, progress)
    changes = compare_totals(base, cand, len(base_run.breaches), len(cand_run.breaches), policy)
    changes += _capacity(load_search(base_run.prefix), load_search(cand_run.prefix), policy)
    return Comparison(base_run, cand_run, base, cand, changes, policy)


def _totals(run: RunData, progress: Callable[[str], None] | None) -> Totals:
    return Totals(replay(run, progress=progress).run, run.end - run.start)


def _capacity(
    base: dict[str, Any] | None, cand: dict[str, Any] | None, policy: ComparePolicy
) -> list[Change]:
    """Two capacity searches: a capacity down by more than the tolerance regressed."""
    if base is None or cand is None:
        return []
    changes = []
    statistics = [("users", " users"), ("messages_per_s", "/s")]
    if base.get("multiplier") is not None and cand.get("multiplier") is not None:
        # Two model searches: in the model's busiest hours (of the same 1x, or the
        # multipliers mean different things: then the people they stand for).
        same = (base.get("model_peak") or {}) == (cand.get("model_peak") or {})
        statistics = [
            ("multiplier", "x") if same else ("concurrent_sessions", " sessions"),
            ("concurrent_sessions", " sessions"),
            ("sessions_per_s", "/s"),
            ("messages_per_s", "/s"),
        ]
        statistics = list(dict.fromkeys(statistics))
    for statistic, unit in statistics:
        old, new = float(base[statistic] or 0), float(cand[statistic] or 0)
        regressed = new < old * (1 - policy.tolerance)
        changes.append(Change("capacity", statistic, old, new, unit, True, regressed))
    return changes


def compare_totals(
    base: Totals, cand: Totals, old_breaches: int, new_breaches: int, policy: ComparePolicy
) -> list[Change]:
    """Every figure of two runs' merged histograms, baseline against candidate."""
    measured: set[str] = set(base.window.metrics) | set(cand.window.metrics)
    names = [m for m in METRICS if m in measured] + sorted(measured - set(METRICS))
    base_figures, cand_figures = base.figures(), cand.figures()
    changes: list[Change] = []
    family = _Family()
    for metric in names:
        before, after = base_figures.metrics.get(metric), cand_figures.metrics.get(metric)
        for statistic in SHOWN:
            old = float(getattr(before.percentiles, f"{statistic}_ms")) if before else None
            new = float(getattr(after.percentiles, f"{statistic}_ms")) if after else None
            change = Change(metric, statistic, old, new, "ms", statistic in policy.judged, False)
            if change.judged and old is not None:
                change = _judge_latency(change, base, cand, policy, family.at(len(changes)))
            changes.append(change)
        changes.append(_failures(metric, before, after, policy, family.at(len(changes))))
    changes = family.weigh(changes)
    changes.append(_rate(base, cand, policy))
    changes.append(
        Change(
            "invariant",
            "breaches",
            float(old_breaches),
            float(new_breaches),
            "",
            True,
            new_breaches > old_breaches,
        )
    )
    return changes


@dataclass
class _Family:
    """The figures judged together: their p-values, and which moved more than the
    tolerances allow, by position in the list of changes."""

    p_values: dict[int, float] = field(default_factory=dict)
    worse: set[int] = field(default_factory=set)
    position: int = 0

    def at(self, position: int) -> _Family:
        self.position = position
        return self

    def member(self, p_value: float, worse: bool) -> None:
        self.p_values[self.position] = p_value
        if worse:
            self.worse.add(self.position)

    def weigh(self, changes: list[Change]) -> list[Change]:
        """Each member once Holm's procedure has weighed every p-value."""
        significant = holm(self.p_values)
        settled = []
        for position, change in enumerate(changes):
            p_value = self.p_values.get(position)
            if position in self.worse:
                regressed = position in significant
                note = "" if regressed else "within noise"
                settled.append(replace(change, regressed=regressed, note=note, p_value=p_value))
            else:
                settled.append(replace(change, p_value=p_value))
        return settled


def _judge_latency(
    change: Change, base: Totals, cand: Totals, policy: ComparePolicy, family: _Family
) -> Change:
    """A judged percentile: lost (regressed), too few samples (not judged), or a
    member of the family whose p-value Holm's procedure weighs."""
    old, new = change.baseline, change.candidate
    assert old is not None
    if new is None:
        return replace(change, regressed=True)  # the candidate lost the metric
    share = _SHARE[change.statistic]
    base_hist, cand_hist = base.histogram(change.metric), cand.histogram(change.metric)
    assert base_hist is not None and cand_hist is not None, "both runs measured the metric"
    fewest = min(base_hist.get_total_count(), cand_hist.get_total_count())
    if share >= 1.0:
        regressed = new > old * (1 + policy.tolerance) and new - old > policy.min_change_ms
        return replace(change, regressed=regressed)
    p_value = quantile_p_value(base_hist, cand_hist, share)
    if p_value is None:
        highest = highest_judged_share(fewest, tuple(s for s in _SHARE.values() if s < 1))
        bound = f"bounds {_LABEL[highest]} at most" if highest else "bounds no percentile"
        return replace(
            change, judged=False, note=f"not judged: too few samples (n = {fewest} {bound})"
        )
    family.member(p_value, new > old * (1 + policy.tolerance) and new - old > policy.min_change_ms)
    return change


def _failures(
    metric: str,
    before: MetricFigures | None,
    after: MetricFigures | None,
    policy: ComparePolicy,
    family: _Family,
) -> Change:
    old = before.failures / before.count if before and before.count else None
    new = after.failures / after.count if after and after.count else None
    change = Change(metric, "failure_ratio", old, new, "%", True, False)
    if before and after and old is not None and new is not None:
        p_value = failure_p_value(before.failures, before.count, after.failures, after.count)
        family.member(p_value, new - old > policy.failure_tolerance)
    elif old is not None:
        change = replace(change, regressed=True)  # the candidate lost the metric
    return change


def _rate(base: Totals, cand: Totals, policy: ComparePolicy) -> Change:
    old, new = base.rate(), cand.rate()
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
            "<tr>"
            + cell(change.metric, "left")
            + cell(change.statistic, "left")
            + cell(change.text(change.baseline))
            + cell(change.text(change.candidate))
            + cell(change.change_text())
            + cell(change.verdict(), css)
            + "</tr>"
        )
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
