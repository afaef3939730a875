"""The reference server as a child process: start it, learn its URL, stop it.

Used wherever chatload needs a server of its own beside the process that runs
the load (the benchmark, the embedded default target of the Locust users, the
tests that restart or kill -9 a server). The child binds port 0 and announces
its URL through ``--ready-file``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

from chatload.errors import ChatloadError

__all__ = ["LaunchedServer", "pinned"]


def pinned(command: list[str], cpu: int | None) -> list[str]:
    """``command`` run on core ``cpu`` with taskset (as is when there is none)."""
    if cpu is not None and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu), *command]
    return command


class LaunchedServer:
    """``chatload serve --db DB --port PORT ...`` in a child process (port 0: any free one)."""

    def __init__(
        self,
        db: Path,
        *extra_args: str,
        cpu: int | None = None,
        port: int = 0,
        log: IO[bytes] | int | None = subprocess.DEVNULL,
        start_timeout: float = 60.0,
    ) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="chatload-server-")
        ready = Path(self._dir.name) / "ready.json"
        command = [
            sys.executable,
            "-m",
            "chatload",
            "serve",
            "--db",
            str(db),
            "--port",
            str(port),
            "--ready-file",
            str(ready),
            *extra_args,
        ]
        self.process = subprocess.Popen(pinned(command, cpu), stdout=log, stderr=log)
        deadline = time.monotonic() + start_timeout
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise ChatloadError(
                    f"the reference server did not start (exit code {self.process.returncode}): "
                    f"run 'chatload serve --db {db}' alone to see why"
                )
            time.sleep(0.02)
        announced = json.loads(ready.read_text())
        self.url: str = announced["url"]
        self.port: int = announced["port"]

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Signal the server and wait for it; the exit code (killed if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._dir.cleanup()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: no shutdown at all, as a crash would leave things."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self._dir.cleanup()

    def __enter__(self) -> LaunchedServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
