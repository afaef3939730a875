"""``chatload bench-history``: the time to analyze a long history of many series.

A store of ``runs`` made-up runs of one scenario on one machine, each with ``series``
analyzed figures (CV 3 % noise, a 10 % step in every tenth series at 60 % of the
history), written as ``chatload history record`` writes them; then ``chatload
history analyze`` is timed twice, cold (the index built from every JSON file) and warm
(the index up to date), the way a nightly job meets the store.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chatload.history.store import RunSummary, Store, summary_name

__all__ = ["HistoryBenchOptions", "run_history_benchmark"]


@dataclass(frozen=True, slots=True)
class HistoryBenchOptions:
    runs: int = 10_000
    series: int = 50
    max_seconds: float = 10.0
    workdir: Path | None = None


def write_store(root: Path, runs: int, series: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    values = 10 * np.exp(rng.normal(0, 0.03, (runs, series)))
    values[int(runs * 0.6) :, ::10] *= 1.10
    store = Store(root)
    for run in range(runs):
        commit = f"{run:012x}"
        meta = {
            "time": f"2026-01-01T00:00:00.{run:06d}Z",
            "commit": commit,
            "scenario": "nightly",
            "machine": {"fingerprint": "bench"},
        }
        figures = {f"metric{s:02d}.p99_ms": float(values[run, s]) for s in range(series)}
        store.add(RunSummary(summary_name(commit), meta, figures))


def _analyze(root: Path) -> tuple[float, int]:
    """What ``chatload history analyze --dry-run`` does, timed: its change points."""
    from chatload.history.analyze import Policy, analyze
    from chatload.history.render import as_json

    started = time.perf_counter()
    store = Store(root)
    found = analyze(store.runs(), Policy(), acks=store.acks(), reported=store.reported())
    as_json(found)
    return time.perf_counter() - started, len(found.findings)


def run_history_benchmark(options: HistoryBenchOptions) -> int:
    with tempfile.TemporaryDirectory(prefix="chatload-history-") as scratch:
        root = (options.workdir or Path(scratch)) / "store"
        started = time.perf_counter()
        write_store(root, options.runs, options.series)
        print(
            f"wrote {options.runs:,} runs x {options.series} series in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        cold, _ = _analyze(root)
        warm, found = _analyze(root)
    stepped = len(range(0, options.series, 10))
    within = warm <= options.max_seconds
    print(
        f"{'PASS' if within else 'FAIL'}: analyze {options.runs:,} runs x {options.series} "
        f"series: {cold:.1f} s cold (index built), {warm:.1f} s warm (target "
        f"{options.max_seconds:g} s); {found} change points, {stepped} planted"
    )
    return 0 if within else 1
