"""Matching received frames (and what other connections report) into samples.

How each metric is matched:

- ``send_ack``: the sender's own ``chat_updates`` holding the message, found by
  its marker (with markers off: the oldest unacknowledged send of the chat).
- ``delivery``: the interlocutor's ``chat_updates`` holding it; timed on the
  monotonic clock when the sender is in this process (the sender registered the
  expectation, which also makes a missing delivery a timeout), else from the
  marker's wall-clock send time.
- ``unread_propagation``: the interlocutor's first ``chat_unread`` whose
  ``myUnreadCount`` counts the message. Between read-pointer moves the count only
  grows, one per interlocutor message, so a count counts message M when it is at
  least the number of unread interlocutor messages up to M. Recent counts are
  kept, so it does not matter whether the server sends ``chat_unread`` before or
  after ``chat_updates``.
- ``read_ack``: the reader's first ``chat_unread`` whose ``myUnreadCount`` is no
  more than the interlocutor messages known above the read; ``read_propagation``:
  the author's first ``chat_unread`` whose ``interlocutorUnreadCount`` is no more
  than the author's messages above it. The author learns of the read from the
  ledger (same process) or a side channel (other processes), and looks back at its
  recent counts, since the side channel may be slower than the server.
- ``history``: the next ``history`` of that chat, in request order.

``debug_info`` fails the oldest pending request of the event it names (or of all
kinds, when it names none); with nothing pending it is an unattributed error.

:class:`FrameMatching` holds the state these rules need; the connection's
tracker (:mod:`chatload.tracking.tracker`) builds on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from chatload.errors import ProtocolViolation, RequestRejected
from chatload.protocol.models import ChatUpdates, DebugInfo, History, Message
from chatload.tracking import checks
from chatload.tracking.counting import CountMatching
from chatload.tracking.invariants import Breach
from chatload.tracking.ledger import Ledger
from chatload.tracking.marker import Marker, parse_marker
from chatload.tracking.metrics import (
    ACCESS_PROBE,
    DELIVERY,
    HISTORY,
    SEND_ACK,
    UNATTRIBUTED,
    Sample,
)
from chatload.tracking.pending import LOAD, READ, SEND, Await, PendingRequests, Request, Timeouts
from chatload.tracking.view import ChatView

__all__ = ["FrameMatching"]

_MAX_ARRIVALS: Final = 1024  # markers off: deliveries waiting for the sender's id
_MAX_OVERDUE: Final = 100_000  # overdue deliveries kept per connection to judge at settling


class FrameMatching(CountMatching):
    """The matching state of one connection, and the rules that use it."""

    __slots__ = (
        "_arrivals",
        "_author_waits",
        "_deliveries",
        "_opened_mono",
        "_opened_wall",
        "_overdue",
        "_unread_waits",
        "breaches",
        "chats",
        "ledger",
        "markers",
        "probed",
        "produced",
        "requests",
        "timeouts",
        "user_id",
    )

    def __init__(
        self,
        user_id: int,
        ledger: Ledger,
        timeouts: Timeouts,
        markers: bool,
        on_deadline: Callable[[float], None] | None,
    ) -> None:
        self.user_id = user_id
        self.ledger = ledger
        self.timeouts = timeouts
        self.markers = markers
        self.chats: dict[str, ChatView] = {}
        self.produced: list[Sample] = []
        self.breaches: list[Breach] = []
        self.requests = PendingRequests(ledger, timeouts)
        self._deliveries: dict[tuple[str, int], Await] = {}  # insertion order = deadline order
        self._unread_waits: list[Await] = []
        self._author_waits: list[Await] = []
        self._arrivals: dict[tuple[str, int], float] | None = None  # markers off only
        # Deliveries whose wait timed out: a late arrival is timed from the send; one
        # still missing when the run settles is a loss (see ``tracker.settle``).
        self._overdue: dict[tuple[str, int], Await] | None = None
        self.probed: set[str] | None = None  # chats of others this connection poked at
        self._opened_mono = 0.0
        self._opened_wall = 0.0
        # When the owner of this tracker will look at it next (see ``due``).
        self._on_deadline = on_deadline
        self.scheduled = math.inf

    def _note_overdue(self, key: tuple[str, int], expected: Await) -> None:
        """A delivery whose wait timed out: if it comes after all, it is late."""
        overdue = self._overdue
        if overdue is None:
            overdue = self._overdue = {}
        expected.overdue = True
        overdue[key] = expected
        if len(overdue) > _MAX_OVERDUE:
            # A soak against a server that loses nearly everything must not grow
            # without bound: the oldest suspects are forgotten, unjudged.
            del overdue[next(iter(overdue))]

    # Expectations registered by other trackers of this process

    def expect_delivery(
        self, chat_id: str, seq: int, now: float, request: Request | None = None, sender: int = 0
    ) -> None:
        """A local sender wrote marker ``seq`` into ``chat_id`` at ``now``."""
        if chat_id in self.chats:
            deadline = now + self.timeouts.delivery
            self._deliveries[(chat_id, seq)] = Await(
                DELIVERY, chat_id, 0, now, True, deadline, False, request, sender
            )
            self.due(deadline)

    def acknowledged_elsewhere(
        self, chat_id: str, message_id: int, sent: float, now: float
    ) -> None:
        """Markers off: a local sender learnt that its send at ``sent`` became ``message_id``."""
        view = self.chats.get(chat_id)
        if view is None:
            return
        arrived = self._arrivals.pop((chat_id, message_id), None) if self._arrivals else None
        if arrived is not None:
            self._produced_elsewhere(
                Sample(DELIVERY, max(arrived - sent, 0.0), chat_id=chat_id), now
            )
            self._expect_unread(view, message_id, sent, True, now)
            return
        deadline = sent + self.timeouts.delivery
        self._deliveries[(chat_id, -message_id)] = Await(
            DELIVERY, chat_id, message_id, sent, True, deadline
        )
        self.due(deadline)

    # What the connection receives

    def _chat_updates(self, event: ChatUpdates, size: int, now: float, wall: float) -> None:
        view = self.chats.get(event.chatId)
        if view is None:
            self._foreign(event.chatId, event.messages, "chat_updates", wall)
            return
        me = self.user_id
        for message in event.messages:
            stranger = checks.stranger_breach(view, message, me, wall)
            if stranger is not None:
                self.breaches.append(stranger)
                continue
            accepted, breach = checks.sequence(view, message.messageId, me, now, wall)
            if breach is not None:
                self.breaches.append(breach)
            if not accepted:
                continue
            view.remember(message, me)
            view.note(message)
            marker = parse_marker(message.text) if self.markers else None
            if message.fromUserId == me:
                self._acknowledged(view, message, marker, size, now)
            else:
                self._delivered(view, message, marker, size, now=now, wall=wall)

    def _acknowledged(
        self, view: ChatView, message: Message, marker: Marker | None, size: int, now: float
    ) -> None:
        request: Request | None = None
        if marker is not None:
            if marker.origin == self.ledger.origin:
                requests = self.requests
                request = requests.by_seq.pop(marker.seq, None) or requests.late(marker.seq)
        elif not self.markers:
            unacked = view.unacked
            while unacked and unacked[0].done and not unacked[0].unknown:
                del unacked[0]
            request = unacked.pop(0) if unacked else None
        if request is None or request.answered:
            return  # written by another connection of this user, or already failed
        late = request.unknown
        self.requests.finish(request)
        request.unknown = False  # settled: the server applied it
        request.acked = True
        request.message_id = message.messageId
        self.produced.append(
            Sample(
                SEND_ACK,
                now - request.started,
                size,
                chat_id=view.chat_id,
                request_id=request.request_id,
                late=late,
            )
        )
        if not self.markers and not late:
            interlocutor = self.ledger.tracker_of(view.interlocutor_id)
            if interlocutor is not None:
                interlocutor.acknowledged_elsewhere(
                    view.chat_id, message.messageId, request.started, now
                )

    def _delivered(
        self,
        view: ChatView,
        message: Message,
        marker: Marker | None,
        size: int,
        *,
        now: float,
        wall: float,
    ) -> None:
        chat_id = view.chat_id
        if marker is not None:
            expected = (
                self._deliveries.pop((chat_id, marker.seq), None)
                if marker.origin == self.ledger.origin
                else None
            )
            if expected is None and self._overdue and marker.origin == self.ledger.origin:
                expected = self._overdue.pop((chat_id, marker.seq), None)
            if expected is not None and not expected.done:
                self._delivered_as_expected(view, message, expected, size, now)
            else:
                sent = self.ledger.offsets.to_local(marker.origin, marker.wall)
                self.produced.append(
                    Sample(
                        DELIVERY, max(wall - sent, 0.0), size, chat_id=chat_id, cross_process=True
                    )
                )
                self._expect_unread(view, message.messageId, sent, False, now)
        elif not self.markers:
            key = (chat_id, -message.messageId)
            expected = self._deliveries.pop(key, None)
            if expected is None and self._overdue:
                expected = self._overdue.pop(key, None)
            if expected is not None and not expected.done:
                self._delivered_as_expected(view, message, expected, size, now)
                return
            # The local sender may learn the id later; from another process there
            # is no send time without markers, so such deliveries go untimed.
            arrivals = self._arrivals
            if arrivals is None:
                arrivals = self._arrivals = {}
            arrivals[(chat_id, message.messageId)] = now
            if len(arrivals) > _MAX_ARRIVALS:
                del arrivals[next(iter(arrivals))]

    def _delivered_as_expected(
        self, view: ChatView, message: Message, expected: Await, size: int, now: float
    ) -> None:
        """A delivery a local sender registered: timed on this process's monotonic
        clock, late when its wait had already timed out."""
        expected.done = True
        self.produced.append(expected.sample(now, now, size))
        self._expect_unread(view, message.messageId, expected.sent, True, now)

    def _history(self, event: History, size: int, now: float, wall: float) -> None:
        view = self.chats.get(event.chatId)
        if view is None:
            self._foreign(event.chatId, event.messages, "history", wall)
            return
        histories = view.histories
        while histories and histories[0].answered:
            del histories[0]
        if not histories:
            self.produced.append(
                Sample(
                    UNATTRIBUTED,
                    0.0,
                    size,
                    ProtocolViolation("protocol_error: history nobody asked for"),
                    chat_id=event.chatId,
                )
            )
            return
        request = histories.pop(0)
        late = request.unknown  # the page of a request already failed by its timeout
        self.requests.finish(request)
        request.unknown = False
        breach = checks.page_breach(view, request.detail, event.messages, self.user_id, wall)
        if breach is not None:
            self.breaches.append(breach)
        if event.messages:
            first = event.messages[0].messageId
            view.oldest_loaded = min(view.oldest_loaded, first) if view.oldest_loaded else first
        self.produced.append(
            Sample(
                HISTORY,
                now - request.started,
                size,
                chat_id=view.chat_id,
                request_id=request.request_id,
                payload=event.messages,
                late=late,
            )
        )

    def _debug_info(self, event: DebugInfo, size: int, now: float) -> None:
        error = RequestRejected(
            event.code or "unknown",
            f"server_error: debug_info {event.code or 'with no code'}",
            event=event.event,
        )
        named = event.event if event.event in (SEND, READ, LOAD) else None
        oldest = self.requests.oldest(named)
        if oldest is None:
            self.produced.append(Sample(UNATTRIBUTED, 0.0, size, error))
            return
        self.requests.finish(oldest)
        if oldest.probe:  # the refusal a probe expects
            self.produced.append(
                Sample(
                    ACCESS_PROBE,
                    now - oldest.started,
                    size,
                    chat_id=oldest.chat_id,
                    request_id=oldest.request_id,
                )
            )
            return
        sample = oldest.failure(now, error)
        sample.length = size
        self.produced.append(sample)
