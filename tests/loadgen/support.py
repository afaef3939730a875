"""Running Locust the way people do: as its own process."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatload.provision import ProvisionPlan, provision

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "locustfiles" / "chat.py"
DRIVER = Path(__file__).with_name("drive_environment.py")
METRICS = (
    "connect",
    "initial_data",
    "send_ack",
    "delivery",
    "unread_propagation",
    "read_ack",
    "read_propagation",
    "history",
)


SMALL_PLAN = ProvisionPlan(owners=5, requesters=15, history=60, layout="local")


def small_dataset(root: Path, plan: ProvisionPlan = SMALL_PLAN) -> tuple[Path, Path]:
    """A database and users file in ``root`` (by default 5 owners and 15 requesters
    laid out to talk together)."""
    provision(root / "chat.db", root / "users.csv", plan)
    return root / "chat.db", root / "users.csv"


def until(
    what: str,
    check: Callable[[], Any],
    timeout: float = 60,
    *,
    interval: float = 0.5,
    process: subprocess.Popen[Any] | None = None,
    seen: Callable[[], object] | None = None,
) -> Any:
    """Poll ``check`` until it gives something true, and return it; fail after
    ``timeout`` seconds (saying what was ``seen``), or as soon as ``process`` ended.
    An OSError counts as not yet (a server still starting)."""
    deadline = time.monotonic() + timeout
    while True:
        assert process is None or process.poll() is None, f"the process ended before {what}"
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}: {seen and seen()}"
        time.sleep(interval)


def headless(users: int, run_time: str, *, rate: int | None = None) -> tuple[str, ...]:
    """Locust's options of a headless run of ``users`` started at once."""
    return ("--headless", "-u", str(users), "-r", str(rate or users), "-t", run_time)


def locust_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


def run_locust(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        locust_command(*args),
        capture_output=True,
        check=False,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def read_stats(prefix: Path) -> dict[str, dict[str, str]]:
    with Path(f"{prefix}_stats.csv").open(newline="") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def drive(seconds: float, users: int, *args: str, timeout: float = 120) -> dict[str, Any]:
    """Personas in a real Environment (tests/loadgen/drive_environment.py)."""
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(seconds), str(users), *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def assert_every_metric_clean(stats: dict[str, dict[str, str]], prefix: Path | None = None) -> None:
    """Every metric measured, nothing failed (with ``prefix``, the failures say why)."""
    why = Path(f"{prefix}_failures.csv").read_text() if prefix is not None else ""
    for metric in METRICS:
        assert metric in stats, f"{metric} has no samples: {sorted(stats)}"
        assert int(stats[metric]["Request Count"]) > 0, metric
        assert int(stats[metric]["Failure Count"]) == 0, (metric, stats[metric], why)
    assert int(stats["Aggregated"]["Failure Count"]) == 0, why
