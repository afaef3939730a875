"""A master and two workers on loopback, the way Locust scales out; the master
merges the records and decides the SLO gates."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.loadgen.support import (
    ROOT,
    assert_every_metric_clean,
    headless,
    locust_command,
    read_stats,
)


@pytest.mark.slow
def test_master_and_two_workers(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    master = subprocess.Popen(
        locust_command(
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            "2",
            *headless(20, "20s"),
            "--csv",
            str(tmp_path / "run"),
            "--only-summary",
            "--slo",
            "delivery p99 < 1us",
            "--slo",
            "invariant breaches == 0",
            "--slo-junit",
            str(tmp_path / "slo.xml"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    workers = [
        subprocess.Popen(
            locust_command("--worker", "--master-host", "127.0.0.1", "--master-port", str(port)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    try:
        _, err = master.communicate(timeout=90)
        worker_errors = [worker.communicate(timeout=30)[1] for worker in workers]
    finally:
        for process in (master, *workers):
            process.kill()
    # Exit 1 from the breached SLO alone: nothing failed (checked below).
    assert master.returncode == 1, err[-3000:]
    assert all(worker.returncode == 0 for worker in workers), worker_errors
    assert "Traceback" not in err and not any("Traceback" in e for e in worker_errors)
    assert "SLO FAIL delivery p99 < 1us: " in err and "SLO PASS invariant breaches == 0: 0" in err
    assert not any("SLO " in e for e in worker_errors), "workers do not judge"
    assert 'tests="2" failures="1"' in (tmp_path / "slo.xml").read_text(encoding="utf-8")
    stats = read_stats(tmp_path / "run")
    assert_every_metric_clean(stats, tmp_path / "run")
    # Both workers' users were counted at the master.
    assert int(stats["connect"]["Request Count"]) >= 20
