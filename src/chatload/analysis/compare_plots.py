"""The comparison's pictures: percentiles side by side, distributions overlaid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chatload.analysis.comparison import Comparison
from chatload.analysis.plots import empty_axis, log_scale, plt, save
from chatload.records.hdr import value_buckets
from chatload.tracking.metrics import DELIVERY, UNREAD_PROPAGATION

__all__ = ["distributions_plot", "percentiles_plot"]


def percentiles_plot(comparison: Comparison, path: Path) -> Path:
    """p50 and p99 of every metric, baseline and candidate bars side by side."""
    latencies = [c for c in comparison.changes if c.statistic in ("p50", "p99")]
    metrics = list(dict.fromkeys(c.metric for c in latencies))
    figure, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=False)
    for axis, statistic in zip(axes, ("p50", "p99"), strict=True):
        rows = {c.metric: c for c in latencies if c.statistic == statistic}
        x = np.arange(len(metrics))
        old = [rows[m].baseline or 0.0 for m in metrics]
        new = [rows[m].candidate or 0.0 for m in metrics]
        axis.bar(x - 0.2, old, 0.4, label=comparison.baseline.name, color="0.6")
        colors = ["#d62728" if rows[m].regressed else "#1f77b4" for m in metrics]
        axis.bar(x + 0.2, new, 0.4, label=comparison.candidate.name, color=colors)
        axis.set_xticks(x, metrics, rotation=35, ha="right")
        log_scale(axis)
        axis.set_ylabel("ms")
        axis.set_title(f"{statistic} (red: regressed)")
        axis.grid(True, axis="y", which="both", alpha=0.3)
        axis.legend(loc="upper left")
    return save(figure, path)


def distributions_plot(comparison: Comparison, path: Path) -> Path:
    """Cumulative distributions of delivery and unread propagation, both runs."""
    metrics = (DELIVERY, UNREAD_PROPAGATION)
    figure, axes = plt.subplots(1, len(metrics), figsize=(13, 4.5))
    runs = (
        (comparison.baseline.name, comparison.baseline_totals, "0.4"),
        (comparison.candidate.name, comparison.candidate_totals, "#d62728"),
    )
    for axis, metric in zip(axes, metrics, strict=True):
        axis.set_title(f"{metric}: cumulative distribution")
        drawn = False
        for name, totals, color in runs:
            histogram = totals.histogram(metric)
            if histogram is None or not histogram.get_total_count():
                continue
            values_ms, weights = value_buckets(histogram)
            axis.step(
                values_ms, np.cumsum(weights) / weights.sum(), where="post", color=color, label=name
            )
            drawn = True
        if not drawn:
            empty_axis(axis, "no samples")
            continue
        log_scale(axis, "x")
        axis.set_ylim(0, 1.01)
        axis.set_xlabel("ms")
        axis.set_ylabel("share of samples at or below")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(loc="lower right")
    return save(figure, path)
