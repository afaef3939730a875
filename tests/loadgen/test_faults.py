"""Against a correct server the checks stay silent; against each fault they name it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from chatload.provision import ProvisionPlan, provision
from chatload.server.launcher import LaunchedServer
from tests.loadgen.support import read_stats, run_locust


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("faults")
    provision(
        root / "chat.db",
        root / "users.csv",
        ProvisionPlan(owners=5, requesters=15, history=60, layout="local"),
    )
    return root / "chat.db", root / "users.csv"


def _busy_run(
    dataset: tuple[Path, Path], tmp_path: Path, *server_args: str, locust_args: tuple[str, ...] = ()
) -> tuple[dict[str, dict[str, str]], list[dict[str, str]]]:
    db, users = dataset
    copy = tmp_path / "chat.db"
    copy.write_bytes(db.read_bytes())
    prefix = tmp_path / "run"
    with LaunchedServer(copy, *server_args) as server:
        done = run_locust(
            "--headless",
            "-u",
            "20",
            "-r",
            "20",
            "-t",
            "12s",
            "--host",
            server.url,
            "--users-file",
            str(users),
            "--think-min",
            "0.05",
            "--think-max",
            "0.3",
            "--answer-timeout",
            "2",
            "--quiesce-seconds",
            "2",
            "--csv",
            str(prefix),
            "--only-summary",
            *locust_args,
            timeout=90,
        )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    with Path(f"{prefix}_invariants.csv").open(newline="") as handle:
        breaches = list(csv.DictReader(handle))
    return read_stats(prefix), breaches


@pytest.mark.slow
def test_a_busy_run_on_a_correct_server_finds_nothing(
    dataset: tuple[Path, Path], tmp_path: Path
) -> None:
    stats, breaches = _busy_run(dataset, tmp_path, locust_args=("--probes", "2"))
    assert breaches == []
    assert not [name for name, row in stats.items() if row["Type"] == "invariant"]
    assert int(stats["Aggregated"]["Failure Count"]) == 0
    assert int(stats["access_probe"]["Request Count"]) > 0, "the probes were refused, silently"
    assert int(stats["send_ack"]["Request Count"]) > 300, "a busy run"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "kinds", "locust_args"),
    [
        ("drop=0.2", {"loss", "gap"}, ()),
        ("duplicate=0.2", {"duplicate"}, ()),
        ("reorder=0.2", {"reorder"}, ()),
        ("miscount=0.5", {"unread"}, ()),
        ("history-skip=0.5", {"history"}, ()),
        ("foreign-chat=1", {"access"}, ("--probes", "2")),
    ],
)
def test_each_fault_is_named(
    dataset: tuple[Path, Path],
    tmp_path: Path,
    fault: str,
    kinds: set[str],
    locust_args: tuple[str, ...],
) -> None:
    stats, breaches = _busy_run(dataset, tmp_path, "--test-fault", fault, locust_args=locust_args)
    found = {row["kind"] for row in breaches}
    assert found & kinds, (fault, found)
    row = next(r for r in breaches if r["kind"] in kinds)
    assert row["chat_id"] and row["users"] and row["detail"] and row["time"].endswith("Z")
    # The same breaches are Locust failures under the invariant type, by kind.
    invariant_rows = {name for name, r in stats.items() if r["Type"] == "invariant"}
    assert invariant_rows & kinds
