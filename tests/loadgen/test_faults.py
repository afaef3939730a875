"""Against a correct server the checks stay silent; against each fault they name it."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pytest

from chatload.server.launcher import LaunchedServer
from tests.loadgen.support import ROOT, headless, locust_command, read_stats, small_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return small_dataset(tmp_path_factory.mktemp("faults"))


_FAULTS = {
    "drop=0.2": ({"loss", "gap"}, ()),
    "duplicate=0.2": ({"duplicate"}, ()),
    "reorder=0.2": ({"reorder"}, ()),
    "miscount=0.5": ({"unread"}, ()),
    "history-skip=0.5": ({"history"}, ()),
    "foreign-chat=1": ({"access"}, ("--probes", "2")),
}
_RUN = (
    *headless(20, "12s"),
    "--think-min",
    "0.05",
    "--think-max",
    "0.3",
    "--answer-timeout",
    "2",
    "--quiesce-seconds",
    "2",
    "--only-summary",
)

Outcome = tuple[dict[str, dict[str, str]], list[dict[str, str]]]


class _Run:
    """One run against its own server (a copy of the dataset), started at once."""

    def __init__(
        self,
        dataset: tuple[Path, Path],
        root: Path,
        server_args: tuple[str, ...],
        locust_args: tuple[str, ...],
    ) -> None:
        db, users = dataset
        root.mkdir(parents=True, exist_ok=True)
        (root / "chat.db").write_bytes(db.read_bytes())
        self.prefix = root / "run"
        self.server = LaunchedServer(root / "chat.db", *server_args)
        self.process = subprocess.Popen(
            locust_command(
                *_RUN,
                "--host",
                self.server.url,
                "--users-file",
                str(users),
                "--csv",
                str(self.prefix),
                *locust_args,
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )

    def outcome(self) -> Outcome:
        try:
            _, err = self.process.communicate(timeout=120)
        finally:
            self.process.kill()
            self.server.stop()
        assert self.process.returncode in (0, 1), err[-3000:]
        assert "Traceback" not in err
        with Path(f"{self.prefix}_invariants.csv").open(newline="") as handle:
            breaches = list(csv.DictReader(handle))
        return read_stats(self.prefix), breaches


@pytest.fixture(scope="module")
def fault_runs(
    dataset: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    """Every fault's run, side by side: they check correctness, not timing."""
    root = tmp_path_factory.mktemp("fault-runs")
    runs = {
        fault: _Run(dataset, root / str(n), ("--test-fault", fault), args)
        for n, (fault, (_, args)) in enumerate(_FAULTS.items())
    }
    return {fault: run.outcome() for fault, run in runs.items()}


@pytest.mark.slow
def test_a_busy_run_on_a_correct_server_finds_nothing(
    dataset: tuple[Path, Path], tmp_path: Path
) -> None:
    stats, breaches = _Run(dataset, tmp_path, (), ("--probes", "2")).outcome()
    assert breaches == []
    assert not [name for name, row in stats.items() if row["Type"] == "invariant"]
    assert int(stats["Aggregated"]["Failure Count"]) == 0
    assert int(stats["access_probe"]["Request Count"]) > 0, "the probes were refused, silently"
    assert int(stats["send_ack"]["Request Count"]) > 300, "a busy run"


@pytest.mark.slow
@pytest.mark.parametrize("fault", _FAULTS)
def test_each_fault_is_named(fault_runs: dict[str, Outcome], fault: str) -> None:
    kinds = _FAULTS[fault][0]
    stats, breaches = fault_runs[fault]
    found = {row["kind"] for row in breaches}
    assert found & kinds, (fault, found)
    row = next(r for r in breaches if r["kind"] in kinds)
    assert row["chat_id"] and row["users"] and row["detail"] and row["time"].endswith("Z")
    # The same breaches are Locust failures under the invariant type, by kind.
    invariant_rows = {name for name, r in stats.items() if r["Type"] == "invariant"}
    assert invariant_rows & kinds
