"""``chatload bench-report``: the report of a long soak, timed and weighed.

Makes a soak's files (``--samples`` chat samples over ``--hours`` at one
reporting interval of ``--interval`` seconds; see
:mod:`chatload.analysis.synthetic`), then runs ``chatload report`` on them in a
child process, its progress shown, and measures the child's wall time and peak
resident memory (``wait4``'s rusage: the whole process, numpy and matplotlib
included). Exit 1 when the report misses ``--max-seconds`` or ``--max-mib``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from chatload.analysis.inputs import progress_to_stderr
from chatload.analysis.synthetic import SyntheticPlan, write_synthetic_run

__all__ = ["ReportBenchOptions", "run_report_benchmark"]


@dataclass(frozen=True, slots=True)
class ReportBenchOptions:
    samples: int = 10_000_000
    hours: float = 24.0
    interval: float = 1.0
    max_seconds: float = 60.0
    max_mib: float = 1024.0
    workdir: Path | None = None


@dataclass(frozen=True, slots=True)
class ReportMeasurement:
    seconds: float
    peak_mib: float
    exit_code: int


def measure_report(prefix: Path, out: Path) -> ReportMeasurement:
    """Run ``chatload report`` in a child; its wall time and peak RSS."""
    command = [sys.executable, "-m", "chatload", "report", str(prefix), "-o", str(out)]
    started = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return ReportMeasurement(seconds, usage.ru_maxrss / 1024, child.returncode)


def run_report_benchmark(options: ReportBenchOptions) -> int:
    with tempfile.TemporaryDirectory(prefix="chatload-report-") as scratch:
        workdir = options.workdir or Path(scratch)
        prefix = workdir / "soak"
        plan = SyntheticPlan(
            samples=options.samples,
            seconds=options.hours * 3600,
            interval=options.interval,
            users=300,
            breaches=7,
            saturated_share=0.002,
        )
        print(
            f"writing a {options.hours:g} h soak: {options.samples:,} samples at "
            f"{options.interval:g} s intervals into {workdir}",
            flush=True,
        )
        started = time.monotonic()
        write_synthetic_run(prefix, plan, progress_to_stderr)
        size = sum(path.stat().st_size for path in workdir.glob("soak_*.csv"))
        print(f"  {size / 2**20:,.0f} MiB of CSV in {time.monotonic() - started:.0f} s", flush=True)
        print("chatload report (in a child process, progress below):", flush=True)
        result = measure_report(prefix, workdir / "report")
    if result.exit_code:
        print(f"FAIL: chatload report exited with {result.exit_code}")
        return 1
    within = result.seconds <= options.max_seconds and result.peak_mib <= options.max_mib
    print(
        f"{'PASS' if within else 'FAIL'}: report of {options.samples:,} samples in "
        f"{result.seconds:.1f} s (target {options.max_seconds:g} s), peak RSS "
        f"{result.peak_mib:,.0f} MiB (target {options.max_mib:,.0f} MiB)"
    )
    return 0 if within else 1
