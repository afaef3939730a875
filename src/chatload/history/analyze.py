"""``chatload history analyze``: the change points of every series of runs.

A series is one scenario's one figure on one machine (fingerprints are never
mixed), its runs in commit order (a git repository's first-parent history) or
else in the order they ran. Each series' change points (``history.changes``) are
findings: a regression or an improvement, acknowledged or not, new or reported
before. Only a new, unacknowledged regression alerts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np

from chatload.history.changes import MIN_CHANGE, MIN_RUNS, P_VALUE, WINDOW, Change, change_points
from chatload.history.figures import kind_of
from chatload.history.record import git
from chatload.history.store import Ack, RunSummary

__all__ = ["Analysis", "Finding", "Policy", "Series", "analyze", "commit_order"]


@dataclass(frozen=True, slots=True)
class Policy:
    window: int = WINDOW
    p_value: float = P_VALUE
    min_change: float = MIN_CHANGE
    min_runs: int = MIN_RUNS
    metrics: tuple[str, ...] = ()  # patterns over figures; none: every analyzed one
    since: str | None = None  # runs from this time on (ISO 8601 prefix)
    last: int | None = None  # the last N runs of each series


@dataclass(frozen=True, slots=True)
class Series:
    scenario: str
    figure: str
    machine: str
    runs: tuple[RunSummary, ...]

    @property
    def name(self) -> str:
        """How acks and outputs name it: scenario:figure."""
        return f"{self.scenario}:{self.figure}"

    @property
    def key(self) -> str:
        """Its name and machine: what a reported change point is kept under."""
        return f"{self.name}@{self.machine}"

    def values(self) -> np.ndarray:
        return np.array([run.figures[self.figure] for run in self.runs], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Finding:
    series: Series
    change: Change
    regression: bool
    new: bool
    acknowledged: str | None  # the reason, when acknowledged
    skipped_commits: int | None  # commits between the two runs not run (None: unknown)
    unmeasured: int = 0  # runs between the two (same scenario, machine) without the figure

    @property
    def run_before(self) -> RunSummary:
        return self.series.runs[self.change.index - 1]

    @property
    def run_after(self) -> RunSummary:
        return self.series.runs[self.change.index]

    @property
    def commit(self) -> str:
        return self.run_after.commit

    @property
    def commits(self) -> str:
        """The commit, or the range where commits between the runs were not run, or
        their runs did not measure the figure (a percentile too few samples bound)."""
        before, after = self.run_before.commit, self.run_after.commit
        if (self.skipped_commits or 0) > 0 or self.unmeasured > 0:
            return f"{before[:12]}..{after[:12]}"
        return after[:12] or "(no commit)"

    @property
    def alerts(self) -> bool:
        return self.regression and self.new and self.acknowledged is None


@dataclass
class Analysis:
    series: list[Series]
    findings: list[Finding]
    left_out: int = 0  # runs of commits off the first-parent history
    problems: list[str] = field(default_factory=list)

    @property
    def alerts(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.alerts]

    @property
    def longest(self) -> int:
        return max((len(series.runs) for series in self.series), default=0)


def commit_order(repo: Path) -> dict[str, int]:
    """Each commit's position on HEAD's first-parent history, oldest first."""
    listed = git("rev-list", "--first-parent", "--reverse", "HEAD", repo=repo)
    return {commit: position for position, commit in enumerate(listed.split())}


def analyze(
    runs: Iterable[RunSummary],
    policy: Policy,
    *,
    order: dict[str, int] | None = None,
    acks: Iterable[Ack] = (),
    reported: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
) -> Analysis:
    ordered, left_out = _ordered(runs, policy, order)
    grouped: dict[tuple[str, str, str], list[RunSummary]] = defaultdict(list)
    analyzed: dict[str, bool] = {}  # by figure: a history has few names and many runs
    places: dict[str, int] = {}  # a run's place among its scenario's on its machine
    counted: dict[tuple[str, str], int] = defaultdict(int)
    for run in ordered:
        scenario, machine = run.scenario, run.machine
        places[run.name] = counted[(scenario, machine)]
        counted[(scenario, machine)] += 1
        for figure in run.figures:
            wanted = analyzed.get(figure)
            if wanted is None:
                wanted = analyzed[figure] = kind_of(figure).analyzed and _wanted(
                    figure, policy.metrics
                )
            if wanted:
                grouped[(scenario, figure, machine)].append(run)
    acks = list(acks)
    analysis = Analysis([], [], left_out)
    for (scenario, figure, machine), members in sorted(grouped.items()):
        chosen = members[-policy.last :] if policy.last else members
        series = Series(scenario, figure, machine, tuple(chosen))
        analysis.series.append(series)
        analysis.findings += [
            replace(
                finding,
                unmeasured=places[finding.run_after.name] - places[finding.run_before.name] - 1,
            )
            for finding in _findings(series, policy, order, acks, reported)
        ]
    return analysis


def _ordered(
    runs: Iterable[RunSummary], policy: Policy, order: dict[str, int] | None
) -> tuple[list[RunSummary], int]:
    chosen = [run for run in runs if policy.since is None or run.time >= policy.since]
    if order is None:
        return sorted(chosen, key=lambda run: (run.time, run.name)), 0
    on_history = [run for run in chosen if _position(run.commit, order) is not None]
    on_history.sort(key=lambda run: (_position(run.commit, order), run.time, run.name))
    return on_history, len(chosen) - len(on_history)


def _position(commit: str, order: dict[str, int]) -> int | None:
    if commit in order:
        return order[commit]
    if len(commit) >= 7:  # an abbreviated commit
        matches = [p for full, p in order.items() if full.startswith(commit)]
        return matches[0] if len(matches) == 1 else None
    return None


def _wanted(figure: str, patterns: tuple[str, ...]) -> bool:
    return not patterns or any(fnmatchcase(figure, pattern) for pattern in patterns)


def _findings(
    series: Series,
    policy: Policy,
    order: dict[str, int] | None,
    acks: list[Ack],
    reported: set[tuple[str, str]] | frozenset[tuple[str, str]],
) -> list[Finding]:
    kind = kind_of(series.figure)
    values = series.values()
    if kind.log and not np.all(values > 0):
        values = np.maximum(values, np.min(values[values > 0], initial=1e-9))
    findings = []
    changes = change_points(
        values,
        log=kind.log,
        window=policy.window,
        p_value=policy.p_value,
        min_change=policy.min_change,
        min_runs=policy.min_runs,
    )
    for change in changes:
        after = series.runs[change.index]
        nearby = {
            series.runs[i].commit
            for i in (change.index - 1, change.index, change.index + 1)
            if 0 <= i < len(series.runs)
        }
        worse = (
            change.after > change.before if kind.worse_when_higher else change.after < change.before
        )
        acked = next((a.reason for a in acks if _acked(a, after.commit, series.name)), None)
        skipped = None
        if order is not None:
            gap = (
                _position(after.commit, order),
                _position(series.runs[change.index - 1].commit, order),
            )
            if gap[0] is not None and gap[1] is not None:
                skipped = max(gap[0] - gap[1] - 1, 0)
        new = not any((series.key, commit) in reported for commit in nearby)
        findings.append(Finding(series, change, worse, new, acked, skipped))
    return findings


def _acked(ack: Ack, commit: str, series: str) -> bool:
    same = bool(commit) and (commit.startswith(ack.commit) or ack.commit.startswith(commit))
    return same and fnmatchcase(series, ack.series)
