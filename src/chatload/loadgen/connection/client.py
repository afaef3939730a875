"""The client wrapper: one identity's connection, reported to Locust.

:class:`ChatClient` opens the transport and reads ``initial_data`` in its user's
greenlet, then hands the socket to the process-wide reader
(:mod:`chatload.loadgen.connection.receiver`), which calls :meth:`ChatClient.on_readable`
when frames arrive; every frame goes to the connection's tracker, and every
sample the tracker gives back becomes one Locust request event (``request_type``
"chat", ``name`` the metric). ``load_history`` blocks its caller until the page
comes or the answer timeout passes; sends and reads return at once and are
timed as their answers arrive.

What a client needs of its process (options, codec, ledger, reader, deadlines,
Locust's events) is the :class:`ClientHost` protocol; the runtime provides it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

import gevent
from gevent.event import AsyncResult, Event

from chatload.errors import (
    AwaitTimeout,
    ConnectionProblem,
    Disconnected,
    NotConnected,
    ProtocolViolation,
)
from chatload.loadgen.connection.receiver import Receiver
from chatload.loadgen.connection.transport import WebSocketTransport
from chatload.protocol.codec import EnvelopeCodec
from chatload.protocol.models import ChatUpdates, InitialData, Message
from chatload.protocol.validation import parse_server_event
from chatload.tracking.deadlines import Deadlines
from chatload.tracking.invariants import Breach
from chatload.tracking.ledger import Ledger
from chatload.tracking.metrics import CONNECT, INITIAL_DATA, SEND_ACK, Sample
from chatload.tracking.tracker import ConnectionTracker, Timeouts
from chatload.tracking.view import ChatView
from chatload.users_file import Identity

__all__ = ["ChatClient", "ClientHost", "ClientOptions"]

log = logging.getLogger("chatload.loadgen")


class ClientOptions(Protocol):
    """The options a client reads (``loadgen.engine.options.ChatOptions`` has them)."""

    @property
    def answer_timeout(self) -> float: ...
    @property
    def max_in_flight(self) -> int: ...
    @property
    def markers(self) -> bool: ...
    @property
    def photo_fields(self) -> str: ...
    @property
    def timeouts(self) -> Timeouts: ...
    @property
    def initial_data_timeout(self) -> float: ...
    @property
    def quiesce_seconds(self) -> float: ...


class ClientHost(Protocol):
    """What one process shares with its clients (see ``loadgen.engine.runtime``)."""

    @property
    def options(self) -> ClientOptions: ...

    codec: EnvelopeCodec
    ledger: Ledger
    receiver: Receiver
    deadlines: Deadlines[ChatClient]
    clients: set[ChatClient]
    frames_received: int

    def new_transport(self) -> WebSocketTransport: ...

    def joined(self, client: ChatClient) -> None: ...

    def report(self, sample: Sample) -> None: ...

    def report_breach(self, breach: Breach) -> None: ...


class ChatClient:
    __slots__ = (
        "_acked",
        "_waiters",
        "_watcher",
        "host",
        "identity",
        "last_seen",
        "on_messages",
        "queued",
        "tracker",
        "transport",
    )

    def __init__(self, host: ClientHost, identity: Identity) -> None:
        self.host = host
        self.identity = identity
        self.transport: WebSocketTransport | None = None
        self.tracker: ConnectionTracker | None = None
        self.queued = False  # waiting in the reader's queue
        self._watcher: Any = None
        self._waiters: dict[int, AsyncResult] | None = None
        self._acked: Event | None = None
        # What the last connection saw: the next one's initial_data must keep it.
        self.last_seen: dict[str, tuple[int, int]] | None = None
        # Told of each chat_updates as it arrives (chat id, its messages): a
        # model-driven person reacts to a message the moment it comes.
        self.on_messages: Callable[[str, tuple[Message, ...]], None] | None = None

    @property
    def connected(self) -> bool:
        return self.tracker is not None and self.tracker.opened

    @property
    def chats(self) -> dict[str, ChatView]:
        return self.tracker.chats if self.tracker is not None else {}

    # Opening and closing

    def connect(self) -> None:
        """Connect and read ``initial_data``; failures are reported, then raised."""
        host = self.host
        transport = host.new_transport()
        started = time.perf_counter()
        try:
            transport.open(self.identity.token)
        except ConnectionProblem as exc:
            self._report_all([Sample(CONNECT, time.perf_counter() - started, error=exc)])
            raise
        opened = time.perf_counter()
        self._report_all([Sample(CONNECT, opened - started)])
        try:
            frames, _ = transport.receive(host.options.initial_data_timeout)
            initial = self._initial_data(frames[0])
        except (AwaitTimeout, Disconnected, ProtocolViolation) as exc:
            if isinstance(exc, AwaitTimeout):
                exc = AwaitTimeout("timeout: no initial_data")
            self._report_all([Sample(INITIAL_DATA, time.perf_counter() - opened, error=exc)])
            transport.close()
            raise exc from None
        parsed = time.perf_counter()
        self._report_all([Sample(INITIAL_DATA, parsed - opened, len(frames[0]))])
        tracker = ConnectionTracker(
            self.identity.user_id,
            host.ledger,
            timeouts=host.options.timeouts,
            markers=host.options.markers,
            on_deadline=self._due,
        )
        wall = time.time()
        tracker.open(initial, self.last_seen, now=parsed, wall=wall)
        self.transport, self.tracker = transport, tracker
        self._report_breaches(tracker)
        host.joined(self)
        for frame in frames[1:]:
            self._handle(frame, parsed, wall)
        if transport.ended is not None:
            self._dropped(transport.ended)
        else:
            self._watcher = host.receiver.watch(transport.fileno(), self)

    def _initial_data(self, frame: bytes) -> InitialData:
        event, data = self.host.codec.decode(frame)
        if event != "initial_data":
            raise ProtocolViolation(
                f"protocol_error: the first frame was {event}, not initial_data"
            )
        parsed = parse_server_event(event, data)
        assert isinstance(parsed, InitialData)
        return parsed

    def close(self) -> None:
        """Close on our side; pending answers are dropped, not failed."""
        transport, tracker = self.transport, self.tracker
        self._unwatch()
        if tracker is not None:
            self.last_seen = tracker.last_seen()
            self._report_all(tracker.close(time.perf_counter(), None))
            self._report_breaches(tracker)
        if transport is not None:
            transport.close()
        self.transport = self.tracker = None
        self._release_waiters()

    def _unwatch(self) -> None:
        self.host.clients.discard(self)
        if self._watcher is not None:
            Receiver.unwatch(self._watcher)
            self._watcher = None

    def _release_waiters(self) -> None:
        if self._waiters:
            for waiter in self._waiters.values():
                waiter.set(None)
        self._waiters = None
        if self._acked is not None:
            self._acked.set()

    # Receiving

    def on_readable(self) -> None:
        """The reader's call: take every frame that arrived."""
        transport = self.transport
        if transport is None:
            return  # closed while queued
        try:
            frames = transport.read_available()
        except Disconnected as exc:
            self._dropped(exc)
            return
        if frames:
            now, wall = time.perf_counter(), time.time()
            self.host.frames_received += len(frames)
            for frame in frames:
                self._handle(frame, now, wall)
        if transport.ended is not None and self.transport is transport:
            self._dropped(transport.ended)

    def _dropped(self, exc: Disconnected) -> None:
        """The connection ended without us closing it (or while we did)."""
        transport, tracker = self.transport, self.tracker
        self._unwatch()
        if transport is None or tracker is None:
            return
        error = None if transport.closing else exc
        self.last_seen = tracker.last_seen()
        self._report_all(tracker.close(time.perf_counter(), error))
        self._report_breaches(tracker)
        transport.close()
        self.transport = self.tracker = None
        self._release_waiters()
        if error is not None:
            log.debug("disconnected: %s", exc, extra={"user_id": self.identity.user_id})

    def _handle(self, frame: bytes, now: float, wall: float) -> None:
        tracker = self.tracker
        if tracker is None:
            return
        try:
            event, data = self.host.codec.decode(frame)
            parsed = parse_server_event(event, data)
        except ProtocolViolation as exc:
            self._report_all([tracker.protocol_error(exc, len(frame))])
            return
        self._report_all(tracker.frame(parsed, len(frame), now, wall))
        if tracker.breaches:
            self._report_breaches(tracker)
        if self.on_messages is not None and isinstance(parsed, ChatUpdates):
            self.on_messages(parsed.chatId, parsed.messages)

    def _report_all(self, samples: list[Sample]) -> None:
        report, user_id = self.host.report, self.identity.user_id
        waiters = self._waiters
        for sample in samples:
            sample.user_id = user_id
            report(sample)
            if sample.request_id and waiters:
                waiter = waiters.pop(sample.request_id, None)
                if waiter is not None:
                    waiter.set(sample)
            if sample.metric == SEND_ACK and self._acked is not None:
                self._acked.set()

    def _report_breaches(self, tracker: ConnectionTracker) -> None:
        report, wall = self.host.report_breach, time.time()
        for breach in tracker.take_breaches():
            report(breach if breach.wall else replace(breach, wall=wall))

    # Time passing

    def _due(self, deadline: float) -> None:
        self.host.deadlines.schedule(deadline, self)

    def expire(self, now: float) -> None:
        tracker = self.tracker
        if tracker is not None:
            self._report_all(tracker.expire(now))
            if tracker.breaches:
                self._report_breaches(tracker)

    # Requests

    def _live_tracker(self) -> ConnectionTracker:
        tracker = self.tracker
        if tracker is None or not tracker.opened or self.transport is None:
            raise NotConnected(self.identity.user_id)
        return tracker

    def _send(self, payload: bytes) -> None:
        transport = self.transport
        assert transport is not None
        try:
            transport.send(payload)
        except Disconnected as exc:
            # Reported once, as the reader would: every pending request fails with it.
            self._dropped(exc)

    def send_message(self, chat_id: str, text: str, photos: list[str]) -> None:
        """Write a message; returns at once unless too many are unacknowledged."""
        host, tracker = self.host, self._live_tracker()
        options = host.options
        if tracker.unacked_count >= options.max_in_flight:
            self._wait_for_acks(tracker, options.max_in_flight, options.answer_timeout)
            if not tracker.opened:
                return
        wall = time.time()
        marker = host.ledger.markers.make(wall) if options.markers else None
        message: dict[str, Any] = {"text": text + marker.render() if marker else text}
        fields = options.photo_fields
        if photos or fields != "both":
            if fields in ("both", "photos"):
                message["photos"] = photos
            if fields in ("both", "attachedPhotos"):
                message["attachedPhotos"] = photos
        payload = host.codec.encode("send_message", {"chatId": chat_id, "message": message})
        tracker.message_sent(chat_id, marker, time.perf_counter(), wall)
        self._send(payload)

    def finish_sends(self) -> None:
        """Wait until every message sent is acknowledged, as long as the run's end
        waits for answers (--quiesce-seconds): someone who leaves does not cut their
        own message short (it would be stored, its answer never seen)."""
        tracker = self.tracker
        if tracker is None:
            return
        options = self.host.options
        self._wait_while(
            lambda: tracker.opened and tracker.sends_in_doubt > 0,
            max(options.answer_timeout, options.quiesce_seconds),
        )

    def _wait_for_acks(self, tracker: ConnectionTracker, limit: int, timeout: float) -> None:
        self._wait_while(lambda: tracker.unacked_count >= limit and tracker.opened, timeout)

    def _wait_while(self, waiting: Callable[[], bool], timeout: float) -> None:
        """Wake at each acknowledgement while ``waiting()``, for at most ``timeout``."""
        acked = self._acked
        if acked is None:
            acked = self._acked = Event()
        deadline = time.perf_counter() + timeout
        while waiting():
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            acked.clear()
            acked.wait(left)

    def read_messages(self, chat_id: str, up_to: int) -> None:
        tracker = self._live_tracker()
        payload = self.host.codec.encode(
            "read_messages", {"chatId": chat_id, "lastReadedMessageId": up_to}
        )
        tracker.read_sent(chat_id, up_to, time.perf_counter(), time.time())
        self._send(payload)

    def probe(self, kind: str, chat_id: str) -> None:
        """Ask, on a chat this user is not in, what only its participants may do."""
        tracker = self._live_tracker()
        data: dict[str, Any] = {"chatId": chat_id}
        if kind == "send_message":
            data["message"] = {"text": "a message that must be refused"}
        elif kind == "read_messages":
            data["lastReadedMessageId"] = 1
        else:
            data["lastMessageId"] = 1_000_000_000
        payload = self.host.codec.encode(kind, data)
        tracker.probe_sent(kind, chat_id, time.perf_counter())
        self._send(payload)

    def load_history(self, chat_id: str, before: int) -> tuple[Message, ...] | None:
        """The page below ``before``, or None when it failed (the failure is reported)."""
        tracker = self._live_tracker()
        payload = self.host.codec.encode(
            "load_history", {"chatId": chat_id, "lastMessageId": before}
        )
        request_id = tracker.history_sent(chat_id, before, time.perf_counter())
        waiter: AsyncResult = AsyncResult()
        if self._waiters is None:
            self._waiters = {}
        self._waiters[request_id] = waiter
        self._send(payload)
        # The deadline heap fails the request at the answer timeout; the extra
        # second only guards against a process whose ticks stopped.
        try:
            sample = waiter.get(timeout=self.host.options.answer_timeout + 1.0)
        except gevent.Timeout:
            if self._waiters is not None:
                self._waiters.pop(request_id, None)
            return None
        if isinstance(sample, Sample) and sample.error is None:
            messages: tuple[Message, ...] = sample.payload  # type: ignore[assignment]
            return messages
        return None
