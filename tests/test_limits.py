"""What one process can hold: the checks are fed numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatload.limits import RESERVED_FILES, Capacity, ephemeral_ports, server_capacity_problem


def test_users_that_fit() -> None:
    capacity = Capacity(files=20_000, hard_files=20_000, ports=28_232, sources=0)
    assert capacity.problem(19_000, "ws://127.0.0.1:8765/") is None
    assert capacity.connections == 20_000 - RESERVED_FILES


def test_too_few_open_files_says_so_with_the_fix() -> None:
    capacity = Capacity(files=20_000, hard_files=20_000, ports=28_232, sources=0)
    problem = capacity.problem(25_000, "ws://chat/")
    assert problem is not None
    assert f"25000 users need {25_000 + RESERVED_FILES} open files in this process" in problem
    assert "limit is 20000 (hard limit 20000)" in problem
    assert "ulimit -n" in problem and "--processes" in problem
    assert "\n" not in problem


def test_too_few_ports_asks_for_source_addresses() -> None:
    capacity = Capacity(files=200_000, hard_files=200_000, ports=28_232, sources=0)
    problem = capacity.problem(60_000, "ws://127.0.0.1:8765/", where="each worker")
    assert problem is not None
    assert "60000 connections to ws://127.0.0.1:8765/ from each worker" in problem
    assert "1 local address give 28232 ports" in problem
    assert "--source-addresses 3 or more addresses (on loopback 127.0.0.1-127.0.0.3)" in problem
    spread = Capacity(files=200_000, hard_files=200_000, ports=28_232, sources=3)
    assert spread.problem(60_000, "ws://127.0.0.1:8765/") is None
    assert spread.connections == 3 * 28_232


def test_the_embedded_server_has_its_own_limit() -> None:
    assert server_capacity_problem(19_000, 20_000) is None
    problem = server_capacity_problem(25_000, 20_000)
    assert problem is not None and "embedded server would hold 25000 connections" in problem


def test_the_port_range_is_read_from_the_kernel(tmp_path: Path) -> None:
    port_range = tmp_path / "ip_local_port_range"
    port_range.write_text("32768\t60999\n")
    assert ephemeral_ports(port_range) == 28_232
    port_range.write_text("nonsense")
    assert ephemeral_ports(port_range) == 28_232  # the Linux default
    assert ephemeral_ports(tmp_path / "missing") == 28_232


@pytest.mark.parametrize("users", [1, 1000])
def test_small_runs_fit_anywhere(users: int) -> None:
    assert (
        Capacity(files=4096, hard_files=4096, ports=28_232, sources=0).problem(users, "x") is None
    )
