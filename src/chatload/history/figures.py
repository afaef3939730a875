"""One run's figures for its history, and how each is judged over runs.

A figure is named ``subject.statistic`` (``send_ack.p99_ms``, ``run.messages_per_s``,
``capacity.users``). ``KINDS`` says for each statistic whether it is analyzed, in
log space or not, and which way is worse: one table for the summary, the analysis
and the docs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from chatload.analysis.csvfiles import csv_file, find_prefix, number, read_rows, timestamp
from chatload.analysis.search_report import load_search
from chatload.analysis.significance import share_is_bounded
from chatload.errors import ConfigError

__all__ = ["KINDS", "FigureKind", "kind_of", "run_figures"]


@dataclass(frozen=True, slots=True)
class FigureKind:
    statistic: str
    meaning: str
    analyzed: bool = True
    log: bool = True  # positive, and a change is a ratio
    worse_when_higher: bool = True


KINDS: Final = {
    kind.statistic: kind
    for kind in (
        FigureKind("p50_ms", "the whole run's median (merged histograms; kept where bounded)"),
        FigureKind("p90_ms", "the whole run's 90th percentile"),
        FigureKind("p99_ms", "the whole run's 99th percentile"),
        FigureKind("p999_ms", "the whole run's 99.9th percentile"),
        FigureKind("count", "samples", analyzed=False),
        FigureKind("failure_ratio", "failures / (samples + failures)", log=False),
        FigureKind("late", "answers past the timeout, timed late (trust)", analyzed=False),
        FigureKind("unanswered", "requests never answered (trust)", analyzed=False),
        FigureKind("messages_per_s", "sends acknowledged a second", worse_when_higher=False),
        FigureKind("users", "a capacity search's answer", worse_when_higher=False),
        FigureKind("multiplier", "a model search's answer", worse_when_higher=False),
        FigureKind("slope_per_h", "a drift's slope an hour (recorded)", analyzed=False),
        FigureKind("saturated_share", "intervals a generator was saturated", analyzed=False),
    )
}


_PERCENTILES: Final = {"p50_ms": 0.5, "p90_ms": 0.9, "p99_ms": 0.99, "p999_ms": 0.999}


def kind_of(figure: str) -> FigureKind:
    """How ``subject.statistic`` is judged (unknown statistics: recorded only)."""
    statistic = figure.rsplit(".", 1)[-1]
    return KINDS.get(statistic, FigureKind(statistic, "", analyzed=False))


def run_figures(results: Path) -> dict[str, float]:
    """The figures of the run at ``results`` (a ``--csv`` prefix or its directory):
    its whole-run summary, messages a second, a search's capacity, drift slopes and
    the generator's saturated share."""
    prefix = find_prefix(results)
    figures: dict[str, float] = {}
    seconds = 0.0
    acknowledged = 0
    path = csv_file(prefix, "chat_summary")
    columns = ("metric", "count", "failures", "p50_ms", "p90_ms", "p99_ms", "p999_ms")
    for line, row in read_rows(prefix, "chat_summary", columns):
        metric = row["metric"]
        count = int(number(path, line, row, "count", int))
        failures = int(number(path, line, row, "failures", int))
        figures[f"{metric}.count"] = count
        figures[f"{metric}.failure_ratio"] = (
            failures / (count + failures) if count + failures else 0.0
        )
        for statistic, share in _PERCENTILES.items():
            value = number(path, line, row, statistic)
            # As chatload compare judges them: a percentile its samples do not bound
            # (the p99 of 10 is their largest) is chance, and kept out of the series.
            if value > 0 and share_is_bounded(count, share):
                figures[f"{metric}.{statistic}"] = value
        for statistic in ("late", "unanswered"):
            if row.get(statistic):
                figures[f"{metric}.{statistic}"] = number(path, line, row, statistic, int)
        if metric == "send_ack":
            acknowledged = count
            seconds = _span(path, line, row)
    if not figures:
        raise ConfigError(f"{path} has no rows: the run recorded nothing")
    if seconds > 0:
        figures["run.messages_per_s"] = acknowledged / seconds
    figures.update(_capacity(prefix))
    figures.update(_drift(prefix))
    figures.update(_saturation(prefix))
    return figures


def _span(path: Path, line: int, row: dict[str, str]) -> float:
    start, end = row.get("first_interval_start"), row.get("last_interval_end")
    if not start or not end:
        return 0.0
    return timestamp(path, line, end) - timestamp(path, line, start)


def _capacity(prefix: Path) -> dict[str, float]:
    """A completed search's answer, read as ``chatload compare`` reads it."""
    answer = load_search(prefix)
    if answer is None or not answer.get("complete", True):
        return {}
    figures = {}
    for statistic in ("users", "messages_per_s", "multiplier"):
        value = answer.get(statistic)
        if isinstance(value, int | float) and value > 0:
            figures[f"capacity.{statistic}"] = float(value)
    return figures


def _drift(prefix: Path) -> dict[str, float]:
    path = csv_file(prefix, "drift")
    if not path.exists():
        return {}
    figures = {}
    for line, row in read_rows(prefix, "drift", ("subject", "slope_per_h")):
        if row["slope_per_h"]:
            slope = number(path, line, row, "slope_per_h")
            if math.isfinite(slope):
                figures[f"drift {row['subject']}.slope_per_h"] = slope
    return figures


def _saturation(prefix: Path) -> dict[str, float]:
    path = csv_file(prefix, "generator_health")
    if not path.exists():
        return {}
    flags = [
        row["saturated"] == "true"
        for _, row in read_rows(prefix, "generator_health", ("saturated",))
    ]
    return {"generator.saturated_share": sum(flags) / len(flags)} if flags else {}
