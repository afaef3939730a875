"""The report's "Traffic against the model" section, from a model run's files.

The verdict table is ``PREFIX_traffic.csv`` as the run wrote it. The pictures are
drawn from the run's other traffic files: the arrivals offered against the model's
expected ones, with the dropped sessions and late actions per interval
(``PREFIX_traffic_intervals.csv``); and a QQ plot of each quantity, the run's values
(``PREFIX_traffic_{messages,sessions,reads}.csv``, read back as an export) against
the model the run played (``PREFIX_traffic_model.json``), both below the horizon
the run could show (``traffic.compare``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np

from chatload.analysis.csvfiles import csv_file, number, read_rows, timestamp
from chatload.analysis.html import rows_table
from chatload.analysis.plots import plt, save
from chatload.errors import ConfigError
from chatload.records.traffic_feed import TRAFFIC_INTERVAL_COLUMNS
from chatload.traffic.compare import (
    COMPARED,
    MAX_D,
    TRAFFIC_COLUMNS,
    below,
    horizon_below,
    horizon_of,
)
from chatload.traffic.exportfiles import read_export
from chatload.traffic.fit import COUNTS
from chatload.traffic.loading import load_model
from chatload.traffic.model import TrafficModel
from chatload.traffic.observe import Export, observe
from chatload.traffic.survival import kaplan_meier
from chatload.users_file import ROLES

__all__ = ["TrafficRun", "load_traffic", "traffic_section"]


@dataclass
class TrafficRun:
    rows: list[dict[str, str]]  # PREFIX_traffic.csv
    intervals: list[dict[str, str]]  # PREFIX_traffic_intervals.csv
    model: TrafficModel | None
    export: Export | None


def load_traffic(prefix: Path) -> TrafficRun | None:
    """A model run's traffic files; None for a think-time run."""
    if not csv_file(prefix, "traffic").exists():
        return None
    rows = [row for _, row in read_rows(prefix, "traffic", TRAFFIC_COLUMNS)]
    intervals = [row for _, row in read_rows(prefix, "traffic_intervals", TRAFFIC_INTERVAL_COLUMNS)]
    model_file = Path(f"{prefix}_traffic_model.json")
    model = load_model(str(model_file)) if model_file.exists() else None
    messages = csv_file(prefix, "traffic_messages")
    export = None
    if messages.exists() and model is not None:
        try:
            export = read_export(
                messages,
                reads=_present(csv_file(prefix, "traffic_reads")),
                sessions=_present(csv_file(prefix, "traffic_sessions")),
            )
        except ConfigError:
            export = None  # too few messages to read back: the table still stands
    return TrafficRun(rows, intervals, model, export)


def _present(path: Path) -> Path | None:
    return path if path.exists() else None


def traffic_section(run: TrafficRun, prefix: Path, out: Path) -> list[str]:
    differs = [row["quantity"] for row in run.rows if row["verdict"] == "differs"]
    dropped = sum(int(row["dropped"]) for row in run.intervals)
    late = sum(int(row["late_actions"]) for row in run.intervals)
    actions = sum(int(row["actions"]) for row in run.intervals)
    verdict = (
        "The traffic matched the model."
        if not differs
        else f"Differs from the model: {', '.join(differs)}."
    )
    verdict += f" Sessions dropped: {dropped}; late actions: {late} of {actions}."
    section = [
        "<h2>Traffic against the model</h2>",
        f"<p class='verdict'>{escape(verdict)}</p>",
        "<p class='note'>Per role and quantity the Kolmogorov-Smirnov distance D between the "
        f"run's values and the model (an effect size): matches at D &lt;= {MAX_D}, differs "
        "above it with enough samples; shares by their difference. Values are compared "
        "below what the run could show whole (docs/traffic.md).</p>",
        rows_table(run.rows, TRAFFIC_COLUMNS, "No traffic was judged.", limit=100),
    ]
    arrivals = _arrivals_plot(run.intervals, prefix, out / "traffic_arrivals.png")
    if arrivals is not None:
        section += [
            "<h3>Arrivals</h3>",
            "<p class='note'>Sessions offered against the model's expected arrivals, "
            "cumulative per role; below, sessions dropped and late actions per interval.</p>",
            f'<img src="{arrivals.name}" alt="arrivals">',
        ]
    if run.model is not None and run.export is not None and len(run.export.chat):
        qq = _qq_plot(run.model, run.export, out / "traffic_qq.png")
        section += [
            "<h3>QQ plots</h3>",
            "<p class='note'>Each quantity's run quantiles against the model's, below "
            "the run's horizon (values cut short: their Kaplan-Meier quantiles); on the "
            "grey line they agree.</p>",
            f'<img src="{qq.name}" alt="QQ plots">',
        ]
    return section


def _arrivals_plot(rows: list[dict[str, str]], prefix: Path, path: Path) -> Path | None:
    if not rows:
        return None
    where = csv_file(prefix, "traffic_intervals")
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
    start = min(timestamp(where, 0, row["interval_end"]) for row in rows)
    for role, color in zip(ROLES, ("#1f77b4", "#ff7f0e"), strict=True):
        mine = [row for row in rows if row["role"] == role]
        minutes = [(timestamp(where, 0, row["interval_end"]) - start) / 60 for row in mine]
        expected = np.cumsum([number(where, 0, row, "expected_arrivals") for row in mine])
        offered = np.cumsum([int(row["offered"]) for row in mine])
        top.plot(minutes, expected, "--", color=color, label=f"{role}: model")
        top.plot(minutes, offered, "-", color=color, label=f"{role}: offered")
        bottom.plot(minutes, [int(row["dropped"]) for row in mine], "-", color=color)
        bottom.plot(minutes, [int(row["late_actions"]) for row in mine], ":", color=color)
    top.set_ylabel("sessions (cumulative)")
    top.legend(fontsize=7)
    bottom.set_ylabel("dropped (-), late (:)")
    bottom.set_xlabel("minutes into the run")
    for axis in (top, bottom):
        axis.grid(True, alpha=0.3)
    return save(figure, path)


def _qq_plot(model: TrafficModel, export: Export, path: Path) -> Path:
    horizon = horizon_of(model, export)
    observed = observe(export, model.burst_gap_s, horizon=horizon)
    columns = len(COMPARED)
    figure, axes = plt.subplots(len(ROLES), columns, figsize=(2.3 * columns, 2.4 * len(ROLES)))
    grid = np.linspace(0.01, 0.99, 99)
    for r, role in enumerate(ROLES):
        for c, name in enumerate(COMPARED):
            axis = axes[r][c]
            samples = np.asarray(observed.samples[role].get(name, np.array([])), dtype=float)
            beyond = observed.samples[role].get(f"{name}_at_least", np.zeros(0))
            discrete = name in COUNTS
            cut = horizon_below(name, horizon) if not len(beyond) else math.inf
            samples = samples[np.isfinite(samples) & (samples <= cut)]
            axis.set_title(f"{role} {name}\nn {len(samples) + len(beyond):,}", fontsize=7)
            axis.tick_params(labelsize=6)
            if len(samples) < 2:
                continue
            family, _ = below(model.role(role).family(name), cut, discrete)
            expected = family.ppf(grid)
            if discrete:
                expected = np.ceil(expected)
            run = np.quantile(samples, grid)
            if len(beyond):  # cut short: their Kaplan-Meier quantiles, as far as estimated
                run = kaplan_meier(samples, beyond - 1 if discrete else beyond).quantiles(grid)
            axis.plot(expected, run, ".", ms=2)
            low = max(min(float(expected.min()), float(samples.min())), 1e-3)
            high = max(float(expected.max()), float(samples.max()), low * 1.01)
            axis.plot([low, high], [low, high], "-", color="0.5", lw=0.8)
            if not discrete and high / low > 20 and math.isfinite(high):
                axis.set_xscale("log")
                axis.set_yscale("log")
            axis.grid(True, alpha=0.3)
    figure.supxlabel("model quantile", fontsize=8)
    figure.supylabel("run quantile", fontsize=8)
    return save(figure, path)
