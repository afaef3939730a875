"""What one process can hold: open files and local ports, said before users start.

Every connection is a file descriptor in the generator process and another in
the server's, and a local port on the generator's machine. Linux gives each
(local address, server address) pair one range of ephemeral ports
(``net.ipv4.ip_local_port_range``, 28,232 ports by default), so one machine
reaches one server address with at most that many connections per local
address. The checks here are pure (fed numbers); :func:`open_file_limits` and
:func:`ephemeral_ports` read the machine.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

__all__ = [
    "RESERVED_FILES",
    "Capacity",
    "ephemeral_ports",
    "open_file_limits",
    "raise_open_file_limit",
    "release_free_memory",
    "server_capacity_problem",
]

# Descriptors a process needs besides its connections: Locust's sockets to the
# master and the web UI, log and export files, the event loop, pipes.
RESERVED_FILES: Final = 128
_DEFAULT_PORTS: Final = 60999 - 32768 + 1
_PORT_RANGE: Final = Path("/proc/sys/net/ipv4/ip_local_port_range")


def open_file_limits() -> tuple[int, int]:
    """This process's soft and hard limits on open files (infinite: a large number)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Unix
        return 1 << 30, 1 << 30
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = resource.RLIM_INFINITY
    return (1 << 30 if soft == unlimited else soft), (1 << 30 if hard == unlimited else hard)


def raise_open_file_limit() -> int:
    """Lift the soft open-file limit to the hard one (any process may); the limit now."""
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return open_file_limits()[0]


def ephemeral_ports(path: Path = _PORT_RANGE) -> int:
    """Local ports per (local address, server address): the kernel's ephemeral range."""
    try:
        low, high = (int(part) for part in path.read_text().split())
    except (OSError, ValueError):
        return _DEFAULT_PORTS
    return max(0, high - low + 1)


@dataclass(frozen=True, slots=True)
class Capacity:
    """How many connections one generator process can open."""

    files: int  # the open-file limit (soft, once raised to the hard one)
    hard_files: int
    ports: int  # ephemeral ports per local address
    sources: int  # local addresses (1: the kernel's choice)

    @property
    def connections(self) -> int:
        return max(0, min(self.files - RESERVED_FILES, self.ports * max(1, self.sources)))

    def to_wire(self) -> list[int]:
        return [self.files, self.hard_files, self.ports, self.sources]

    @classmethod
    def from_wire(cls, item: list[Any]) -> Capacity:
        files, hard_files, ports, sources = map(int, item)
        return cls(files, hard_files, ports, sources)

    def problem(self, users: int, target: str, where: str = "this process") -> str | None:
        """Why ``users`` connections do not fit, in one line with the fix; None if they do."""
        needed = users + RESERVED_FILES
        if needed > self.files:
            return (
                f"{users} users need {needed} open files in {where} and its limit is "
                f"{self.files} (hard limit {self.hard_files}): raise it (ulimit -n {needed}, "
                "LimitNOFILE= for a service) or spread the users over more processes "
                "(--processes N, or workers on more machines)"
            )
        sources = max(1, self.sources)
        if users > self.ports * sources:
            wanted = math.ceil(users / max(1, self.ports))
            return (
                f"{users} users open {users} connections to {target} from {where}, and "
                f"{sources} local address{'es' if sources > 1 else ''} give "
                f"{self.ports * sources} ports (net.ipv4.ip_local_port_range: {self.ports} "
                f"each): give --source-addresses {wanted} or more addresses (on loopback "
                f"127.0.0.1-127.0.0.{wanted}) or run workers on more machines"
            )
        return None


def server_capacity_problem(users: int, hard_files: int) -> str | None:
    """Whether the embedded reference server, a process with these limits, can hold
    ``users`` connections."""
    needed = users + RESERVED_FILES
    if needed <= hard_files:
        return None
    return (
        f"the embedded server would hold {users} connections and needs {needed} open files; "
        f"the hard limit is {hard_files}: raise it (ulimit -Hn, as root), lower -u, or run "
        "your own server (--host) on another machine"
    )


def release_free_memory() -> bool:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``).

    A connection storm parses an ``initial_data`` per user: tens of megabytes that
    are freed once the users are connected, but stay resident between the chat
    state that outlives them. Whether it ran (only on glibc)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        trim = libc.malloc_trim
    except (ImportError, OSError, AttributeError):
        return False
    trim(0)
    return True
