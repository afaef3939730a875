from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatload.provision import ProvisionPlan, provision
from tests.support import Dataset, ServerThread, server_config

# Small enough to build in a fraction of a second, large enough that history spans
# several pages and every owner has several chats.
TEST_PLAN = ProvisionPlan(
    owners=3, requesters=8, events_per_owner=2, chats_per_requester=2, history=120, seed=7
)


def pytest_report_header() -> str:
    # The numeric tests must not depend on the BLAS kernel OpenBLAS picks for this
    # processor (.ci/run runs them again under another: OPENBLAS_CORETYPE).
    import numpy  # noqa: F401  (loads OpenBLAS, so that it is seen)
    from threadpoolctl import threadpool_info

    kernels = sorted(
        {f"{pool['internal_api']} {pool.get('architecture')}" for pool in threadpool_info()}
    )
    return "BLAS: " + (", ".join(kernels) or "none loaded")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The files with whole runs first: two workers given the longest work first end
    # nearer together than when a run of minutes is the last file one of them takes.
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


def pytest_collection_finish(session: pytest.Session) -> None:
    # Importing Locust patches threading and sockets with gevent for the whole test
    # process, and servers on threads then hang: Locust runs in child processes only.
    if "locust" in sys.modules:
        raise pytest.UsageError(
            "a test module imported locust into the test process: run it in a child "
            "process (tests/loadgen/support.py) or test a module that does not import it"
        )


@pytest.fixture(scope="session")
def template_dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    root = tmp_path_factory.mktemp("template")
    provision(root / "chat.db", root / "users.csv", TEST_PLAN)
    return Dataset(root / "chat.db", root / "users.csv")


@pytest.fixture
def dataset(template_dataset: Dataset, tmp_path: Path) -> Dataset:
    shutil.copy(template_dataset.db, tmp_path / "chat.db")
    shutil.copy(template_dataset.users_csv, tmp_path / "users.csv")
    return Dataset(tmp_path / "chat.db", tmp_path / "users.csv")


@pytest.fixture
def start_server(dataset: Dataset) -> Iterator[Callable[..., ServerThread]]:
    started: list[ServerThread] = []

    def start(**overrides: Any) -> ServerThread:
        server = ServerThread(server_config(dataset, **overrides)).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., ServerThread]) -> ServerThread:
    return start_server()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1 (made with openssl)."""
    import subprocess

    root = tmp_path_factory.mktemp("tls")
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
