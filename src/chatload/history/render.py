"""An analysis of the history as text, markdown (a CI comment), JSON and JUnit."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from chatload.history.analyze import Analysis, Finding
from chatload.history.figures import kind_of

__all__ = ["as_json", "as_junit", "as_markdown", "as_text", "compare_line", "verdict"]


def _status(finding: Finding) -> str:
    if finding.acknowledged is not None:
        return f"acknowledged ({finding.acknowledged})"
    return ("NEW " if finding.new else "") + ("regression" if finding.regression else "improvement")


def _figure(value: float, figure: str) -> str:
    return f"{value:.4g}" + (" ms" if figure.endswith("_ms") else "")


def _spread(finding: Finding, value: float) -> str:
    """A log series' spread is a factor (x1.03), a plain one's a deviation."""
    return f"x{value:.3f}" if kind_of(finding.series.figure).log else f"±{value:.3g}"


def _before_after(finding: Finding) -> str:
    change = finding.change
    figure = finding.series.figure
    return (
        f"{_figure(change.before, figure)} ({_spread(finding, change.spread_before)}, "
        f"n={change.runs_before}) -> {_figure(change.after, figure)} "
        f"({_spread(finding, change.spread_after)}, n={change.runs_after})"
    )


def compare_line(finding: Finding) -> str | None:
    """The ``chatload compare`` of the runs on either side (when their results are known)."""
    before = finding.run_before.meta.get("results")
    after = finding.run_after.meta.get("results")
    return f"chatload compare {before} {after}" if before and after else None


def verdict(found: Analysis) -> str:
    alerts = found.alerts
    if not alerts:
        return (
            f"NO NEW REGRESSION: {len(found.series)} series, {len(found.findings)} change "
            "points (none new and unacknowledged that made a figure worse)"
        )
    return f"REGRESSION: {len(alerts)} new change point(s) made a figure worse"


def as_text(found: Analysis) -> str:
    lines = [
        f"{len(found.series)} series over {found.longest} runs at most; "
        f"{len(found.findings)} change point(s)"
    ]
    if found.left_out:
        lines.append(f"{found.left_out} run(s) of commits off the first-parent history left out")
    for finding in found.findings:
        change = finding.change
        lines.append(
            f"{finding.series.name} at {finding.commits}: {_before_after(finding)}, "
            f"{change.relative:+.1%}, p={change.p_value:.2g}, {_status(finding)}"
        )
        if finding.alerts and (line := compare_line(finding)):
            lines.append(f"  confirm: {line}")
    lines.append(verdict(found))
    return "\n".join(lines)


def as_markdown(found: Analysis) -> str:
    lines = ["### chatload performance history", "", verdict(found), ""]
    if found.findings:
        lines += [
            "| series | commit | before -> after | change | p | status |",
            "|---|---|---|---|---|---|",
        ]
        for finding in found.findings:
            lines.append(
                f"| `{finding.series.name}` | `{finding.commits}` | {_before_after(finding)} | "
                f"{finding.change.relative:+.1%} | {finding.change.p_value:.2g} | "
                f"{'**' + _status(finding) + '**' if finding.alerts else _status(finding)} |"
            )
    return "\n".join(lines) + "\n"


def _finding_json(finding: Finding) -> dict[str, Any]:
    change = finding.change
    return {
        "series": finding.series.name,
        "machine": finding.series.machine,
        "commit": finding.commit,
        "commits": finding.commits,
        "commits_not_run": finding.skipped_commits,
        "runs_unmeasured": finding.unmeasured,
        "run_before": finding.run_before.name,
        "run_after": finding.run_after.name,
        "before": change.before,
        "after": change.after,
        "spread_before": change.spread_before,
        "spread_after": change.spread_after,
        "runs_before": change.runs_before,
        "runs_after": change.runs_after,
        "change": change.relative,
        "p_value": change.p_value,
        "regression": finding.regression,
        "new": finding.new,
        "acknowledged": finding.acknowledged,
        "alert": finding.alerts,
        "compare": compare_line(finding),
    }


def as_json(found: Analysis) -> str:
    return json.dumps(
        {
            "series": len(found.series),
            "left_out": found.left_out,
            "change_points": [_finding_json(finding) for finding in found.findings],
            "alerts": len(found.alerts),
            "verdict": verdict(found),
            "problems": found.problems,
        },
        indent=1,
    )


def as_junit(found: Analysis) -> str:
    """One test case per series: failed by a new, unacknowledged regression."""
    cases = []
    for series in found.series:
        alerts = [f for f in found.alerts if f.series is series]
        body = "".join(
            f"<failure message={quoteattr(f'{f.commits}: {f.change.relative:+.1%}')}>"
            f"{escape(_before_after(f))}</failure>"
            for f in alerts
        )
        cases.append(
            f'  <testcase classname="chatload.history" name={quoteattr(series.name)}>'
            f"{body}</testcase>"
        )
    failures = sum(1 for s in found.series if any(f.series is s for f in found.alerts))
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<testsuite name="chatload history" tests="{len(found.series)}" '
        f'failures="{failures}">\n' + "\n".join(cases) + "\n</testsuite>\n"
    )
