"""``chatload bench-generator``: what one generator core and one user cost.

Three measurements in one run, the server and the generator each pinned to a
core with taskset:

1. chat messages/s one generator core sustains with every metric on: pairs of
   users (``--layout pairs``) write to each other as fast as a window of
   unacknowledged messages allows; every message is sent, acknowledged,
   delivered and counted unread on both sides, and timed as send_ack, delivery
   and unread_propagation;
2. the yardstick: a raw gevent + websocket-client echo loop on the same core;
3. RSS per connected user at 5,000 connected users (real personas, idle).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatload.bench.common import check_cores, process_cpu_seconds, provision_pairs
from chatload.errors import ChatloadError
from chatload.provision import ProvisionPlan, provision
from chatload.server.launcher import LaunchedServer, pinned

__all__ = [
    "GeneratorBenchOptions",
    "json_from",
    "run_generator_benchmark",
    "throughput",
    "yardstick",
]


@dataclass(frozen=True, slots=True)
class GeneratorBenchOptions:
    pairs: int = 200
    window: int = 8
    duration: float = 10.0
    memory_users: int = 5000
    echo_connections: int = 100
    server_cpu: int = 0
    client_cpu: int = 1
    workdir: Path | None = None
    socketio: bool = False  # also over Socket.IO, beside the plain transport
    target_ratio: float = 1.5  # frames received per core, against the yardstick's
    target_rss_kib: float = 16.0


def json_from(command: list[str], cpu: int, timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        pinned([sys.executable, "-m", *command], cpu),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise ChatloadError(f"{command[0]} failed: {done.stderr.strip().splitlines()[-1:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def throughput(
    root: Path, options: GeneratorBenchOptions, transport: str = "websocket"
) -> dict[str, Any]:
    db, users = root / f"pairs-{transport}.db", root / "pairs.csv"
    provision_pairs(db, users, options.pairs)
    with LaunchedServer(
        db,
        "--stats-interval",
        "0",
        "--log-level",
        "warning",
        "--transport",
        transport,
        cpu=options.server_cpu,
    ) as server:
        return _with_server_cpu(
            server.pid,
            [
                "chatload.bench.generator_driver",
                "throughput",
                server.url,
                str(users),
                str(2 * options.pairs),
                str(options.duration),
                str(options.window),
                transport,
            ],
            options.client_cpu,
            timeout=options.duration + 180,
        )


def _with_server_cpu(
    server_pid: int, module_args: list[str], cpu: int, timeout: float
) -> dict[str, Any]:
    """The JSON result of a pinned child, plus the CPU share the server used meanwhile."""
    server_cpu0, started = process_cpu_seconds(server_pid), time.perf_counter()
    result = json_from(module_args, cpu, timeout=timeout)
    result["server_cpu"] = (process_cpu_seconds(server_pid) - server_cpu0) / (
        time.perf_counter() - started
    )
    return result


def yardstick(root: Path, options: GeneratorBenchOptions) -> dict[str, Any]:
    ready = root / "echo.json"
    echo = subprocess.Popen(
        pinned(
            [sys.executable, "-m", "chatload.bench.echo_yardstick", "serve", str(ready)],
            options.server_cpu,
        )
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() or not ready.read_text():
            if echo.poll() is not None or time.monotonic() > deadline:
                raise ChatloadError("the echo server of the yardstick did not start")
            time.sleep(0.05)
        url = json.loads(ready.read_text())["url"]
        return _with_server_cpu(
            echo.pid,
            [
                "chatload.bench.echo_yardstick",
                "client",
                url,
                str(options.echo_connections),
                str(options.duration),
            ],
            options.client_cpu,
            timeout=options.duration + 120,
        )
    finally:
        echo.terminate()
        echo.wait(10)


def _floor(options: GeneratorBenchOptions) -> dict[str, Any]:
    return json_from(
        ["chatload.bench.generator_driver", "floor", str(options.memory_users)],
        options.client_cpu,
        timeout=300,
    )


def _memory(root: Path, options: GeneratorBenchOptions) -> dict[str, Any]:
    db, users = root / "memory.db", root / "memory.csv"
    owners = options.memory_users // 5
    provision(
        db,
        users,
        ProvisionPlan(
            owners=owners,
            requesters=options.memory_users - owners,
            events_per_owner=2,
            chats_per_requester=2,
            history=20,
        ),
        force=True,
    )
    with LaunchedServer(
        db, "--stats-interval", "0", "--log-level", "warning", cpu=options.server_cpu
    ) as server:
        return json_from(
            [
                "chatload.bench.generator_driver",
                "memory",
                server.url,
                str(users),
                str(options.memory_users),
            ],
            options.client_cpu,
            timeout=600,
        )


def run_generator_benchmark(options: GeneratorBenchOptions) -> int:
    check_cores(options.server_cpu, options.client_cpu)
    with contextlib.ExitStack() as stack:
        root = options.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        root.mkdir(parents=True, exist_ok=True)
        chat = throughput(root, options)
        sio = throughput(root, options, "socketio") if options.socketio else None
        echo = yardstick(root, options)
        memory = _memory(root, options) if options.memory_users else None
        floor = _floor(options) if options.memory_users else None
    messages = chat["rates"].get("send_ack", 0.0)
    print(
        f"generator core, every metric on ({2 * options.pairs} users, window {options.window}):\n"
        f"  chat messages/s (send, ack, delivery, both unread updates): {messages:,.0f}\n"
        f"  frames/s received: {chat['frames_per_s']:,.0f}; failures: {chat['failures']}\n"
        f"  CPU: generator {chat['cpu']:.0%}, server {chat['server_cpu']:.0%} of a core\n"
        f"yardstick, raw gevent + websocket-client echo ({options.echo_connections} connections):\n"
        f"  round trips/s: {echo['round_trips_per_s']:,.0f} "
        f"({echo['frames_per_s']:,.0f} frames/s)\n"
        f"  CPU: client {echo['cpu']:.0%}, echo server {echo['server_cpu']:.0%} of a core"
    )
    if sio is not None:
        over_sio = sio["rates"].get("send_ack", 0.0)
        print(
            f"over Socket.IO, same run: {over_sio:,.0f} chat messages/s "
            f"({over_sio / messages:.0%} of plain WebSocket), {sio['frames_per_s']:,.0f} frames/s, "
            f"failures: {sio['failures']}, CPU: generator {sio['cpu']:.0%}, "
            f"server {sio['server_cpu']:.0%}"
        )
    ratio = chat["frames_per_s"] / echo["frames_per_s"]
    print(f"frames received per core against the yardstick: {ratio:.2f}x")
    missed = ratio < options.target_ratio
    if memory is not None:
        per_user_kib = memory["per_user_bytes"] / 1024
        print(
            f"memory at {memory['users']:,} connected users: {per_user_kib:.1f} KiB RSS per user "
            f"({memory['rss_bytes'] / 2**20:.0f} MiB, "
            f"baseline {memory['baseline_bytes'] / 2**20:.0f} MiB; "
            f"connected in {memory['connect_seconds']:.1f} s)"
        )
        missed = missed or per_user_kib > options.target_rss_kib
    if floor is not None:
        print(
            f"  floor, before any chat state: an idle Locust user "
            f"{floor['idle_locust_user_bytes'] / 1024:.1f} KiB, a greenlet blocked in recv "
            f"{floor['blocked_receive_greenlet_bytes'] / 1024:.1f} KiB"
        )
    print(
        json.dumps({"chat": chat, "socketio": sio, "echo": echo, "memory": memory, "floor": floor})
    )
    if missed:
        print(
            f"targets: {options.target_ratio}x the yardstick's frames, {options.target_rss_kib} "
            "KiB per user: missed (docs/benchmarks.md says where the time and memory go)"
        )
        return 1
    return 0
