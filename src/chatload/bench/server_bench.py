"""``chatload bench-server``: durable messages/s of the reference server on one core.

The server runs as its own process pinned to one core (``taskset``), the client
in this process pinned to another. Each of ``pairs`` chats has both participants
connected; each participant keeps ``window`` messages unacknowledged and sends
the next one when its own ``chat_updates`` (the acknowledgement, sent only after
the commit) comes back. Every message therefore costs the server the full
fan-out: ``chat_updates`` and ``chat_unread`` to both participants.

The client is a lean asyncio + websockets sans-I/O client, so that it is not the
bottleneck; the report shows both processes' CPU use over the measured window to
prove which side saturated.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import orjson
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from chatload.bench.common import (
    check_cores,
    own_cpu_seconds,
    process_cpu_seconds,
    provision_pairs,
)
from chatload.errors import ChatloadError, ConfigError
from chatload.server.launcher import LaunchedServer
from chatload.users_file import read_users

__all__ = ["BenchOptions", "BenchResult", "run_server_benchmark"]


@dataclass(frozen=True, slots=True)
class BenchOptions:
    pairs: int = 200
    duration: float = 10.0
    warmup: float = 2.0
    window: int = 1
    server_cpu: int = 0
    client_cpu: int = 1
    synchronous: str = "full"
    workdir: Path | None = None
    target: float = 15_000.0


@dataclass(frozen=True, slots=True)
class BenchResult:
    messages_per_s: float
    frames_per_s: float
    ack_p50_ms: float
    ack_p99_ms: float
    server_cpu_share: float
    client_cpu_share: float
    messages: int
    seconds: float


class _Participant(asyncio.Protocol):
    """One connected user that sends into its chat as fast as acks come back."""

    def __init__(self, bench: _Bench, url: str, user_id: int, token: str) -> None:
        self.bench = bench
        self.user_id = user_id
        self.ws = ClientProtocol(parse_uri(f"{url}?token={token}"), max_size=None)
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = bench.loop.create_future()
        self.chat_id = ""
        self.sent_at: deque[float] = deque()
        self.counter = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.ws.send_request(self.ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    self._on_text(event.data)
            elif isinstance(event, Response) and event.status_code != 101:
                self.opened.set_exception(ConfigError(f"handshake refused: {event.status_code}"))
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConfigError("the server closed the connection"))
        elif self.bench.running:
            self.bench.failures += 1

    def _on_text(self, data: Any) -> None:
        bench = self.bench
        bench.frames += 1
        envelope = orjson.loads(data)
        event = envelope["event"]
        if event == "chat_updates":
            message = envelope["data"]["messages"][0]
            if message["fromUserId"] == self.user_id:
                now = time.perf_counter()
                sent = self.sent_at.popleft()
                bench.record(now - sent)
                if bench.running:
                    self.send_one()
        elif event == "initial_data":
            self.chat_id = envelope["data"][0]["chats"][0]["chatId"]
            self.opened.set_result(None)
        elif event == "debug_info":
            bench.failures += 1

    def send_one(self) -> None:
        self.counter += 1
        frame = orjson.dumps(
            {
                "event": "send_message",
                "data": {
                    "chatId": self.chat_id,
                    "message": {"text": f"bench {self.user_id} {self.counter}"},
                },
            }
        )
        self.sent_at.append(time.perf_counter())
        self.ws.send_text(frame)

    def _flush(self) -> None:
        chunks = self.ws.data_to_send()
        if chunks and self.transport is not None and not self.transport.is_closing():
            self.transport.writelines([chunk for chunk in chunks if chunk])

    def kick(self, window: int) -> None:
        for _ in range(window):
            self.send_one()
        self._flush()


class _Bench:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.running = False
        self.measuring = False
        self.frames = 0
        self.acks = 0
        self.failures = 0
        self.latencies: list[float] = []

    def record(self, seconds: float) -> None:
        if self.measuring:
            self.acks += 1
            self.latencies.append(seconds)


def _same(participant: _Participant) -> _Participant:
    return participant


def _percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(share * (len(sorted_values) - 1)))
    return sorted_values[index]


async def _drive(
    url: str, pairs: list[tuple[int, str]], options: BenchOptions, server_pid: int
) -> BenchResult:
    loop = asyncio.get_running_loop()
    bench = _Bench(loop)
    participants = []
    for user_id, token in pairs:
        host, port = url.removeprefix("ws://").rstrip("/").split(":")
        participant = _Participant(bench, url, user_id, token)
        await loop.create_connection(functools.partial(_same, participant), host, int(port))
        participants.append(participant)
    await asyncio.wait_for(asyncio.gather(*(p.opened for p in participants)), 60)
    bench.running = True
    for participant in participants:
        participant.kick(options.window)
    await asyncio.sleep(options.warmup)
    bench.measuring = True
    frames0, started = bench.frames, time.perf_counter()
    server0, client0 = process_cpu_seconds(server_pid), own_cpu_seconds()
    await asyncio.sleep(options.duration)
    bench.measuring = False
    elapsed = time.perf_counter() - started
    server_cpu = (process_cpu_seconds(server_pid) - server0) / elapsed
    client_cpu = (own_cpu_seconds() - client0) / elapsed
    frames = bench.frames - frames0
    bench.running = False
    await asyncio.sleep(0.5)
    for participant in participants:
        if participant.transport is not None:
            participant.transport.close()
    if bench.failures:
        raise ChatloadError(f"{bench.failures} errors or disconnects during the benchmark")
    latencies = sorted(bench.latencies)
    return BenchResult(
        messages_per_s=bench.acks / elapsed,
        frames_per_s=frames / elapsed,
        ack_p50_ms=_percentile(latencies, 0.50) * 1000,
        ack_p99_ms=_percentile(latencies, 0.99) * 1000,
        server_cpu_share=server_cpu,
        client_cpu_share=client_cpu,
        messages=bench.acks,
        seconds=elapsed,
    )


def run_server_benchmark(options: BenchOptions) -> int:
    from chatload.server.app import event_loop_factory

    check_cores(options.server_cpu, options.client_cpu)
    with contextlib.ExitStack() as stack:
        workdir = options.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        workdir.mkdir(parents=True, exist_ok=True)
        db, users_csv = workdir / "bench.db", workdir / "bench-users.csv"
        provision_pairs(db, users_csv, options.pairs)
        users = [(identity.user_id, identity.token) for identity in read_users(users_csv)]
        with LaunchedServer(
            db,
            "--stats-interval",
            "0",
            "--log-level",
            "warning",
            "--synchronous",
            options.synchronous,
            cpu=options.server_cpu,
            log=None,
        ) as server:
            os.sched_setaffinity(0, {options.client_cpu})
            with asyncio.Runner(loop_factory=event_loop_factory("auto")) as runner:
                result = runner.run(_drive(server.url, users, options, server.pid))
    print(
        f"pairs={options.pairs} window={options.window} synchronous={options.synchronous}\n"
        f"durable messages/s (acked, full fan-out): {result.messages_per_s:,.0f}\n"
        f"frames/s received by the client:          {result.frames_per_s:,.0f}\n"
        f"ack latency p50 / p99:                    {result.ack_p50_ms:.2f} ms / "
        f"{result.ack_p99_ms:.2f} ms\n"
        f"CPU over the window: server {result.server_cpu_share:.0%} of a core, "
        f"client {result.client_cpu_share:.0%} of a core\n"
        f"{result.messages:,} messages in {result.seconds:.1f} s"
    )
    if result.messages_per_s < options.target:
        print(f"below the target of {options.target:,.0f} messages/s")
        return 1
    return 0
