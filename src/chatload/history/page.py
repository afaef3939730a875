"""``chatload history report``: the history as an HTML page with trend plots."""

from __future__ import annotations

import re
from html import escape
from itertools import pairwise
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from chatload.analysis.html import cell, page
from chatload.analysis.plots import save
from chatload.history.analyze import Analysis, Finding, Series
from chatload.history.render import compare_line, verdict

__all__ = ["write_history_report"]


def write_history_report(found: Analysis, output: Path) -> Path:
    """index.html and one trend plot per series with change points; its path."""
    output.mkdir(parents=True, exist_ok=True)
    open_regressions = [f for f in found.findings if f.regression and f.acknowledged is None]
    parts = [
        "<h1>Performance history</h1>",
        f"<p class='verdict'>{escape(verdict(found))}</p>",
        "<h2>Open regressions</h2>",
        _regressions(open_regressions),
        "<h2>Change points by series</h2>",
    ]
    with_changes = [s for s in found.series if any(f.series is s for f in found.findings)]
    for index, series in enumerate(with_changes):
        findings = [f for f in found.findings if f.series is series]
        image = _plot(series, findings, output / f"trend-{index}-{_slug(series.name)}.png")
        parts.append(f"<h3>{escape(series.name)}</h3><img src='{image.name}' alt='trend'>")
    quiet = [s for s in found.series if s not in with_changes]
    if quiet:
        names = ", ".join(escape(s.name) for s in quiet)
        parts.append(f"<p class='note'>No change point in {len(quiet)} series: {names}.</p>")
    path = output / "index.html"
    path.write_text(page("Performance history", "\n".join(parts)), encoding="utf-8")
    return path


def _regressions(findings: list[Finding]) -> str:
    if not findings:
        return "<p class='note'>None.</p>"
    head = "".join(
        f"<th class='left'>{h}</th>"
        for h in ("series", "commit", "before", "after", "change", "p", "confirm with")
    )
    rows = "".join(
        "<tr>"
        + cell(f.series.name, "left")
        + cell(f.commits, "left")
        + cell(f"{f.change.before:.4g}")
        + cell(f"{f.change.after:.4g}")
        + cell(f"{f.change.relative:+.1%}", "fail")
        + cell(f"{f.change.p_value:.2g}")
        + cell(compare_line(f) or "(the runs' results are not kept)", "left")
        + "</tr>"
        for f in findings
    )
    return f"<table><tr>{head}</tr>{rows}</table>"


def _plot(series: Series, findings: list[Finding], path: Path) -> Path:
    values = series.values()
    figure, axis = plt.subplots(figsize=(10, 3.2))
    runs = np.arange(len(values))
    axis.plot(runs, values, ".", color="#555", ms=4)
    cuts = [0, *(f.change.index for f in findings), len(values)]
    for start, end in pairwise(cuts):
        segment = values[start:end]
        if segment.size:
            centre = (
                float(np.exp(np.log(segment).mean())) if np.all(segment > 0) else segment.mean()
            )
            axis.hlines(centre, start, end - 1, color="#1f6feb", lw=2)
    for finding in findings:
        colour = "#999" if finding.acknowledged else "#cf222e" if finding.regression else "#1a7f37"
        axis.axvline(finding.change.index - 0.5, color=colour, ls="--", lw=1.2)
        axis.annotate(
            finding.commits,
            (finding.change.index, axis.get_ylim()[1]),
            fontsize=7,
            color=colour,
            va="top",
            rotation=90,
        )
    axis.set_xlabel("run (in commit order)")
    axis.set_ylabel(series.figure)
    axis.set_title(series.name, fontsize=10)
    return save(figure, path)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:60]
