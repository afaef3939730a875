"""The generator side of ``chatload bench-scale``, run as its own process.

    python -m chatload.bench.scale_driver HOST USERS_CSV USERS SPAWN_RATE STEADY \\
        THINK_MIN THINK_MAX PREFIX [SOURCE_ADDRESSES]

Builds a real Locust Environment with the real personas (owners and requesters,
1:4), spawns USERS at SPAWN_RATE, waits until every one is connected, then lets
them act every THINK_MIN..THINK_MAX seconds for STEADY seconds. Prints one JSON
line: time to connect, connect failures, RSS per user once connected (idle) and
after the steady window, generator CPU over the window, and the generator-health
rows of the intervals wholly inside it (from chatload's own export at PREFIX).
"""

from __future__ import annotations

import csv
import gc
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from chatload.bench.common import own_cpu_seconds, rss_bytes


class _GcPauses:
    """How long the cyclic garbage collector held the process, per generation."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._started)

    def take(self) -> dict[str, Any]:
        taken = {
            str(gen): {"count": len(p), "max_ms": max(p, default=0.0) * 1000}
            for gen, p in self.pauses.items()
        }
        for pauses in self.pauses.values():
            pauses.clear()
        return taken


def _counts(runner: Any) -> tuple[int, int]:
    """Samples and failures of every chat metric so far."""
    samples = failures = 0
    for (_, kind), entry in runner.stats.entries.items():
        if kind == "chat":
            samples += entry.num_requests
            failures += entry.num_failures
    return samples, failures


def _health(prefix: str, start: float, end: float) -> list[dict[str, str]]:
    """The generator-health rows of the intervals wholly inside ``start..end``."""

    def at(text: str) -> float:
        return datetime.fromisoformat(text).timestamp()

    with Path(f"{prefix}_generator_health.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        row for row in rows if at(row["interval_start"]) >= start and at(row["interval_end"]) <= end
    ]


def scale(argv: list[str]) -> dict[str, Any]:
    import gevent
    from locust import events

    from chatload.bench.generator_driver import environment_for
    from chatload.errors import ConfigError
    from chatload.loadgen.people.user import runtime_for

    host, users_csv, prefix = argv[0], argv[1], argv[7]
    users, spawn_rate, steady = int(argv[2]), float(argv[3]), float(argv[4])
    think_min, think_max = argv[5], argv[6]
    extra = ["--source-addresses", argv[8]] if len(argv) > 8 and argv[8] else []
    baseline: list[int] = []

    def measure_baseline(**_: Any) -> None:
        gc.collect()
        baseline.append(rss_bytes())

    _, runner = environment_for(
        host,
        users_csv,
        users,
        [
            "--think-min",
            think_min,
            "--think-max",
            think_max,
            "--churn-share",
            "0",
            "--owner-weight",
            "1",
            "--requester-weight",
            "4",
            "--csv",
            prefix,
            "--chat-interval",
            "5",
            *extra,
        ],
    )
    events.test_start.add_listener(measure_baseline)  # after chatload's own listener
    pauses = _GcPauses()
    started = time.monotonic()
    runner.start(users, spawn_rate=spawn_rate)
    runtime = None
    while runtime is None or len(runtime.clients) < users:
        if time.monotonic() - started > users / spawn_rate + 120:
            break
        gevent.sleep(0.1)
        try:
            runtime = runtime_for(runner.environment)
        except ConfigError:  # test_start has not run yet
            runtime = None
    connected_after = time.monotonic() - started
    connected = len(runtime.clients) if runtime is not None else 0
    connect = runner.stats.entries.get(("connect", "chat"))
    connect_failures = connect.num_failures if connect is not None else 0
    gevent.sleep(3.0)  # memory released after the storm (see ChatRuntime.settle)
    gc.collect()
    idle_rss = rss_bytes()
    samples0, failures0 = _counts(runner)
    pauses.take()
    cpu0, wall0, mono0 = own_cpu_seconds(), time.time(), time.perf_counter()
    gevent.sleep(steady)
    elapsed = time.perf_counter() - mono0
    cpu = (own_cpu_seconds() - cpu0) / elapsed
    samples1, failures1 = _counts(runner)
    wall1 = time.time()
    gc.collect()
    busy_rss = rss_bytes()
    health = _health(prefix, wall0, wall1)
    collections = pauses.take()
    errors = sorted({str(error.error) for error in runner.stats.errors.values()})[:5]
    return {
        "users": users,
        "connected": connected,
        "connect_seconds": connected_after,
        "connect_failures": connect_failures,
        "idle_rss_per_user": (idle_rss - baseline[0]) / users,
        "busy_rss_per_user": (busy_rss - baseline[0]) / users,
        "baseline_rss": baseline[0],
        "cpu": cpu,
        "samples_per_s": (samples1 - samples0) / elapsed,
        "failures": failures1 - failures0,
        "errors": errors,
        "health": health,
        "gc": collections,
    }


def main(argv: list[str]) -> int:
    from locust import events  # noqa: F401  - Locust patches the standard library first

    result = scale(argv)
    print(json.dumps(result), flush=True)
    sys.stdout.flush()
    os._exit(0)  # skip the teardown of tens of thousands of sockets: the numbers are out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
