"""Timings across processes whose wall clocks disagree: a worker's clock moved by
libfaketime (Debian's faketime package; ``make test`` installs it), its monotonic
clock untouched, measured against the same run's timings within one process."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
from pathlib import Path

import pytest

from chatload.analysis.significance import RANK_Z
from chatload.provision import ProvisionPlan, provision
from chatload.server.launcher import LaunchedServer
from tests.loadgen.support import ROOT, headless, locust_command
from tests.support import system_program

SKEW_S = 0.050
DELAY_MS = 50.0  # every frame delayed by the server: timings near 50 ms, steady
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def _libfaketime() -> Path:
    if LIBFAKETIME.exists():
        return LIBFAKETIME
    system_program(("faketime",), "a worker with a wrong clock needs Debian's faketime")
    candidates = list(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    assert candidates, "faketime is installed but libfaketime.so.1 was not found"
    return candidates[0]


def _run(prefix: Path, url: str, users: Path) -> None:
    """A run of two workers, the second with its wall clock SKEW_S ahead."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    common = ["--think-min", "0.2", "--think-max", "0.6", "--churn-share", "0"]
    master = subprocess.Popen(
        locust_command(
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            "2",
            *headless(40, "30s"),
            "--host",
            url,
            "--users-file",
            str(users),
            "--csv",
            str(prefix),
            "--chat-samples",
            str(prefix.parent / "samples"),
            "--only-summary",
            *common,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    fake = {"LD_PRELOAD": str(_libfaketime()), "FAKETIME": f"+{SKEW_S}", "DONT_FAKE_MONOTONIC": "1"}
    workers = [
        subprocess.Popen(
            locust_command("--worker", "--master-host", "127.0.0.1", "--master-port", str(port)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, **(fake if n == 1 else {})},
        )
        for n in range(2)
    ]
    try:
        _, err = master.communicate(timeout=120)
        assert master.returncode == 0, err[-3000:]
        for worker in workers:
            worker.wait(30)
    finally:
        for process in (master, *workers):
            process.kill()


def _deliveries(directory: Path) -> tuple[list[float], list[float]]:
    """The run's delivery times (ms), timed across the two workers' wall clocks and
    within one worker's monotonic clock: side by side, in the same seconds."""
    crossed: list[float] = []
    within: list[float] = []
    for path in directory.glob("samples.*.csv"):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row["metric"] == "delivery" and not row["failure_kind"]:
                    side = crossed if row["cross_process"] == "true" else within
                    side.append(float(row["response_time_ms"]))
    return sorted(crossed), sorted(within)


def _at(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))]


def _p99_span(values: list[float]) -> tuple[float, float]:
    """Where the within-process p99 may lie, from its own samples: the values at the
    ends of the binomial rank interval of the 99th percentile (z = 3). Two sets of
    samples' p99 differ by chance by about that much, whatever the clocks."""
    spread = RANK_Z * (0.99 * 0.01 / len(values)) ** 0.5
    return _at(values, 0.99 - spread), _at(values, min(1.0, 0.99 + spread))


def _clocks(prefix: Path) -> dict[str, tuple[float, float]]:
    """Each worker's last estimate: (offset ms, uncertainty ms)."""
    with Path(f"{prefix}_generator_health.csv").open(newline="") as handle:
        return {
            row["process"]: (float(row["clock_offset_ms"]), float(row["clock_uncertainty_ms"]))
            for row in csv.DictReader(handle)
        }


def _measure(directory: Path) -> tuple[float, float, float, float]:
    """One run with a skewed worker: the checks that hold in every run, then (the
    crossed deliveries' p99, the span of the within-process p99, the tolerance) for
    the tail's check."""
    directory.mkdir()
    # A random layout and no groups: about half the chats cross the two workers.
    provision(
        directory / "chat.db",
        directory / "users.csv",
        ProvisionPlan(owners=12, requesters=32, history=5, layout="random"),
    )
    with LaunchedServer(
        directory / "chat.db",
        "--test-delay-ms",
        str(DELAY_MS),
        "--test-delay-from-user",
        "0",
        "--synchronous",  # no fsync stall of a slow disk in the timings compared
        "normal",
    ) as server:
        _run(directory / "skewed", server.url, directory / "users.csv")
    crossed, within = _deliveries(directory)
    assert len(crossed) > 0.2 * (len(crossed) + len(within)), "too few crossed"
    assert len(within) > 0.2 * (len(crossed) + len(within)), "too few within one worker"
    clocks = _clocks(directory / "skewed")
    uncertainty = max(u for _, u in clocks.values())
    offsets = sorted(offset for offset, _ in clocks.values())
    # The export shows the shift the estimate found.
    assert offsets[0] == pytest.approx(0.0, abs=uncertainty + 1.0)
    assert offsets[-1] == pytest.approx(SKEW_S * 1000, abs=uncertainty + 1.0)
    true_p50 = _at(within, 0.5)
    tolerance = max(0.3, 0.02 * true_p50) + uncertainty
    assert abs(_at(crossed, 0.5) - true_p50) <= tolerance, (_at(crossed, 0.5), true_p50)
    low, high = _p99_span(within)
    return _at(crossed, 0.99), low, high, max(0.3, 0.02 * _at(within, 0.99)) + uncertainty


@pytest.mark.slow
@pytest.mark.serial
def test_a_skewed_worker_measures_what_true_clocks_measure(tmp_path: Path) -> None:
    # What true clocks measure is the same run's deliveries within one worker (one
    # monotonic clock, no skew to undo), in the same seconds as the crossed ones: two
    # runs one after the other differ by more than 2 % on this machine (medians 1.9 ms
    # apart, the first run on a fresh server with the longer tail), which is no
    # question of clocks. A skew the clocks do not undo moves the crossed deliveries
    # by 50 ms one way or the other, their median and their tail. The tail of a few
    # hundred samples moves by chance: the crossed p99 must fall within the
    # within-process p99's sampling span, widened by the same tolerance; a stall of
    # the machine that falls on a few samples of one side lifts its p99 alone, so a
    # tail out of the span is measured once more with a new run; an offset not undone
    # shifts every run's tail and fails both.
    tails = []
    for attempt in range(2):
        p99, low, high, tolerance = _measure(tmp_path / f"run{attempt}")
        tails.append((p99, low, high, tolerance))
        if low - tolerance <= p99 <= high + tolerance:
            return
    raise AssertionError(f"the crossed p99 is out of the within-process span twice: {tails}")
