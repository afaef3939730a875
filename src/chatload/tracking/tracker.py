"""One connection's tracker: requests out, frames in, samples and breaches out.

The caller reads the clocks and passes them in (``now``: monotonic seconds,
``wall``: Unix seconds), so every rule here is tested by feeding frames. The
tracker is composed of one object per job, each rule in one place:

- :class:`~chatload.tracking.state.ConnectionState`: what they all share (the
  chats, the requests waiting, what was found, when to look next);
- :class:`~chatload.tracking.messages.Messages`: ``chat_updates`` (``send_ack``,
  ``delivery``, the live checks of each message);
- :class:`~chatload.tracking.counting.Counts`: ``chat_unread``
  (``unread_propagation``, ``read_ack``, ``read_propagation``);
- :class:`~chatload.tracking.replies.Replies`: ``history`` and ``debug_info``.

What waits and until when is in :mod:`chatload.tracking.pending`; the checks'
verdicts are in :mod:`chatload.tracking.checks`.

Time passing is the owner's business: ``on_deadline`` is called with the
earliest moment something here could time out, and the owner calls ``expire``
then (a process keeps one heap of these, see :mod:`chatload.tracking.deadlines`).
Samples produced while another tracker calls in (a local read notice matched at
once) wait until this tracker's next ``frame`` or ``expire``, which is due at once.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from chatload.errors import Disconnected, ProtocolViolation
from chatload.protocol.models import (
    ChatUnread,
    ChatUpdates,
    DebugInfo,
    History,
    InitialData,
    ServerEvent,
)
from chatload.tracking import checks
from chatload.tracking.counting import Counts
from chatload.tracking.invariants import Breach, ChatSummary
from chatload.tracking.ledger import Ledger, ReadNotice
from chatload.tracking.marker import Marker
from chatload.tracking.messages import Messages
from chatload.tracking.metrics import CONNECTION, UNATTRIBUTED, Sample
from chatload.tracking.pending import LOAD, READ, SEND, PendingRequests, Request, Timeouts
from chatload.tracking.replies import Replies
from chatload.tracking.state import ConnectionState
from chatload.tracking.view import ChatView, push

__all__ = ["ChatView", "Conclusion", "ConnectionTracker", "Timeouts"]


@dataclass(slots=True)
class Conclusion:
    """One connection's verdicts at the end of a run (see ``ConnectionTracker.conclude``)."""

    breaches: list[Breach] = field(default_factory=list)
    summaries: list[ChatSummary] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)  # chats still owed answers


class ConnectionTracker:
    """Everything one connection has asked and not yet had answered."""

    __slots__ = ("counts", "messages", "opened", "replies", "state")

    def __init__(
        self,
        user_id: int,
        ledger: Ledger,
        *,
        timeouts: Timeouts | None = None,
        markers: bool = True,
        on_deadline: Callable[[float], None] | None = None,
    ) -> None:
        self.state = ConnectionState(user_id, ledger, timeouts or Timeouts(), markers, on_deadline)
        self.counts = Counts(self.state)
        self.messages = Messages(self.state, self.counts)
        self.replies = Replies(self.state)
        self.opened = False

    # Who it is and what it knows (the ledger's Participant, the client's reads)

    @property
    def user_id(self) -> int:
        return self.state.user_id

    @property
    def chats(self) -> dict[str, ChatView]:
        return self.state.chats

    @property
    def ledger(self) -> Ledger:
        return self.state.ledger

    @property
    def requests(self) -> PendingRequests:
        return self.state.requests

    @property
    def breaches(self) -> list[Breach]:
        return self.state.breaches

    # What other trackers of this process tell it (the ledger's Participant)

    def expect_delivery(
        self, chat_id: str, seq: int, now: float, request: Request | None = None, sender: int = 0
    ) -> None:
        self.messages.expect_delivery(chat_id, seq, now, request, sender)

    def acknowledged_elsewhere(
        self, chat_id: str, message_id: int, sent: float, now: float
    ) -> None:
        self.messages.acknowledged_elsewhere(chat_id, message_id, sent, now)

    def interlocutor_read(self, notice: ReadNotice, now: float) -> None:
        self.counts.interlocutor_read(notice, now)

    # Connection life

    def open(
        self,
        initial: InitialData,
        previous: dict[str, tuple[int, int]] | None = None,
        *,
        now: float = 0.0,
        wall: float = 0.0,
    ) -> None:
        """Learn the chats from ``initial_data``, received at ``now`` (monotonic)
        and ``wall``, and join the ledger.

        ``previous``: what this user's last connection saw of each chat (the last
        message id and its digest, from :meth:`last_seen`); a message it saw must
        still be there after the reconnect.
        """
        state = self.state
        state.opened_mono, state.opened_wall = now, wall
        me = self.user_id
        for entry in initial.entries:
            for chat in entry.chats:
                # The owner is one of the two participants: sharing its int object
                # with theirs saves one object a chat on thousands of users.
                owner = chat.user.id if entry.eventOwnerId == chat.user.id else me
                view = ChatView(
                    chat_id=sys.intern(chat.chatId),  # the other side's view shares it
                    event_id=entry.event.id,
                    owner_id=owner if entry.eventOwnerId == owner else entry.eventOwnerId,
                    interlocutor_id=chat.user.id,
                    my_unread=chat.myUnreadCount,
                    interlocutor_unread=chat.interlocutorUnreadCount,
                    opening_interlocutor_unread=chat.interlocutorUnreadCount,
                    anchor_count=chat.myUnreadCount,
                )
                view.open_page(chat.messages, self.user_id)
                view.anchor_id = view.last_id
                if previous and chat.chatId in previous:
                    breach = checks.reconnect_breach(view, previous[chat.chatId], self.user_id)
                    if breach is not None:
                        state.breaches.append(breach)
                view.oldest_loaded = chat.messages[0].messageId if chat.messages else 0
                state.chats[chat.chatId] = view
        for chat_id, up_to in self.ledger.take_reads_in_doubt(me).items():
            doubted = state.chats.get(chat_id)
            if doubted is not None:
                doubted.active().read_elsewhere = up_to
        self.opened = True
        self.ledger.attach(self)

    def last_seen(self) -> dict[str, tuple[int, int]]:
        """The newest message seen in each chat, to check the next connection with."""
        return {
            chat_id: (view.last_id, view.last_digest)
            for chat_id, view in self.chats.items()
            if view.last_id
        }

    def close(self, now: float, error: Disconnected | None) -> list[Sample]:
        """Leave the ledger. With ``error`` (the server closed on us) every pending
        request fails as a disconnect, and so does the connection itself; without,
        pending requests are dropped."""
        self.ledger.detach(self)
        in_doubt = {chat_id: view.reads_in_doubt() for chat_id, view in self.chats.items()}
        self.ledger.doubt_reads(self.user_id, {c: up_to for c, up_to in in_doubt.items() if up_to})
        self.opened = False
        samples = self.state.take()
        if error is None:
            self.requests.drop_all()
            return samples
        samples.extend(self.requests.fail_all(now, error))
        samples.append(Sample(CONNECTION, 0.0, error=error))
        return samples

    # What the connection sends

    def message_sent(self, chat_id: str, marker: Marker | None, now: float, wall: float) -> int:
        """A ``send_message`` left; its request id names it to whoever waits for it."""
        view = self.chats[chat_id]
        request = self.requests.add(SEND, chat_id, now, marker.seq if marker else 0)
        self.state.due(now + self.state.timeouts.ack)
        if marker is None:
            push(view, "unacked", request)
            return request.request_id
        self.requests.by_seq[marker.seq] = request
        interlocutor = self.ledger.tracker_of(view.interlocutor_id)
        if interlocutor is not None:
            interlocutor.expect_delivery(chat_id, marker.seq, now, request, self.user_id)
        return request.request_id

    def read_sent(self, chat_id: str, up_to: int, now: float, wall: float) -> int:
        view = self.chats[chat_id]
        request = self.requests.add(READ, chat_id, now, up_to)
        self.state.due(now + self.state.timeouts.read)
        push(view, "reads", request)
        # Only a read that covers unread interlocutor messages changes what the
        # author sees, so only then is there a propagation to time.
        if view.unread_through(up_to) > 0:
            notice = ReadNotice(
                chat_id, self.user_id, view.interlocutor_id, up_to, wall, self.ledger.origin, now
            )
            self.ledger.publish_read(notice, now)
        return request.request_id

    def probe_sent(self, kind: str, chat_id: str, now: float) -> int:
        """An access probe: ``kind`` (send_message, read_messages or load_history) on a
        chat this user is not in. A refusal completes it; anything about the chat
        coming back is an access breach."""
        request = self.requests.add(kind, chat_id, now, 0)
        request.probe = True
        state = self.state
        state.due(now + self.requests.limit(kind))
        if state.probed is None:
            state.probed = set()
        state.probed.add(chat_id)
        return request.request_id

    def history_sent(self, chat_id: str, before: int, now: float) -> int:
        view = self.chats[chat_id]
        request = self.requests.add(LOAD, chat_id, now, before)
        self.state.due(now + self.state.timeouts.history)
        push(view, "histories", request)
        return request.request_id

    @property
    def unacked_count(self) -> int:
        if self.state.markers:
            return len(self.requests.by_seq)
        return sum(1 for request in self.requests.sends if not request.done)

    # What the connection receives

    def frame(self, event: ServerEvent, size: int, now: float, wall: float) -> list[Sample]:
        """Every sample completed by one received frame (``size`` in bytes)."""
        if isinstance(event, ChatUpdates):
            self.messages.chat_updates(event, size, now, wall)
        elif isinstance(event, ChatUnread):
            self.counts.chat_unread(event, size, now, wall)
        elif isinstance(event, History):
            self.replies.history(event, size, now, wall)
        elif isinstance(event, DebugInfo):
            self.replies.debug_info(event, size, now)
        else:
            self.state.produced.append(
                Sample(
                    UNATTRIBUTED,
                    0.0,
                    size,
                    ProtocolViolation("protocol_error: initial_data on an open connection"),
                )
            )
        return self.state.take()

    def protocol_error(self, error: ProtocolViolation, size: int) -> Sample:
        """A frame the protocol core refused answers nothing the tool can name."""
        return Sample(UNATTRIBUTED, 0.0, size, error)

    # Time passing

    def expire(self, now: float) -> list[Sample]:
        """Timeout failures of everything awaited past its deadline, plus any
        samples other trackers produced here since the last call.

        A timeout is a failure, not a verdict: what was awaited may still come
        (then it is a late answer, timed like any other), and whether it never
        came is judged when the run settles (:meth:`settle`)."""
        state = self.state
        samples = state.take()
        samples.extend(state.requests.expire(now))
        samples.extend(self.messages.expire(now))
        samples.extend(self.counts.expire(now))
        if state.scheduled <= now:
            state.scheduled = math.inf
        deadline = self.next_deadline()
        if deadline < math.inf:
            state.due(deadline)
        return samples

    def next_deadline(self) -> float:
        """The earliest moment something here times out (infinity: nothing waits)."""
        return min(
            self.requests.next_deadline(),
            self.messages.next_deadline(),
            self.counts.next_deadline(),
        )

    # Settling

    def owed(self) -> dict[str, int]:
        """What the server still owes this connection, by chat: answers to requests
        still in time, deliveries of acknowledged messages (timed out or not),
        skipped ids, counts awaited. Requests of unknown outcome owe nothing: the
        server may never have applied them."""
        owed: dict[str, int] = {}
        requests = self.requests
        for queue in (requests.sends, requests.reads, requests.loads):
            for request in queue:
                if not request.done:
                    owed[request.chat_id] = owed.get(request.chat_id, 0) + 1
        for chat_id in self.messages.owed():
            owed[chat_id] = owed.get(chat_id, 0) + 1
        for view in self.chats.values():
            waiting = len(view.gaps or ()) + Counts.owed(view)
            if waiting:
                owed[view.chat_id] = owed.get(view.chat_id, 0) + waiting
        return owed

    def conclude(self, wall: float, *, nothing_more_coming: bool) -> Conclusion:
        """The verdicts of the end of a run, once it settled (``tracking.settling``).

        ``nothing_more_coming``: the run went quiet, so what is still owed never
        came: an acknowledged message not delivered is a ``loss``, skipped ids are
        a ``gap``. Otherwise (settling ran out of time while answers were still
        arriving) a chat still owed something is *unsettled*: it is counted, and
        judged on nothing. Every other chat's counts are compared with its model,
        and its summary goes to the comparison of both sides."""
        owed = self.owed()
        me = self.user_id
        judged = {chat_id for chat_id in self.chats if nothing_more_coming or not owed.get(chat_id)}
        conclusion = Conclusion(
            breaches=self.messages.losses(judged, wall),
            unsettled=[chat_id for chat_id in self.chats if chat_id not in judged],
        )
        for chat_id in sorted(judged):
            view = self.chats[chat_id]
            gap = checks.missing_ids(view, me, wall)
            if gap is not None:
                conclusion.breaches.append(gap)
            breach = checks.unread_breach(view, me, wall)
            if breach is not None:
                conclusion.breaches.append(breach)
            conclusion.summaries.append(
                ChatSummary(
                    chat_id,
                    me,
                    view.interlocutor_id,
                    view.last_id,
                    view.my_unread,
                    view.interlocutor_unread,
                )
            )
        return conclusion

    def unread_breaches(self, wall: float) -> list[Breach]:
        """After settling: each count that is not what the messages and this
        connection's read pointer imply."""
        found = (checks.unread_breach(view, self.user_id, wall) for view in self.chats.values())
        return [breach for breach in found if breach is not None]

    @property
    def sends_in_doubt(self) -> int:
        """Sends whose acknowledgement has not come: in time, or timed out (it may
        still come, late)."""
        return self.unacked_count + len(self.requests.unknown or ())

    def take_breaches(self) -> list[Breach]:
        state = self.state
        breaches, state.breaches = state.breaches, []
        return breaches

    @property
    def pending(self) -> int:
        """Requests still waiting for an answer."""
        return self.requests.count
