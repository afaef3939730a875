"""What one Locust process shares between its chat users.

One :class:`ChatRuntime` per process and test run: the options as the run
started with them, the ledger that times messages between this process's
connections, the writer of message texts, the identity lender, the one reader
of every connection (:mod:`chatload.loadgen.connection.receiver`), the heap of deadlines,
and two greenlets: the ticker, which turns overdue answers into timeout failures
(visiting only the connections that have something due), and, on workers, the
pump that sends read notices to the master for other workers.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from typing import TYPE_CHECKING, Final, Protocol

import gevent
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, Runner, WorkerRunner

from chatload.errors import ChatloadError, ConfigError
from chatload.limits import release_free_memory
from chatload.loadgen.connection.client import ChatClient
from chatload.loadgen.connection.dialer import Dialer
from chatload.loadgen.connection.receiver import Receiver, cooperatively
from chatload.loadgen.connection.transport import WebSocketTransport, dialer_for, tls_context
from chatload.loadgen.engine.content import Writer
from chatload.loadgen.engine.gc_policy import GcPolicy
from chatload.loadgen.engine.options import ChatOptions
from chatload.loadgen.engine.traffic import TrafficEngine
from chatload.loadgen.exits import fail_run
from chatload.loadgen.messages import FATAL, READS, send
from chatload.records.health import Phase
from chatload.tracking.clocks import Offset
from chatload.tracking.deadlines import Deadlines
from chatload.tracking.invariants import INVARIANT, Breach, ChatSummary
from chatload.tracking.ledger import Ledger, ReadNotice
from chatload.tracking.metrics import REQUEST_TYPE, Sample
from chatload.tracking.settling import Outcome, Settling, quiet_window
from chatload.users_file import Identity, Role

if TYPE_CHECKING:
    import ssl

__all__ = ["ChatRuntime", "Lender", "Recorder", "fire_breach", "running"]

log = logging.getLogger("chatload.loadgen")

_TICK_SECONDS: Final = 0.1  # timeouts are seconds long: a tenth of a second of precision
_PUMP_SECONDS: Final = 0.1
_SPAWN_QUIET_SECONDS: Final = 1.0  # no new connection for this long: the spawn is over
_QUIESCE_POLL_SECONDS: Final = 0.2


class Lender(Protocol):
    def acquire(self, role: Role, timeout: float) -> Identity: ...

    def acquire_this(self, user_id: int, role: Role, timeout: float) -> Identity | None: ...

    def release(self, identity: Identity) -> None: ...

    def holds(self, user_id: int) -> bool:
        """Whether that person is lent to this process now."""
        ...


class Recorder(Protocol):
    """Where a generator process's samples and breaches are kept
    (``loadgen.watching.observability.Observer``)."""

    def record(self, sample: Sample) -> None: ...

    def breach(self, breach: Breach) -> None: ...


def fire_breach(environment: Environment, breach: Breach) -> None:
    """A broken guarantee as a Locust failure under ``invariant``."""
    environment.events.request.fire(
        request_type=INVARIANT,
        name=breach.kind,
        response_time=breach.seconds * 1000.0,
        response_length=0,
        exception=breach.error(),
        context={},
    )


def running(environment: Environment) -> Runner:
    """The run's runner: Locust makes it before any event chatload listens to."""
    runner = environment.runner
    assert runner is not None, "no runner yet: chatload acts from Locust's init event on"
    return runner


class ChatRuntime:
    def __init__(self, environment: Environment, options: ChatOptions, lender: Lender) -> None:
        self.environment = environment
        self.options = options
        self.lender = lender
        self.codec = options.codec()
        self.is_worker = isinstance(environment.runner, WorkerRunner)
        self.ledger = Ledger(share_reads=self.is_worker)
        self.writer = Writer(options)
        self.transport_settings = options.transport_settings
        self.clients: set[ChatClient] = set()
        self.receiver = Receiver()
        self.deadlines: Deadlines[ChatClient] = Deadlines()
        self._dialer: Dialer | None = None
        self._tls: ssl.SSLContext | None = None
        # One generator for every user of the process: a Random holds 2.5 kB of
        # state, too much to give each of thousands of users its own.
        self.rng = random.Random()
        self.frames_received = 0
        self.slowest_answer = 0.0  # seconds: how long settling waits for silence
        self._joined = 0
        self._absorbing_spawn = False  # after a spawn, until its connections stop coming
        self.gc_policy = GcPolicy()
        self.failed = False
        self.quiet = False  # the quiescence phase: users do nothing
        self._stopped = False
        self.observer: Recorder | None = None
        self.traffic: TrafficEngine | None = None  # a model run's (--traffic-model)
        self._fire = environment.events.request.fire
        self._greenlets: list[gevent.Greenlet] = []

    @property
    def host(self) -> str:
        host: str | None = self.environment.host
        if not host:
            raise ConfigError(
                "no --host: give the server's ws:// URL, or none for the embedded one"
            )
        return host

    def new_transport(self) -> WebSocketTransport:
        """A transport to the run's server, sharing the dialer and the TLS context."""
        host, settings = self.host, self.transport_settings
        if self._dialer is None:
            self._dialer = dialer_for(host, settings)
            if host.startswith("wss:"):
                self._tls = tls_context(settings)
        return WebSocketTransport(host, settings, self._dialer, self._tls)

    def report(self, sample: Sample) -> None:
        """One Locust request event; ``response_time`` in milliseconds, never a placeholder.
        A late answer (its request already failed) is counted as late, not fired."""
        if sample.error is None and sample.seconds > self.slowest_answer:
            self.slowest_answer = sample.seconds
        if sample.late:
            if self.observer is not None:
                self.observer.record(sample)
            return
        self._fire(
            request_type=REQUEST_TYPE,
            name=sample.metric,
            response_time=sample.seconds * 1000.0,
            response_length=sample.length,
            exception=sample.error,
            context={},
        )
        if self.observer is not None:
            self.observer.record(sample)

    def report_breach(self, breach: Breach) -> None:
        """A broken guarantee: a Locust failure under ``invariant`` and an export row."""
        fire_breach(self.environment, breach)
        if self.observer is not None:
            self.observer.breach(breach)

    def quiesce(self, bound: float) -> Outcome:
        """Stop acting, then wait while answers are still arriving, at most ``bound``
        seconds (:mod:`chatload.tracking.settling` says until when). A run torn down
        meanwhile (SIGTERM stops this process's greenlets first) cannot settle."""
        self.quiet = True
        if self.traffic is not None:
            self.traffic.wind_down()
        started = time.monotonic()
        settling = Settling(started, bound, quiet_window(self.slowest_answer, bound))
        outcome: Outcome | None = None
        while outcome is None:
            gevent.sleep(_QUIESCE_POLL_SECONDS)
            if self._stopped:
                outcome = "bound"
                break
            self._expire_due(time.perf_counter())  # the ticker may be gone already
            owed = sum(
                sum(client.tracker.owed().values())
                for client in cooperatively(list(self.clients))
                if client.tracker is not None
            )
            outcome = settling.step(
                time.monotonic(), self.frames_received, owed, self.ledger.pending
            )
        now = time.perf_counter()
        for client in cooperatively(list(self.clients)):
            client.expire(now)
        log.debug(
            "settled",
            extra={"outcome": outcome, "seconds": round(time.monotonic() - started, 2)},
        )
        return outcome

    def conclude(self) -> tuple[list[ChatSummary], int]:
        """The end of a run in this process: quiescence (``quiesce``), then each
        connection's verdicts, its breaches reported; the chat summaries for the
        comparison of both sides, and how many chats stayed unsettled."""
        outcome = self.quiesce(self.options.quiesce_seconds)
        wall = time.time()
        summaries: list[ChatSummary] = []
        unsettled: set[str] = set()
        for client in list(self.clients):
            if client.tracker is not None:
                conclusion = client.tracker.conclude(wall, nothing_more_coming=outcome != "bound")
                for breach in conclusion.breaches:
                    self.report_breach(breach)
                summaries.extend(conclusion.summaries)
                unsettled.update(conclusion.unsettled)
        return summaries, len(unsettled)

    def joined(self, client: ChatClient) -> None:
        """A client connected (``spawned`` waits until they stop coming)."""
        self.clients.add(client)
        self._joined += 1

    def own_clock(self) -> Offset:
        """This process's wall clock against the master's (zero on the master or alone)."""
        return self.ledger.offsets.own

    def phase(self) -> Phase:
        """What the process is doing: spawning (until the connections of a spawn
        stopped coming), stopping (quiescence and after), or running (the load)."""
        state = running(self.environment).state
        if self.quiet or state in ("stopping", "stopped", "cleanup"):
            return "stopping"
        if state == "spawning" or self._absorbing_spawn:
            return "spawning"
        return "running"

    def spawned(self) -> None:
        """After a spawn: once the last users are in (no new connection for a while),
        freeze what they keep out of the garbage collector's sight and give the
        storm's transient memory back to the system."""
        self._absorbing_spawn = True

        def absorb() -> None:
            deadline = time.monotonic() + self.options.connect_timeout + _SPAWN_QUIET_SECONDS
            joined = -1
            while joined != self._joined and time.monotonic() < deadline:
                joined = self._joined
                gevent.sleep(_SPAWN_QUIET_SECONDS)
            self.gc_policy.freeze_all()
            release_free_memory()
            self._absorbing_spawn = False

        self._greenlets.append(gevent.spawn(absorb))

    def start(self) -> None:
        self._stopped = False
        self.gc_policy.start()
        if self.environment.host:
            # Resolving the server's address starts gevent's resolver threads: done
            # now, not in the first user's connect.
            with contextlib.suppress(ChatloadError):
                self.new_transport()
                if self._dialer is not None:
                    self._dialer.address()
        self.receiver.start()
        self._greenlets.append(gevent.spawn(self._tick))
        if self.is_worker:
            self._greenlets.append(gevent.spawn(self._pump_reads))

    def stop(self) -> None:
        self._stopped = True
        gevent.killall(self._greenlets, block=True, timeout=2)
        self._greenlets.clear()
        self.receiver.stop()
        self.gc_policy.stop()

    def fatal(self, message: str) -> None:
        """A problem no user can get past (a refused token, no identities): end the run."""
        if self.failed:
            return
        self.failed = True
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner):
            send(runner, FATAL, message)
        elif isinstance(runner, LocalRunner | MasterRunner):
            fail_run(self.environment, message)

    def receive_reads(self, items: list[list[object]]) -> None:
        now = time.perf_counter()
        for item in items:
            try:
                notice = ReadNotice.from_wire(item)
            except ValueError:
                log.warning("ignored a malformed read notice: %r", item)
                continue
            self.ledger.receive_remote_read(notice, now)

    def _tick(self) -> None:
        """Timeouts: each tick visits the connections with something due, no others."""
        while True:
            gevent.sleep(_TICK_SECONDS)
            self._expire_due(time.perf_counter())

    def _expire_due(self, now: float) -> None:
        for client in cooperatively(self.deadlines.pop_due(now)):
            client.expire(now)

    def _pump_reads(self) -> None:
        runner = running(self.environment)
        while True:
            gevent.sleep(_PUMP_SECONDS)
            notices = self.ledger.drain_outbox()
            if notices:
                send(runner, READS, [notice.to_wire() for notice in notices])
