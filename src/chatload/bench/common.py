"""What the benchmarks share: CPU accounting, core checks, the pairs dataset."""

from __future__ import annotations

import os
from pathlib import Path

from chatload.errors import ConfigError
from chatload.provision import ProvisionPlan, provision

__all__ = ["check_cores", "own_cpu_seconds", "process_cpu_seconds", "provision_pairs", "rss_bytes"]


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds another process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes() -> int:
    """This process's resident memory."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def check_cores(*cores: int) -> None:
    available = os.cpu_count() or 1
    if max(cores) >= available:
        raise ConfigError(
            f"this machine has cores 0..{available - 1}: choose --server-cpu/--client-cpu"
        )


def provision_pairs(db: Path, users_csv: Path, pairs: int) -> None:
    """``pairs`` independent chats, each between its own owner and requester."""
    plan = ProvisionPlan(
        owners=pairs,
        requesters=pairs,
        events_per_owner=1,
        chats_per_requester=1,
        history=0,
        layout="pairs",
    )
    provision(db, users_csv, plan, force=True)
