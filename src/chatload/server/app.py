"""The reference chat server: start-up, the listening socket, shutdown.

:class:`ChatServer` wires the store, the world, the service and the commit
pipeline to an asyncio listening socket. ``run_server`` is the blocking entry
point of ``chatload serve``: it picks the event loop (uvloop when installed),
serves until SIGINT or SIGTERM, then shuts down gracefully: stop accepting,
finish and fan out every write already accepted, close every connection with
1001, close the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import json
import logging
import math
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from chatload.errors import ConfigError
from chatload.limits import RESERVED_FILES, open_file_limits, raise_open_file_limit
from chatload.server.config import ServerConfig
from chatload.server.connection import ChatConnection
from chatload.server.faults import DelayLine, Faults
from chatload.server.metrics import ServerMetrics
from chatload.server.overload import CapacityCap, Leak
from chatload.server.pipeline import CommitPipeline
from chatload.server.service import ChatService, PendingMessage, PendingWrite
from chatload.server.store import Store

__all__ = ["ChatServer", "ServerConfig", "event_loop_factory", "run_server"]

log = logging.getLogger("chatload.server")


def _warn_of_test_modes(config: ServerConfig, faulty: bool) -> None:
    """One warning each when test faults or test overload are on."""
    if faulty:
        log.warning(
            "test faults are on: this server breaks its guarantees on purpose",
            extra={"faults": dict(config.test_faults), "delay_ms": config.test_delay_ms},
        )
    overloads = {
        "capacity_per_s": config.test_capacity,
        "fanout_lag_ms": config.test_fanout_lag_ms,
        "creep_ms_per_min": config.test_creep_ms_per_min,
        "leak_kib_per_s": config.test_leak_kib_per_s,
    }
    if any(overloads.values()):
        log.warning(
            "test overload is on: this server is slow on purpose (it loses nothing)",
            extra=overloads,
        )


class ChatServer:
    """One running reference server; ``start`` then ``stop`` on one event loop."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.connections: set[ChatConnection] = set()
        self.exit_code = 0
        self._stop_requested = asyncio.Event()
        self._to_flush: list[ChatConnection] = []
        self._said_out_of_files = -math.inf
        self.max_connections = 1 << 30
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.store = Store(config.db, synchronous=config.synchronous)
        world = self.store.load_world(page_size=config.page_size, cached_chats=config.cached_chats)
        faults = (
            Faults(dict(config.test_faults), config.test_fault_seed) if config.test_faults else None
        )
        self.fanout_lag = (
            DelayLine(config.test_fanout_lag_ms / 1000, self.loop)
            if config.test_fanout_lag_ms > 0
            else None
        )
        self.service = ChatService(
            world,
            self.store,
            config.codec(),
            submit=self._submit,
            faults=faults,
            lag=self.fanout_lag.put if self.fanout_lag is not None else None,
        )
        self._late_log: IO[str] | None = None
        self.delay_line = self._delay_line(config)
        self.leak = Leak(config.test_leak_kib_per_s * 1024) if config.test_leak_kib_per_s else None
        _warn_of_test_modes(config, faults is not None or self.delay_line is not None)
        self.pipeline: CommitPipeline[PendingWrite] = CommitPipeline(
            self.loop,
            commit=self.service.commit,
            apply=self.service.apply,
            fail=self.service.fail,
            on_fatal=self._fatal,
        )
        self.capacity: CapacityCap[PendingWrite] | None = (
            CapacityCap(
                config.test_capacity,
                self.loop,
                self.pipeline.submit,
                costs=lambda write: isinstance(write, PendingMessage),
            )
            if config.test_capacity > 0
            else None
        )
        self.metrics = ServerMetrics(lambda: len(self.connections), self.pipeline)
        self.port = config.port

    @property
    def url(self) -> str:
        scheme = "wss" if self.config.tls_cert is not None else "ws"
        return f"{scheme}://{self.config.host}:{self.port}/"

    async def start(self) -> None:
        self.max_connections = max(1, raise_open_file_limit() - RESERVED_FILES)
        self.loop.set_exception_handler(self._loop_error)
        try:
            self._server = await self.loop.create_server(
                lambda: ChatConnection(self),
                self.config.host,
                self.config.port,
                reuse_address=True,
                backlog=4096,
                ssl=self.config.tls_context(),
            )
        except OSError as exc:
            self.pipeline.close()
            self.store.close()
            raise ConfigError(
                f"cannot listen on {self.config.host}:{self.config.port} ({exc.strerror}): "
                "choose another --port or stop what holds it"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]
        world = self.service.world
        log.info(
            "listening",
            extra={
                "url": self.url,
                "users": len(world.users),
                "events": len(world.events),
                "chats": len(world.chats),
                "db": str(self.config.db),
                "max_connections": self.max_connections,
            },
        )
        if self.config.stats_interval > 0:
            self._tasks.append(asyncio.create_task(self._report_stats()))
        if self.config.freeze_gc:
            self._tasks.append(asyncio.create_task(self._keep_frozen()))
        if self.leak is not None:
            self._tasks.append(asyncio.create_task(self.leak.run()))
        if self.config.ready_file is not None:
            self._write_ready_file(self.config.ready_file)

    def _write_ready_file(self, path: Path) -> None:
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(
            json.dumps(
                {"url": self.url, "host": self.config.host, "port": self.port, "pid": os.getpid()}
            )
        )
        temporary.replace(path)

    def request_stop(self) -> None:
        self._stop_requested.set()

    async def wait_stopped(self) -> None:
        await self._stop_requested.wait()

    async def stop(self) -> None:
        """Stop accepting, finish the accepted writes, close every connection."""
        if self._server is not None:
            self._server.close()
        if self.capacity is not None:
            self.capacity.flush()
        try:
            await asyncio.wait_for(self.pipeline.drain(), self.config.drain_timeout)
        except TimeoutError:
            log.error("writes still pending at shutdown were not confirmed to their senders")
        for connection in list(self.connections):
            connection.close()
        deadline = self.loop.time() + self.config.close_timeout
        while self.connections and self.loop.time() < deadline:
            await asyncio.sleep(0.02)
        for connection in list(self.connections):
            connection.abort()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.pipeline.close()
        self.store.close()
        for line in (self.delay_line, self.fanout_lag):
            if line is not None:
                line.close()
        if self._late_log is not None:
            self._late_log.close()
        log.info("stopped", extra={"messages_accepted": self.service.messages_accepted})

    def _delay_line(self, config: ServerConfig) -> DelayLine | None:
        """The test modes' delay line (--test-delay-ms, --test-creep-ms-per-min), and
        its log of frames let go late (--test-delay-late-log)."""
        if config.test_delay_ms <= 0 and config.test_creep_ms_per_min <= 0:
            return None
        if config.test_delay_late_log:
            self._late_log = open(config.test_delay_late_log, "w", encoding="utf-8")  # noqa: SIM115
        return DelayLine(
            config.test_delay_ms / 1000,
            self.loop,
            creep=config.test_creep_ms_per_min / 1000 / 60,
            on_late=self._log_late if self._late_log is not None else None,
        )

    def _log_late(self, wall: float, late: float) -> None:
        """A frame the delay line let go late (``--test-delay-late-log``): one line,
        written at once (a stall is rare, and read while the server runs)."""
        assert self._late_log is not None
        self._late_log.write(f"{wall:.6f},{late * 1000:.3f}\n")
        self._late_log.flush()

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Out of file descriptors is said in one line, once a minute, with the fix;
        anything else goes to asyncio's own handler."""
        error = context.get("exception")
        if isinstance(error, OSError) and error.errno in (errno.EMFILE, errno.ENFILE):
            self._out_of_files()
            return
        loop.default_exception_handler(context)

    def _out_of_files(self) -> None:
        now = self.loop.time()
        if now - self._said_out_of_files >= 60:
            self._said_out_of_files = now
            log.error(
                "out of file descriptors: new connections are refused or wait; raise the "
                "open-file limit (ulimit -n) or spread the clients over more servers",
                extra={
                    "connections": len(self.connections),
                    "open_file_limit": open_file_limits()[0],
                },
            )

    def _submit(self, write: PendingWrite) -> None:
        if self.capacity is not None:
            self.capacity.put(write)
        else:
            self.pipeline.submit(write)

    def _fatal(self, error: BaseException) -> None:
        self.exit_code = 1
        self.request_stop()

    # Connection bookkeeping

    def track(self, connection: ChatConnection) -> None:
        self.connections.add(connection)
        if len(self.connections) >= self.max_connections:
            # uvloop closes what it cannot accept without telling anyone: say it here.
            self._out_of_files()

    def untrack(self, connection: ChatConnection) -> None:
        self.connections.discard(connection)

    def queue_flush(self, connection: ChatConnection) -> None:
        if not self._to_flush:
            self.loop.call_soon(self._flush_all)
        self._to_flush.append(connection)

    def _flush_all(self) -> None:
        connections, self._to_flush = self._to_flush, []
        for connection in connections:
            connection.flush()

    async def _keep_frozen(self) -> None:
        """The world and every connection's state live long: a full collection would
        walk them all (0.7 s at 19,000 connections, measured). So they are frozen,
        the automatic full collections are off, and what came in the last half
        second is frozen in turn, after a young collection."""
        gc.collect()
        gc.freeze()
        first, young, _ = gc.get_threshold()
        gc.set_threshold(first, young, 1 << 30)
        while True:
            await asyncio.sleep(0.5)
            gc.collect(0)
            gc.freeze()

    async def _report_stats(self) -> None:
        pipeline = self.pipeline
        last_writes = 0
        while True:
            await asyncio.sleep(self.config.stats_interval)
            writes = pipeline.writes
            if writes == last_writes:
                continue
            log.info(
                "stats",
                extra={
                    "connections": len(self.connections),
                    "writes_per_s": round((writes - last_writes) / self.config.stats_interval),
                    "batches": pipeline.batches,
                    "mean_batch": round(writes / max(pipeline.batches, 1), 1),
                },
            )
            last_writes = writes


def event_loop_factory(kind: str = "auto") -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when asked for or, with ``auto``, when it is installed."""
    if kind == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if kind == "uvloop":
            raise ConfigError("--loop uvloop needs uvloop: pip install uvloop") from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def _serve(config: ServerConfig) -> int:
    server = ChatServer(config)
    await server.start()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.request_stop)
    try:
        await server.wait_stopped()
        log.info("shutting down")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await server.stop()
    return server.exit_code


def run_server(config: ServerConfig, *, loop: str = "auto") -> int:
    """Serve until SIGINT or SIGTERM; the exit code is 0 unless storage failed."""
    with asyncio.Runner(loop_factory=event_loop_factory(loop)) as runner:
        return runner.run(_serve(config))
