"""The client wrapper: one identity's connection, reported to Locust.

:class:`ChatClient` opens the transport, reads ``initial_data``, then runs one
receive greenlet that feeds every frame to the connection's tracker; every sample
the tracker gives back becomes one Locust request event (``request_type`` "chat",
``name`` the metric). ``load_history`` blocks its caller until the page comes or
the answer timeout passes; sends and reads return at once and are timed as their
answers arrive.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import AsyncResult, Event

from chatload.errors import AwaitTimeout, ConnectionProblem, Disconnected, ProtocolViolation
from chatload.loadgen.transport import WebSocketTransport
from chatload.protocol.models import InitialData, Message
from chatload.protocol.validation import parse_server_event
from chatload.tracking.metrics import CONNECT, INITIAL_DATA, SEND_ACK, Sample
from chatload.tracking.tracker import ChatView, ConnectionTracker
from chatload.users_file import Identity

if TYPE_CHECKING:
    from chatload.loadgen.runtime import ChatRuntime

__all__ = ["ChatClient"]

log = logging.getLogger("chatload.loadgen")


class ChatClient:
    def __init__(self, runtime: ChatRuntime, identity: Identity) -> None:
        self.runtime = runtime
        self.identity = identity
        self.transport: WebSocketTransport | None = None
        self.tracker: ConnectionTracker | None = None
        self._receiver: gevent.Greenlet | None = None
        self._waiters: dict[int, AsyncResult] = {}
        self._acked = Event()
        # What the last connection saw: the next one's initial_data must keep it.
        self.last_seen: dict[str, tuple[int, int]] = {}

    @property
    def connected(self) -> bool:
        return self.tracker is not None and self.tracker.opened

    @property
    def chats(self) -> dict[str, ChatView]:
        return self.tracker.chats if self.tracker is not None else {}

    # Opening and closing

    def connect(self) -> None:
        """Connect and read ``initial_data``; failures are reported, then raised."""
        runtime = self.runtime
        transport = WebSocketTransport(runtime.host, runtime.transport_settings)
        started = time.perf_counter()
        try:
            transport.open(self.identity.token)
        except ConnectionProblem as exc:
            self._report_all([Sample(CONNECT, time.perf_counter() - started, error=exc)])
            raise
        opened = time.perf_counter()
        self._report_all([Sample(CONNECT, opened - started)])
        timeout = runtime.options.answer_timeout
        try:
            with gevent.Timeout(timeout, AwaitTimeout("timeout: no initial_data")):
                frames, _ = transport.receive()
            initial = self._initial_data(frames[0])
        except (AwaitTimeout, Disconnected, ProtocolViolation) as exc:
            self._report_all([Sample(INITIAL_DATA, time.perf_counter() - opened, error=exc)])
            transport.close()
            raise
        parsed = time.perf_counter()
        self._report_all([Sample(INITIAL_DATA, parsed - opened, len(frames[0]))])
        tracker = ConnectionTracker(
            self.identity.user_id,
            runtime.ledger,
            timeouts=runtime.options.timeouts,
            markers=runtime.options.markers,
        )
        wall = time.time()
        tracker.open(initial, self.last_seen, now=parsed, wall=wall)
        self.transport, self.tracker = transport, tracker
        self._report_breaches(tracker)
        runtime.clients.add(self)
        for frame in frames[1:]:
            self._handle(frame, parsed, wall)
        self._receiver = gevent.spawn(self._receive_loop, transport, tracker)

    def _initial_data(self, frame: bytes) -> InitialData:
        event, data = self.runtime.codec.decode(frame)
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
        self.runtime.clients.discard(self)
        if tracker is not None:
            self.last_seen = tracker.last_seen()
            self._report_all(tracker.close(time.perf_counter(), None))
            self._report_breaches(tracker)
        if transport is not None:
            transport.close()
        if self._receiver is not None:
            self._receiver.kill(block=True, timeout=2)
        self.transport = self.tracker = self._receiver = None
        for waiter in self._waiters.values():
            waiter.set(None)
        self._waiters.clear()

    # Receiving

    def _receive_loop(self, transport: WebSocketTransport, tracker: ConnectionTracker) -> None:
        handle, runtime = self._handle, self.runtime
        try:
            while True:
                frames, _ = transport.receive()
                now, wall = time.perf_counter(), time.time()
                runtime.frames_received += len(frames)
                for frame in frames:
                    handle(frame, now, wall)
                del frames  # an idle connection should not keep its last frames alive
        except Disconnected as exc:
            error = None if transport.closing else exc
            self.last_seen = tracker.last_seen()
            self._report_all(tracker.close(time.perf_counter(), error))
            self._report_breaches(tracker)
            self.runtime.clients.discard(self)
            if error is not None:
                log.debug("disconnected: %s", exc, extra={"user_id": self.identity.user_id})

    def _handle(self, frame: bytes, now: float, wall: float) -> None:
        tracker = self.tracker
        if tracker is None:
            return
        try:
            event, data = self.runtime.codec.decode(frame)
            parsed = parse_server_event(event, data)
        except ProtocolViolation as exc:
            self._report_all([tracker.protocol_error(exc, len(frame))])
            return
        self._report_all(tracker.frame(parsed, len(frame), now, wall))
        if tracker.breaches:
            self._report_breaches(tracker)

    def _report_all(self, samples: list[Sample]) -> None:
        report, user_id = self.runtime.report, self.identity.user_id
        for sample in samples:
            sample.user_id = user_id
            report(sample)
            if sample.token:
                waiter = self._waiters.pop(sample.token, None)
                if waiter is not None:
                    waiter.set(sample)
            if sample.metric == SEND_ACK:
                self._acked.set()

    def _report_breaches(self, tracker: ConnectionTracker) -> None:
        report, wall = self.runtime.report_breach, time.time()
        for breach in tracker.take_breaches():
            report(breach if breach.wall else replace(breach, wall=wall))

    def expire(self, now: float) -> None:
        tracker = self.tracker
        if tracker is not None:
            self._report_all(tracker.expire(now))
            if tracker.breaches:
                self._report_breaches(tracker)

    # Requests

    def _send(self, payload: bytes) -> None:
        assert self.transport is not None
        # On a disconnect the receive greenlet reports it and fails what was pending.
        with contextlib.suppress(Disconnected):
            self.transport.send(payload)

    def send_message(self, chat_id: str, text: str, photos: list[str]) -> None:
        """Write a message; returns at once unless too many are unacknowledged."""
        runtime, tracker = self.runtime, self.tracker
        assert tracker is not None
        limit = runtime.options.max_in_flight
        deadline = time.perf_counter() + runtime.options.answer_timeout
        while tracker.unacked_count >= limit and time.perf_counter() < deadline:
            self._acked.clear()
            self._acked.wait(max(0.0, deadline - time.perf_counter()))
            if not tracker.opened:
                return
        wall = time.time()
        marker = runtime.ledger.markers.make(wall) if runtime.options.markers else None
        message: dict[str, Any] = {"text": text + marker.render() if marker else text}
        fields = runtime.options.photo_fields
        if photos or fields != "both":
            if fields in ("both", "photos"):
                message["photos"] = photos
            if fields in ("both", "attachedPhotos"):
                message["attachedPhotos"] = photos
        payload = runtime.codec.encode("send_message", {"chatId": chat_id, "message": message})
        tracker.message_sent(chat_id, marker, time.perf_counter(), wall)
        self._send(payload)

    def read_messages(self, chat_id: str, up_to: int) -> None:
        tracker = self.tracker
        assert tracker is not None
        payload = self.runtime.codec.encode(
            "read_messages", {"chatId": chat_id, "lastReadedMessageId": up_to}
        )
        tracker.read_sent(chat_id, up_to, time.perf_counter(), time.time())
        self._send(payload)

    def probe(self, kind: str, chat_id: str) -> None:
        """Ask, on a chat this user is not in, what only its participants may do."""
        tracker = self.tracker
        assert tracker is not None
        data: dict[str, Any] = {"chatId": chat_id}
        if kind == "send_message":
            data["message"] = {"text": "a message that must be refused"}
        elif kind == "read_messages":
            data["lastReadedMessageId"] = 1
        else:
            data["lastMessageId"] = 1_000_000_000
        payload = self.runtime.codec.encode(kind, data)
        tracker.probe_sent(kind, chat_id, time.perf_counter())
        self._send(payload)

    def load_history(self, chat_id: str, before: int) -> tuple[Message, ...] | None:
        """The page below ``before``, or None when it failed (the failure is reported)."""
        tracker = self.tracker
        assert tracker is not None
        payload = self.runtime.codec.encode(
            "load_history", {"chatId": chat_id, "lastMessageId": before}
        )
        token = tracker.history_sent(chat_id, before, time.perf_counter())
        waiter: AsyncResult = AsyncResult()
        self._waiters[token] = waiter
        self._send(payload)
        # The sweeper fails the request at the answer timeout; the extra second
        # only guards against a sweeper that stopped.
        try:
            sample = waiter.get(timeout=self.runtime.options.answer_timeout + 1.0)
        except gevent.Timeout:
            self._waiters.pop(token, None)
            return None
        if isinstance(sample, Sample) and sample.error is None:
            messages: tuple[Message, ...] = sample.payload  # type: ignore[assignment]
            return messages
        return None
