"""``chatload bench-scale``: many mostly idle users in one generator process.

For each number of users N (default 5,000, 10,000 and as many as the open-file
limit allows), with the server and the generator each pinned to one core:
provision N users (1 owner to 4 requesters), spawn them at ``--spawn-rate``,
then let every user act every 20-40 s for a steady ``--steady`` seconds. The
table says what a chat-typical load costs the generator as users grow: time to
connect, connect failures, RSS per user, CPU, and the event-loop lag of every
steady interval (from chatload's own generator-health export). The cost must
grow with traffic, not with users. Then ``bench-generator``'s throughput and
yardstick run again, side by side, so that the scale work is seen not to cost
throughput.
"""

from __future__ import annotations

import contextlib
import json
import math
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatload.bench.common import check_cores
from chatload.bench.generator_bench import GeneratorBenchOptions, json_from, throughput, yardstick
from chatload.errors import ConfigError
from chatload.limits import RESERVED_FILES, ephemeral_ports, open_file_limits
from chatload.provision import ProvisionPlan, provision
from chatload.server.launcher import LaunchedServer

__all__ = ["ScaleBenchOptions", "most_users", "run_scale_benchmark"]


@dataclass(frozen=True, slots=True)
class ScaleBenchOptions:
    users: tuple[int, ...] = ()  # empty: 5,000, 10,000 and the most this machine allows
    spawn_rate: float = 1000.0
    steady: float = 60.0
    think_min: float = 20.0
    think_max: float = 40.0
    history: int = 20
    server_cpu: int = 0
    client_cpu: int = 1
    workdir: Path | None = None
    generator: bool = True  # also re-run bench-generator's throughput and yardstick
    target_lag_p99_ms: float = 5.0
    target_rss_kib: float = 16.0
    users_per_address: int = 5000  # loopback source addresses: one per so many users


def loopback_sources(users: int, per_address: int) -> str:
    """``127.0.0.1-127.0.0.K``: the kernel's search for a free local port slows as
    one address's ports fill (0.6 ms a connect at 15,000 connections, measured)."""
    addresses = max(1, math.ceil(users / max(1, per_address)))
    return f"127.0.0.1-127.0.0.{addresses}" if addresses > 1 else ""


def most_users() -> int:
    """The most users one generator process and the server beside it can hold here,
    rounded down to a thousand: the open-file limit of each, and one address's ports."""
    hard = open_file_limits()[1]
    return max(1000, min(hard - RESERVED_FILES, ephemeral_ports()) // 1000 * 1000)


def _dataset(root: Path, users: int, history: int) -> tuple[Path, Path]:
    db, csv_path = root / f"scale-{users}.db", root / f"scale-{users}.csv"
    if not (db.exists() and csv_path.exists()):
        owners = users // 5
        plan = ProvisionPlan(
            owners=owners,
            requesters=users - owners,
            events_per_owner=2,
            chats_per_requester=2,
            history=history,
            layout="local",
        )
        provision(db, csv_path, plan, force=True)
    return db, csv_path


def _one(root: Path, users: int, options: ScaleBenchOptions) -> dict[str, Any]:
    db, users_csv = _dataset(root, users, options.history)
    prefix = root / f"run-{users}"
    with LaunchedServer(
        db, "--stats-interval", "0", "--log-level", "warning", cpu=options.server_cpu
    ) as server:
        result = json_from(
            [
                "chatload.bench.scale_driver",
                server.url,
                str(users_csv),
                str(users),
                str(options.spawn_rate),
                str(options.steady),
                str(options.think_min),
                str(options.think_max),
                str(prefix),
                loopback_sources(users, options.users_per_address),
            ],
            options.client_cpu,
            timeout=users / options.spawn_rate + options.steady + 600,
        )
    return result


def _lags(health: list[dict[str, str]]) -> dict[str, float]:
    def column(name: str) -> list[float]:
        return [float(row[name]) for row in health]

    return {
        "intervals": len(health),
        "lag_p50_ms": statistics.median(column("loop_lag_p50_ms")) if health else 0.0,
        "lag_p99_ms": max(column("loop_lag_p99_ms"), default=0.0),
        "lag_max_ms": max(column("loop_lag_max_ms"), default=0.0),
        "saturated": sum(row["saturated"] == "true" for row in health),
    }


def _row(result: dict[str, Any]) -> str:
    lags = _lags(result["health"])
    users = result["users"]
    idle, busy = result["idle_rss_per_user"] / 1024, result["busy_rss_per_user"] / 1024
    return (
        f"| {users:,} | {result['connect_seconds']:.1f} s | {result['connect_failures']} | "
        f"{idle:.1f} KiB | {busy:.1f} KiB | {result['cpu']:.0%} | "
        f"{result['cpu'] / users * 1e6:.1f} | "
        f"{result['samples_per_s']:,.0f} | {lags['lag_p50_ms']:.2f} / {lags['lag_p99_ms']:.2f} / "
        f"{lags['lag_max_ms']:.1f} ms | {lags['saturated']} of {lags['intervals']} |"
    )


def run_scale_benchmark(options: ScaleBenchOptions) -> int:
    check_cores(options.server_cpu, options.client_cpu)
    sizes = options.users or (5000, 10000, most_users())
    if max(sizes) > most_users():
        raise ConfigError(
            f"{max(sizes)} users do not fit the open-file limit here ({most_users()} at most): "
            "raise ulimit -n or ask for fewer"
        )
    results: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        root = options.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        root.mkdir(parents=True, exist_ok=True)
        for users in sorted(set(sizes)):
            results.append(_one(root, users, options))
            print(f"  {users:,} users measured", flush=True)
        chat = echo = None
        if options.generator:
            generator = GeneratorBenchOptions(
                server_cpu=options.server_cpu, client_cpu=options.client_cpu
            )
            chat, echo = throughput(root, generator), yardstick(root, generator)
    print(
        f"one generator process, users acting every {options.think_min:g}-{options.think_max:g} "
        f"s, spawned at {options.spawn_rate:,.0f}/s, {options.steady:g} s steady, one loopback "
        f"source address per {options.users_per_address:,} users:\n"
        "| users | connected in | connect failures | RSS/user idle | RSS/user after steady | "
        "CPU | CPU µs/s per user | samples/s | loop lag p50 / p99 / max | saturated |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    for result in results:
        print(_row(result))
    missed = []
    for result in results:
        lags = _lags(result["health"])
        if result["connect_failures"] or result["connected"] < result["users"]:
            missed.append(
                f"{result['users']}: {result['connected']} connected, "
                f"{result['connect_failures']} connect failures {result['errors']}"
            )
        if lags["lag_p99_ms"] > options.target_lag_p99_ms or lags["saturated"]:
            missed.append(f"{result['users']}: loop lag p99 {lags['lag_p99_ms']:.2f} ms")
        if result["idle_rss_per_user"] / 1024 > options.target_rss_kib:
            missed.append(
                f"{result['users']}: {result['idle_rss_per_user'] / 1024:.1f} KiB per idle user"
            )
    if chat is not None and echo is not None:
        messages, frames = chat["rates"].get("send_ack", 0.0), chat["frames_per_s"]
        print(
            f"bench-generator, same run: {messages:,.0f} chat messages/s on one core, "
            f"{frames:,.0f} frames/s received; yardstick {echo['frames_per_s']:,.0f} frames/s; "
            f"ratio {frames / echo['frames_per_s']:.2f}"
        )
    print(json.dumps({"scale": results, "chat": chat, "echo": echo}))
    if missed:
        print("targets missed: " + "; ".join(missed))
        return 1
    print(
        f"targets met: 0 connect failures, loop lag p99 <= {options.target_lag_p99_ms} ms in every "
        f"steady interval, <= {options.target_rss_kib} KiB RSS per idle user"
    )
    return 0
