"""wss:// for real: verification on by default, a CA bundle, an explicit insecure switch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chatload.provision import ProvisionPlan, provision
from chatload.server.launcher import LaunchedServer
from tests.loadgen.support import headless, read_stats, run_locust


@pytest.fixture(scope="module")
def tls_target(
    tmp_path_factory: pytest.TempPathFactory, certificate: tuple[Path, Path]
) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("tls-target")
    provision(
        root / "chat.db", root / "users.csv", ProvisionPlan(owners=2, requesters=6, history=60)
    )
    cert, key = certificate
    with LaunchedServer(root / "chat.db", "--tls-cert", str(cert), "--tls-key", str(key)) as server:
        yield server.url, root / "users.csv"


def _run(url: str, users: Path, tmp_path: Path, *extra: str) -> tuple[int, str, Path]:
    prefix = tmp_path / "run"
    done = run_locust(
        *headless(4, "6s"),
        # Brisk people: a write comes within the 6 s whatever the draw.
        "--think-min",
        "0.2",
        "--think-max",
        "0.6",
        "--host",
        url,
        "--users-file",
        str(users),
        "--csv",
        str(prefix),
        "--only-summary",
        *extra,
        timeout=60,
    )
    return done.returncode, done.stderr, prefix


def test_a_trusted_ca_bundle(
    tls_target: tuple[str, Path], certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    url, users = tls_target
    code, err, prefix = _run(url, users, tmp_path, "--ca-bundle", str(certificate[0]))
    assert code == 0, err[-2000:]
    stats = read_stats(prefix)
    assert int(stats["send_ack"]["Request Count"]) > 0
    assert int(stats["Aggregated"]["Failure Count"]) == 0


def test_verification_is_on_by_default(tls_target: tuple[str, Path], tmp_path: Path) -> None:
    url, users = tls_target
    code, err, _ = _run(url, users, tmp_path)
    assert code == 2
    [line] = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert "TLS failed" in line and "CERTIFICATE_VERIFY_FAILED" in line


def test_the_insecure_switch(tls_target: tuple[str, Path], tmp_path: Path) -> None:
    url, users = tls_target
    code, err, prefix = _run(url, users, tmp_path, "--insecure")
    assert code == 0, err[-2000:]
    assert int(read_stats(prefix)["Aggregated"]["Failure Count"]) == 0
