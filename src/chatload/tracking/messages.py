"""The rules of ``chat_updates``: ``send_ack`` and ``delivery``, and the live
checks of the messages it carries.

- ``send_ack``: the sender's own ``chat_updates`` holding the message, found by
  its marker (with markers off: the oldest unacknowledged send of the chat).
- ``delivery``: the interlocutor's ``chat_updates`` holding it; timed on the
  monotonic clock when the sender is in this process (the sender registered the
  expectation, which also makes a missing delivery a timeout), else from the
  marker's wall-clock send time.

A delivery awaited past its timeout is a timeout failure and a suspicion, not a
verdict: when it comes it is a late answer timed from the send, and one still
missing when the run settles is a ``loss`` (:meth:`Messages.losses`). Each
delivered message is checked live (:mod:`chatload.tracking.checks`): between the
two participants, ids in sequence.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from chatload.protocol.models import ChatUpdates, Message
from chatload.tracking import checks
from chatload.tracking.counting import Counts
from chatload.tracking.invariants import Breach
from chatload.tracking.marker import Marker, parse_marker
from chatload.tracking.metrics import DELIVERY, Sample
from chatload.tracking.pending import Await, Request, await_timeout
from chatload.tracking.state import ConnectionState
from chatload.tracking.view import ChatView

__all__ = ["Messages"]

_MAX_ARRIVALS: Final = 1024  # markers off: deliveries waiting for the sender's id
_MAX_OVERDUE: Final = 100_000  # overdue deliveries kept per connection to judge at settling


class Messages:
    __slots__ = ("_arrivals", "awaited", "counts", "overdue", "state")

    def __init__(self, state: ConnectionState, counts: Counts) -> None:
        self.state = state
        self.counts = counts  # a delivery starts the wait for the count that counts it
        # Deliveries local senders announced, by (chat, marker seq) or, markers off,
        # (chat, -message id); insertion order is deadline order.
        self.awaited: dict[tuple[str, int], Await] = {}
        # Deliveries whose wait timed out: a late arrival is timed from the send; one
        # still missing when the run settles is a loss.
        self.overdue: dict[tuple[str, int], Await] = {}
        self._arrivals: dict[tuple[str, int], float] | None = None  # markers off only

    # Expectations registered by the senders of this process

    def expect_delivery(
        self, chat_id: str, seq: int, now: float, request: Request | None = None, sender: int = 0
    ) -> None:
        """A local sender wrote marker ``seq`` into ``chat_id`` at ``now``."""
        state = self.state
        if chat_id in state.chats:
            deadline = now + state.timeouts.delivery
            self.awaited[(chat_id, seq)] = Await(
                DELIVERY, chat_id, 0, now, True, deadline, False, request, sender
            )
            state.due(deadline)

    def acknowledged_elsewhere(
        self, chat_id: str, message_id: int, sent: float, now: float
    ) -> None:
        """Markers off: a local sender learnt that its send at ``sent`` became ``message_id``."""
        state = self.state
        view = state.chats.get(chat_id)
        if view is None:
            return
        arrived = self._arrivals.pop((chat_id, message_id), None) if self._arrivals else None
        if arrived is not None:
            state.produced_elsewhere(
                Sample(DELIVERY, max(arrived - sent, 0.0), chat_id=chat_id), now
            )
            self.counts.expect_unread(view, message_id, sent, True, now)
            return
        deadline = sent + state.timeouts.delivery
        self.awaited[(chat_id, -message_id)] = Await(
            DELIVERY, chat_id, message_id, sent, True, deadline
        )
        state.due(deadline)

    # What the connection receives

    def chat_updates(self, event: ChatUpdates, size: int, now: float, wall: float) -> None:
        state = self.state
        view = state.view_of(event.chatId, event.messages, "chat_updates", wall)
        if view is None:
            return
        me = state.user_id
        for message in event.messages:
            stranger = checks.stranger_breach(view, message, me, wall)
            if stranger is not None:
                state.breaches.append(stranger)
                continue
            accepted, breach = checks.sequence(view, message.messageId, me, now, wall)
            if breach is not None:
                state.breaches.append(breach)
            if not accepted:
                continue
            view.remember(message, me)
            view.note(message)
            marker = parse_marker(message.text) if state.markers else None
            if message.fromUserId == me:
                self._acknowledged(view, message, marker, size, now)
            else:
                self._delivered(view, message, marker, size, now=now, wall=wall)

    def _acknowledged(
        self, view: ChatView, message: Message, marker: Marker | None, size: int, now: float
    ) -> None:
        state = self.state
        requests = state.requests
        request: Request | None = None
        if marker is not None:
            if marker.origin == state.ledger.origin:
                request = requests.by_seq.pop(marker.seq, None) or requests.late(marker.seq)
        elif not state.markers:
            unacked = view.unacked
            while unacked and unacked[0].done and not unacked[0].unknown:
                del unacked[0]
            request = unacked.pop(0) if unacked else None
        if request is None or request.answered:
            return  # written by another connection of this user, or already failed
        answer = requests.answer(request, now, size)
        request.acked = True
        request.message_id = message.messageId
        state.produced.append(answer)
        if not state.markers and not answer.late:
            interlocutor = state.ledger.tracker_of(view.interlocutor_id)
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
        state = self.state
        chat_id = view.chat_id
        if marker is not None:
            local = marker.origin == state.ledger.origin
            expected = self.awaited.pop((chat_id, marker.seq), None) if local else None
            if expected is None and local:
                expected = self.overdue.pop((chat_id, marker.seq), None)
            if expected is not None and not expected.done:
                self._delivered_as_expected(view, message, expected, size, now)
            else:
                sent = state.ledger.offsets.to_local(marker.origin, marker.wall)
                state.produced.append(
                    Sample(
                        DELIVERY, max(wall - sent, 0.0), size, chat_id=chat_id, cross_process=True
                    )
                )
                self.counts.expect_unread(view, message.messageId, sent, False, now)
        elif not state.markers:
            key = (chat_id, -message.messageId)
            expected = self.awaited.pop(key, None) or self.overdue.pop(key, None)
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
        self.state.produced.append(expected.sample(now, now, size))
        self.counts.expect_unread(view, message.messageId, expected.sent, True, now)

    # Time passing, and the end of the run

    def expire(self, now: float) -> list[Sample]:
        """Timeout failures of the deliveries awaited past their deadline; each
        stays a suspect until it comes or the run settles."""
        samples = []
        awaited = self.awaited
        while awaited:
            key, expected = next(iter(awaited.items()))
            if not expected.done and now <= expected.deadline:
                break
            del awaited[key]
            if not expected.done:
                samples.append(await_timeout(expected, now, self.state.timeouts))
                expected.overdue = True
                self.overdue[key] = expected
                if len(self.overdue) > _MAX_OVERDUE:
                    # A soak against a server that loses nearly everything must not
                    # grow without bound: the oldest suspects are forgotten, unjudged.
                    del self.overdue[next(iter(self.overdue))]
        return samples

    def next_deadline(self) -> float:
        for expected in self.awaited.values():
            return expected.deadline  # insertion order is deadline order
        return float("inf")

    def owed(self) -> Iterator[str]:
        """The chat of each delivery still owed: its send is acknowledged (or,
        markers off, known only after the acknowledgement), or still waits for one."""
        for expected in (*self.awaited.values(), *self.overdue.values()):
            if not expected.done and _owed(expected):
                yield expected.chat_id

    def losses(self, judged: set[str], wall: float) -> list[Breach]:
        """After settling: each acknowledged message of a judged chat that never came."""
        me = self.state.user_id
        chats = self.state.chats
        breaches = []
        for expected in (*self.awaited.values(), *self.overdue.values()):
            sent = expected.request
            if expected.done or expected.chat_id not in judged:
                continue
            if sent is None or sent.acked:
                message_id = sent.message_id if sent is not None else expected.message_id
                breaches.append(
                    Breach(
                        "loss",
                        expected.chat_id,
                        (message_id,),
                        (expected.sender or chats[expected.chat_id].interlocutor_id, me),
                        "acknowledged, never delivered (the run settled without it)",
                        wall=wall,
                    )
                )
        return breaches


def _owed(expected: Await) -> bool:
    sent = expected.request
    return sent is None or sent.acked or not sent.done
