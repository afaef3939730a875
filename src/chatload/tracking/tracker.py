"""Per-connection matching of requests and frames into METRICS.md's samples.

The caller reads the clocks and passes them in (``now``: monotonic seconds,
``wall``: Unix seconds), so every rule here is tested by feeding frames.

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

Samples produced while another tracker calls in (a local read notice matched at
once) wait in ``produced`` until this tracker's next ``frame`` or ``expire``.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Final

from chatload.errors import AwaitTimeout, Disconnected, ProtocolViolation, RequestRejected
from chatload.protocol.models import (
    ChatUnread,
    ChatUpdates,
    DebugInfo,
    History,
    InitialData,
    Message,
    ServerEvent,
)
from chatload.tracking.invariants import Breach, ChatSummary
from chatload.tracking.ledger import Ledger, ReadNotice
from chatload.tracking.marker import Marker, parse_marker
from chatload.tracking.metrics import (
    ACCESS_PROBE,
    CONNECTION,
    DELIVERY,
    HISTORY,
    READ_ACK,
    READ_PROPAGATION,
    SEND_ACK,
    UNATTRIBUTED,
    UNREAD_PROPAGATION,
    Sample,
)

__all__ = ["ChatView", "ConnectionTracker", "Timeouts"]

_OBSERVATIONS: Final = 16  # recent chat_unread counts kept per chat for late matches
_MAX_IDS: Final = 20_000  # known ids kept per chat and author: a soak must not grow
_MAX_ARRIVALS: Final = 1024  # markers off: deliveries waiting for the sender's id
_RECENT: Final = 64  # messages per chat kept to check history pages against
_MAX_GAP: Final = 10_000  # ids of one gap tracked one by one; a larger jump is one breach

SEND: Final = "send_message"
READ: Final = "read_messages"
LOAD: Final = "load_history"
_METRIC_OF: Final = {SEND: SEND_ACK, READ: READ_ACK, LOAD: HISTORY}
_PROBE_TIMEOUT: Final = "timeout: no refusal of a request on another user's chat"
_TIMEOUT_TEXT: Final = {
    SEND: "timeout: no acknowledgement",
    READ: "timeout: no chat_unread reflecting the read",
    LOAD: "timeout: no history",
    DELIVERY: "timeout: no delivery",
    UNREAD_PROPAGATION: "timeout: no chat_unread counting the message",
    READ_PROPAGATION: "timeout: no chat_unread reflecting the interlocutor's read",
}


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait for each awaited answer before it is a timeout failure."""

    ack: float = 10.0
    delivery: float = 10.0
    unread: float = 10.0
    read: float = 10.0
    history: float = 10.0


@dataclass(slots=True)
class _Request:
    kind: str  # send_message, read_messages or load_history
    token: int
    chat_id: str
    started: float
    detail: int = 0  # marker seq, read pointer or history bound
    done: bool = False
    acked: bool = False  # a send whose chat_updates came back
    message_id: int = 0  # the id the server gave an acknowledged send
    probe: bool = False  # an access probe: refusal is the expected answer


@dataclass(slots=True)
class _Await:
    """Something this connection expects to see and times.

    ``local``: both ends are in this process, so ``sent`` is monotonic; else
    ``sent`` is the wall-clock send time. ``deadline`` is monotonic.
    """

    metric: str
    chat_id: str
    message_id: int
    sent: float
    local: bool
    deadline: float
    done: bool = False
    request: _Request | None = None  # the local send a delivery is expected for
    sender: int = 0

    def seconds_to(self, mono: float, wall: float) -> float:
        return max((mono if self.local else wall) - self.sent, 0.0)


@dataclass(slots=True)
class _Count:
    value: int
    mono: float
    wall: float


@dataclass(slots=True)
class ChatView:
    """One chat as one connection knows it; personas read it to choose what to do."""

    chat_id: str
    event_id: int
    owner_id: int
    interlocutor_id: int
    last_id: int = 0
    last_from: int = 0
    oldest_loaded: int = 0
    my_unread: int = 0
    interlocutor_unread: int = 0
    opening_interlocutor_unread: int = 0  # as initial_data gave it
    # The myUnreadCount model: until our first read is reflected the pointer is
    # unknown and the count is anchor_count plus interlocutor messages above anchor_id.
    pointer: int | None = None
    anchor_id: int = 0
    anchor_count: int = 0
    interlocutor_ids: list[int] = field(default_factory=list)
    my_ids: list[int] = field(default_factory=list)
    # Queues are created on first use: thousands of idle users each hold a few
    # chats, and an empty deque costs more memory than the rest of the view.
    unacked: list[_Request] | None = None  # markers off only
    reads: list[_Request] | None = None
    histories: list[_Request] | None = None
    unread_waits: list[_Await] | None = None
    author_waits: list[_Await] | None = None
    my_counts: list[_Count] | None = None
    their_counts: list[_Count] | None = None
    gaps: dict[int, float] | None = None  # ids skipped live -> when noticed (monotonic)
    last_digest: int = 0  # digest of the message last_id, for the reconnect check
    # The newest messages delivered live, slot id % _RECENT: ids and digests, created
    # on the first live message (an idle user keeps none).
    recent_ids: array[int] | None = None
    recent_digests: array[int] | None = None

    def note(self, message: Message) -> None:
        """Keep a live message's digest, to check history pages against."""
        if self.recent_ids is None or self.recent_digests is None:
            self.recent_ids = array("q", bytes(8 * _RECENT))
            self.recent_digests = array("q", bytes(8 * _RECENT))
        slot = message.messageId % _RECENT
        self.recent_ids[slot] = message.messageId
        self.recent_digests[slot] = digest(message)

    def kept(self, message_id: int) -> int | None:
        """The digest of a message delivered live or seen last, when still kept."""
        if message_id == self.last_id and self.last_digest:
            return self.last_digest
        ids, digests = self.recent_ids, self.recent_digests
        if ids is None or digests is None:
            return None
        slot = message_id % _RECENT
        return digests[slot] if ids[slot] == message_id else None

    def unread_through(self, message_id: int) -> int:
        """How many interlocutor messages up to ``message_id`` are unread, by the model."""
        ids = self.interlocutor_ids
        upto = bisect_right(ids, message_id)
        if self.pointer is None:
            return self.anchor_count + upto - bisect_right(ids, self.anchor_id)
        return max(0, upto - bisect_right(ids, self.pointer))

    def interlocutor_above(self, message_id: int) -> int:
        ids = self.interlocutor_ids
        return len(ids) - bisect_right(ids, message_id)

    def mine_above(self, message_id: int) -> int:
        ids = self.my_ids
        return len(ids) - bisect_right(ids, message_id)

    def remember(self, message: Message, me: int) -> None:
        """Record a message's id under its author; it may become the last one."""
        ids = self.my_ids if message.fromUserId == me else self.interlocutor_ids
        if not ids or message.messageId > ids[-1]:
            ids.append(message.messageId)
            if len(ids) > _MAX_IDS:
                del ids[: len(ids) - _MAX_IDS]
        if message.messageId > self.last_id:
            self.last_id = message.messageId
            self.last_from = message.fromUserId
            self.last_digest = digest(message)


def digest(message: Message) -> int:
    """Author and text in one signed 64-bit number: enough to tell a changed message."""
    return hash((message.fromUserId, message.text))


def _push(view: ChatView, queue: str, item: _Request | _Await) -> None:
    """Append to one of the view's queues, creating it on first use."""
    items = getattr(view, queue)
    if items is None:
        setattr(view, queue, [item])
    else:
        items.append(item)


def _observed(counts: list[_Count] | None, count: _Count) -> list[_Count]:
    """The recent counts with ``count`` added, the oldest dropped past the limit."""
    if counts is None:
        return [count]
    counts.append(count)
    if len(counts) > _OBSERVATIONS:
        del counts[0]
    return counts


class ConnectionTracker:
    """Everything one connection has asked and not yet had answered."""

    def __init__(
        self,
        user_id: int,
        ledger: Ledger,
        *,
        timeouts: Timeouts | None = None,
        markers: bool = True,
    ) -> None:
        self.user_id = user_id
        self.ledger = ledger
        self.timeouts = timeouts or Timeouts()
        self.markers = markers
        self.chats: dict[str, ChatView] = {}
        self.opened = False
        self.produced: list[Sample] = []
        self._tokens = 0
        self._sends: list[_Request] = []
        self._reads: list[_Request] = []
        self._loads: list[_Request] = []
        self._sends_by_seq: dict[int, _Request] = {}
        self._deliveries: dict[tuple[str, int], _Await] = {}  # insertion order = deadline order
        self._unread_waits: list[_Await] = []
        self._author_waits: list[_Await] = []
        self._arrivals: dict[tuple[str, int], float] | None = None  # markers off only
        self.breaches: list[Breach] = []
        self.probed: set[str] | None = None  # chats of others this connection poked at
        self._gapped: set[str] | None = None  # chats with ids skipped live
        self._opened_mono = 0.0
        self._opened_wall = 0.0

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
        self._opened_mono, self._opened_wall = now, wall
        for entry in initial.entries:
            for chat in entry.chats:
                view = ChatView(
                    chat_id=chat.chatId,
                    event_id=entry.event.id,
                    owner_id=entry.eventOwnerId,
                    interlocutor_id=chat.user.id,
                    my_unread=chat.myUnreadCount,
                    interlocutor_unread=chat.interlocutorUnreadCount,
                    opening_interlocutor_unread=chat.interlocutorUnreadCount,
                    anchor_count=chat.myUnreadCount,
                )
                for message in chat.messages:
                    view.remember(message, self.user_id)
                view.anchor_id = view.last_id
                if previous and chat.chatId in previous:
                    self._check_reconnect(view, previous[chat.chatId])
                view.oldest_loaded = chat.messages[0].messageId if chat.messages else 0
                self.chats[chat.chatId] = view
        self.opened = True
        self.ledger.attach(self)

    def _check_reconnect(self, view: ChatView, seen: tuple[int, int]) -> None:
        last_id, seen_digest = seen
        if view.last_id < last_id:
            detail = f"seen before the reconnect, absent from initial_data (ends at {view.last_id})"
        elif view.last_id == last_id and view.last_digest != seen_digest:
            detail = "changed between two connections"
        else:
            return
        self.breaches.append(
            Breach("loss", view.chat_id, (last_id,), (self.user_id, view.interlocutor_id), detail)
        )

    def last_seen(self) -> dict[str, tuple[int, int]]:
        """The newest message seen in each chat, to check the next connection with."""
        return {
            chat_id: (view.last_id, view.last_digest)
            for chat_id, view in self.chats.items()
            if view.last_id
        }

    def close(self, now: float, error: Disconnected | None) -> list[Sample]:
        """Leave the ledger. With ``error`` (the server closed on us) every pending
        request fails as a disconnect, and so does the connection itself."""
        self.ledger.detach(self)
        self.opened = False
        samples = self._take()
        if error is None:
            return samples
        for queue in (self._sends, self._reads, self._loads):
            for request in queue:
                if not request.done:
                    request.done = True
                    samples.append(self._failure(request, now, error))
            queue.clear()
        self._sends_by_seq.clear()
        samples.append(Sample(CONNECTION, 0.0, error=error))
        return samples

    def _take(self) -> list[Sample]:
        samples, self.produced = self.produced, []
        return samples

    def _failure(self, request: _Request, now: float, error: Exception) -> Sample:
        return Sample(
            ACCESS_PROBE if request.probe else _METRIC_OF[request.kind],
            now - request.started,
            error=error,  # type: ignore[arg-type]
            chat_id=request.chat_id,
            token=request.token,
        )

    # What the connection sends

    def _request(self, kind: str, chat_id: str, now: float, detail: int) -> _Request:
        self._tokens += 1
        return _Request(kind, self._tokens, chat_id, now, detail)

    def message_sent(self, chat_id: str, marker: Marker | None, now: float, wall: float) -> int:
        """A ``send_message`` left; the token names it to whoever waits for it."""
        view = self.chats[chat_id]
        request = self._request(SEND, chat_id, now, marker.seq if marker else 0)
        self._sends.append(request)
        if marker is None:
            _push(view, "unacked", request)
            return request.token
        self._sends_by_seq[marker.seq] = request
        interlocutor = self.ledger.tracker_of(view.interlocutor_id)
        if interlocutor is not None:
            interlocutor.expect_delivery(chat_id, marker.seq, now, request, self.user_id)
        return request.token

    def read_sent(self, chat_id: str, up_to: int, now: float, wall: float) -> int:
        view = self.chats[chat_id]
        request = self._request(READ, chat_id, now, up_to)
        self._reads.append(request)
        _push(view, "reads", request)
        # Only a read that covers unread interlocutor messages changes what the
        # author sees, so only then is there a propagation to time.
        if view.unread_through(up_to) > 0:
            self.ledger.publish_read(
                ReadNotice(
                    chat_id,
                    self.user_id,
                    view.interlocutor_id,
                    up_to,
                    wall,
                    self.ledger.origin,
                    now,
                ),
                now,
            )
        return request.token

    def probe_sent(self, kind: str, chat_id: str, now: float) -> int:
        """An access probe: ``kind`` (send_message, read_messages or load_history) on a
        chat this user is not in. A refusal completes it; anything about the chat
        coming back is an access breach."""
        request = self._request(kind, chat_id, now, 0)
        request.probe = True
        if self.probed is None:
            self.probed = set()
        self.probed.add(chat_id)
        {SEND: self._sends, READ: self._reads, LOAD: self._loads}[kind].append(request)
        return request.token

    def history_sent(self, chat_id: str, before: int, now: float) -> int:
        view = self.chats[chat_id]
        request = self._request(LOAD, chat_id, now, before)
        self._loads.append(request)
        _push(view, "histories", request)
        return request.token

    @property
    def unacked_count(self) -> int:
        return (
            len(self._sends_by_seq)
            if self.markers
            else sum(1 for request in self._sends if not request.done)
        )

    # Expectations registered by other trackers of this process

    def expect_delivery(
        self, chat_id: str, seq: int, now: float, request: _Request | None = None, sender: int = 0
    ) -> None:
        """A local sender wrote marker ``seq`` into ``chat_id`` at ``now``."""
        if chat_id in self.chats:
            self._deliveries[(chat_id, seq)] = _Await(
                DELIVERY,
                chat_id,
                0,
                now,
                True,
                now + self.timeouts.delivery,
                False,
                request,
                sender,
            )

    def interlocutor_read(self, notice: ReadNotice, now: float) -> None:
        """The interlocutor read up to ``notice.up_to``: our ``interlocutorUnreadCount``
        should drop to the number of our messages above it."""
        view = self.chats.get(notice.chat_id)
        if view is None:
            return
        local = notice.mono is not None and notice.origin == self.ledger.origin
        sent = notice.mono if local and notice.mono is not None else notice.wall
        opened = self._opened_mono if local else self._opened_wall
        if sent < opened and view.opening_interlocutor_unread <= view.mine_above(notice.up_to):
            # The read may have landed before this connection's initial_data, which
            # already reflected it: there is no propagation left to time.
            return
        wait = _Await(
            READ_PROPAGATION, notice.chat_id, notice.up_to, sent, local, now + self.timeouts.read
        )
        for count in view.their_counts or ():
            if (count.mono if local else count.wall) >= sent and count.value <= view.mine_above(
                notice.up_to
            ):
                self.produced.append(
                    Sample(
                        READ_PROPAGATION,
                        wait.seconds_to(count.mono, count.wall),
                        chat_id=view.chat_id,
                    )
                )
                return
        _push(view, "author_waits", wait)
        self._author_waits.append(wait)

    def acknowledged_elsewhere(
        self, chat_id: str, message_id: int, sent: float, now: float
    ) -> None:
        """Markers off: a local sender learnt that its send at ``sent`` became ``message_id``."""
        view = self.chats.get(chat_id)
        if view is None:
            return
        arrived = self._arrivals.pop((chat_id, message_id), None) if self._arrivals else None
        if arrived is not None:
            self.produced.append(Sample(DELIVERY, max(arrived - sent, 0.0), chat_id=chat_id))
            self._expect_unread(view, message_id, sent, True, now)
            return
        self._deliveries[(chat_id, -message_id)] = _Await(
            DELIVERY, chat_id, message_id, sent, True, sent + self.timeouts.delivery
        )

    # What the connection receives

    def frame(self, event: ServerEvent, size: int, now: float, wall: float) -> list[Sample]:
        """Every sample completed by one received frame (``size`` in bytes)."""
        if isinstance(event, ChatUpdates):
            self._chat_updates(event, size, now, wall)
        elif isinstance(event, ChatUnread):
            self._chat_unread(event, size, now, wall)
        elif isinstance(event, History):
            self._history(event, size, now, wall)
        elif isinstance(event, DebugInfo):
            self._debug_info(event, size, now)
        else:
            self.produced.append(
                Sample(
                    UNATTRIBUTED,
                    0.0,
                    size,
                    ProtocolViolation("protocol_error: initial_data on an open connection"),
                )
            )
        return self._take()

    def _chat_updates(self, event: ChatUpdates, size: int, now: float, wall: float) -> None:
        view = self.chats.get(event.chatId)
        if view is None:
            self._foreign(event.chatId, event.messages, "chat_updates", wall)
            return
        me, other = self.user_id, view.interlocutor_id
        for message in event.messages:
            if {message.fromUserId, message.toUserId} != {me, other}:
                self.breaches.append(Breach(
                    "access", view.chat_id, (message.messageId,), (message.fromUserId, me),
                    f"a message from {message.fromUserId} to {message.toUserId} in a chat of "
                    f"{me} and {other}", wall=wall,
                ))  # fmt: skip
                continue
            if not self._in_sequence(view, message.messageId, now, wall):
                continue
            view.remember(message, me)
            view.note(message)
            marker = parse_marker(message.text) if self.markers else None
            if message.fromUserId == self.user_id:
                self._acknowledged(view, message, marker, size, now)
            else:
                self._delivered(view, message, marker, size, now=now, wall=wall)

    def _foreign(self, chat_id: str, messages: tuple[Message, ...], what: str, wall: float) -> None:
        """A frame about a chat this connection does not have."""
        if (self.probed is None or chat_id not in self.probed) and not any(
            self.user_id not in (m.fromUserId, m.toUserId) for m in messages
        ):
            return  # a chat created after initial_data, with us in it
        # A leak answers the probe that caused it: it is a breach, not also a timeout.
        answered = {"chat_updates": self._sends, "chat_unread": self._reads, "history": self._loads}
        for request in answered[what]:
            if request.probe and not request.done and request.chat_id == chat_id:
                request.done = True
                break
        self.breaches.append(Breach(
            "access", chat_id, tuple(m.messageId for m in messages), (self.user_id,),
            f"{what} of a chat user {self.user_id} is not in", wall=wall,
        ))  # fmt: skip

    def _in_sequence(self, view: ChatView, message_id: int, now: float, wall: float) -> bool:
        """Check message ids arrive 1, 2, 3...; False for one seen before."""
        expected = view.last_id + 1
        if message_id == expected:
            return True
        users = (self.user_id, view.interlocutor_id)
        if message_id > expected:
            gaps = view.gaps
            if gaps is None:
                gaps = view.gaps = {}
            if message_id - expected > _MAX_GAP:
                self.breaches.append(Breach(
                    "gap", view.chat_id, (expected, message_id - 1), users,
                    f"{message_id - expected} ids skipped at once", wall=wall,
                ))  # fmt: skip
            else:
                for missing in range(expected, message_id):
                    gaps[missing] = now
                if self._gapped is None:
                    self._gapped = set()
                self._gapped.add(view.chat_id)
            return True
        if view.gaps and view.gaps.pop(message_id, None) is not None:
            self.breaches.append(Breach(
                "reorder", view.chat_id, (message_id, view.last_id), users,
                f"message {message_id} arrived after {view.last_id}", wall=wall,
            ))  # fmt: skip
            return True
        self.breaches.append(Breach(
            "duplicate", view.chat_id, (message_id,), users,
            f"message {message_id} arrived again (last seen {view.last_id})", wall=wall,
        ))  # fmt: skip
        return False

    def _acknowledged(
        self, view: ChatView, message: Message, marker: Marker | None, size: int, now: float
    ) -> None:
        request: _Request | None = None
        if marker is not None:
            if marker.origin == self.ledger.origin:
                request = self._sends_by_seq.pop(marker.seq, None)
        elif not self.markers:
            unacked = view.unacked
            while unacked and unacked[0].done:
                del unacked[0]
            request = unacked.pop(0) if unacked else None
        if request is None or request.done:
            return  # written by another connection of this user, or already failed
        request.done = True
        request.acked = True
        request.message_id = message.messageId
        self.produced.append(
            Sample(SEND_ACK, now - request.started, size, chat_id=view.chat_id, token=request.token)
        )
        if not self.markers:
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
            if expected is not None and not expected.done:
                expected.done = True
                self.produced.append(Sample(DELIVERY, now - expected.sent, size, chat_id=chat_id))
                self._expect_unread(view, message.messageId, expected.sent, True, now)
            else:
                self.produced.append(
                    Sample(DELIVERY, max(wall - marker.wall, 0.0), size, chat_id=chat_id)
                )
                self._expect_unread(view, message.messageId, marker.wall, False, now)
        elif not self.markers:
            expected = self._deliveries.pop((chat_id, -message.messageId), None)
            if expected is not None and not expected.done:
                expected.done = True
                self.produced.append(Sample(DELIVERY, now - expected.sent, size, chat_id=chat_id))
                self._expect_unread(view, message.messageId, expected.sent, True, now)
                return
            # The local sender may learn the id later; from another process there
            # is no send time without markers, so such deliveries go untimed.
            arrivals = self._arrivals
            if arrivals is None:
                arrivals = self._arrivals = {}
            arrivals[(chat_id, message.messageId)] = now
            if len(arrivals) > _MAX_ARRIVALS:
                del arrivals[next(iter(arrivals))]

    def _expect_unread(
        self, view: ChatView, message_id: int, sent: float, local: bool, now: float
    ) -> None:
        wait = _Await(
            UNREAD_PROPAGATION, view.chat_id, message_id, sent, local, now + self.timeouts.unread
        )
        needed = view.unread_through(message_id)
        counts = view.my_counts
        # Counts never drop between pointer moves: when the newest does not count
        # the message none does, which is the usual case (chat_unread comes after).
        if counts and counts[-1].value >= needed:
            for count in counts:
                if count.value >= needed and (count.mono if local else count.wall) >= sent:
                    self.produced.append(
                        Sample(
                            UNREAD_PROPAGATION,
                            wait.seconds_to(count.mono, count.wall),
                            chat_id=view.chat_id,
                        )
                    )
                    return
        _push(view, "unread_waits", wait)
        self._unread_waits.append(wait)

    def _chat_unread(self, event: ChatUnread, size: int, now: float, wall: float) -> None:
        view = self.chats.get(event.chatId)
        if view is None:
            if self.probed and event.chatId in self.probed:
                self._foreign(event.chatId, (), "chat_unread", wall)
            return
        mine, theirs = event.myUnreadCount, event.interlocutorUnreadCount
        view.my_unread, view.interlocutor_unread = mine, theirs
        produced = self.produced
        moved_to = 0
        reads = view.reads
        while reads and (reads[0].done or mine <= view.interlocutor_above(reads[0].detail)):
            read = reads.pop(0)
            if read.done:
                continue
            read.done = True
            produced.append(
                Sample(READ_ACK, now - read.started, size, chat_id=view.chat_id, token=read.token)
            )
            moved_to = max(moved_to, read.detail)
        if moved_to and (view.pointer is None or moved_to > view.pointer):
            self._pointer_moved(view, moved_to)
        waits = view.unread_waits
        while waits and (waits[0].done or mine >= view.unread_through(waits[0].message_id)):
            wait = waits.pop(0)
            if not wait.done:
                wait.done = True
                produced.append(
                    Sample(
                        UNREAD_PROPAGATION, wait.seconds_to(now, wall), size, chat_id=view.chat_id
                    )
                )
        view.my_counts = _observed(view.my_counts, _Count(mine, now, wall))
        authors = view.author_waits
        while authors and (authors[0].done or theirs <= view.mine_above(authors[0].message_id)):
            wait = authors.pop(0)
            if not wait.done:
                wait.done = True
                produced.append(
                    Sample(READ_PROPAGATION, wait.seconds_to(now, wall), size, chat_id=view.chat_id)
                )
        view.their_counts = _observed(view.their_counts, _Count(theirs, now, wall))
        if theirs == 0 and not authors:
            # The interlocutor has read all we wrote: future reads only concern
            # messages still to come, so the ids known so far are not needed.
            view.my_ids.clear()

    def _pointer_moved(self, view: ChatView, pointer: int) -> None:
        view.pointer = pointer
        view.my_counts = None
        # Messages at or below the pointer are read: no count will include them.
        for wait in view.unread_waits or ():
            if wait.message_id <= pointer:
                wait.done = True
        del view.interlocutor_ids[: bisect_right(view.interlocutor_ids, pointer)]

    def _history(self, event: History, size: int, now: float, wall: float) -> None:
        view = self.chats.get(event.chatId)
        if view is None:
            self._foreign(event.chatId, event.messages, "history", wall)
            return
        histories = view.histories
        while histories and histories[0].done:
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
        request.done = True
        self._check_page(view, request.detail, event.messages, wall)
        if event.messages:
            first = event.messages[0].messageId
            view.oldest_loaded = min(view.oldest_loaded, first) if view.oldest_loaded else first
        self.produced.append(
            Sample(
                HISTORY,
                now - request.started,
                size,
                chat_id=view.chat_id,
                token=request.token,
                payload=event.messages,
            )
        )

    def _check_page(
        self, view: ChatView, before: int, messages: tuple[Message, ...], wall: float
    ) -> None:
        """A page below ``before`` must be the ids just below it, ascending, with no
        repeat, empty only below messageId 1, and agree with what came live."""
        ids = [message.messageId for message in messages]
        top = min(before - 1, view.last_id)
        problem = ""
        if not ids:
            if top >= 1:
                problem = f"empty, though messages 1..{top} exist"
        elif any(b != a + 1 for a, b in pairwise(ids)):
            problem = "not contiguous and ascending"
        elif ids[-1] != top:
            problem = f"ends at {ids[-1]}, not at {top}"
        else:
            for message in messages:
                seen = view.kept(message.messageId)
                if seen is not None and seen != digest(message):
                    problem = f"message {message.messageId} differs from its live delivery"
                    break
        if problem:
            self.breaches.append(Breach(
                "history", view.chat_id, tuple(ids[:1] + ids[-1:]),
                (self.user_id, view.interlocutor_id), f"page below {before}: {problem}", wall=wall,
            ))  # fmt: skip

    def _debug_info(self, event: DebugInfo, size: int, now: float) -> None:
        error = RequestRejected(
            event.code or "unknown",
            f"server_error: debug_info {event.code or 'with no code'}",
            event=event.event,
        )
        queues = {SEND: self._sends, READ: self._reads, LOAD: self._loads}
        named = queues.get(event.event or "")
        oldest: _Request | None = None
        for queue in [named] if named is not None else list(queues.values()):
            while queue and queue[0].done:
                del queue[0]
            if queue and (oldest is None or queue[0].started < oldest.started):
                oldest = queue[0]
        if oldest is None:
            self.produced.append(Sample(UNATTRIBUTED, 0.0, size, error))
            return
        oldest.done = True
        if oldest.probe:  # the refusal a probe expects
            self.produced.append(
                Sample(ACCESS_PROBE, now - oldest.started, size, chat_id=oldest.chat_id,
                       token=oldest.token)
            )  # fmt: skip
            return
        if oldest.kind == SEND:
            self._sends_by_seq.pop(oldest.detail, None)
        sample = self._failure(oldest, now, error)
        sample.length = size
        self.produced.append(sample)

    def protocol_error(self, error: ProtocolViolation, size: int) -> Sample:
        """A frame the protocol core refused answers nothing the tool can name."""
        return Sample(UNATTRIBUTED, 0.0, size, error)

    # Time passing

    def expire(self, now: float) -> list[Sample]:
        """Timeout failures of everything awaited past its deadline, plus any
        samples other trackers produced here since the last call."""
        samples = self._take()
        limits = self.timeouts
        for queue, limit in (
            (self._sends, limits.ack),
            (self._reads, limits.read),
            (self._loads, limits.history),
        ):
            while queue and (queue[0].done or now - queue[0].started > limit):
                request = queue.pop(0)
                if request.done:
                    continue
                request.done = True
                if request.kind == SEND:
                    self._sends_by_seq.pop(request.detail, None)
                text = _PROBE_TIMEOUT if request.probe else _TIMEOUT_TEXT[request.kind]
                samples.append(self._failure(request, now, AwaitTimeout(text)))
        deliveries = self._deliveries
        while deliveries:
            expected = next(iter(deliveries.values()))
            if not expected.done and now <= expected.deadline:
                break
            del deliveries[next(iter(deliveries))]
            if not expected.done:
                samples.append(self._await_timeout(expected, now))
                sent = expected.request
                if sent is not None and sent.acked:
                    self.breaches.append(Breach(
                        "loss", expected.chat_id, (sent.message_id,),
                        (expected.sender, self.user_id),
                        f"acknowledged, not delivered within {self.timeouts.delivery} s",
                        seconds=now - expected.sent,
                    ))  # fmt: skip
        self._expire_gaps(now)
        for waits in (self._unread_waits, self._author_waits):
            while waits and (waits[0].done or now > waits[0].deadline):
                wait = waits.pop(0)
                if not wait.done:
                    wait.done = True
                    samples.append(self._await_timeout(wait, now))
        return samples

    def _expire_gaps(self, now: float) -> None:
        limit = self.timeouts.delivery
        for chat_id in list(self._gapped or ()):
            view = self.chats.get(chat_id)
            gaps = view.gaps if view is not None else None
            if not gaps:
                if self._gapped is not None:
                    self._gapped.discard(chat_id)
                continue
            overdue = sorted(i for i, noticed in gaps.items() if now - noticed > limit)
            if not overdue:
                continue
            assert view is not None
            for message_id in overdue:
                del gaps[message_id]
            self.breaches.append(Breach(
                "gap", chat_id, (overdue[0], overdue[-1]), (self.user_id, view.interlocutor_id),
                f"{len(overdue)} ids skipped and not delivered within {limit} s", seconds=limit,
            ))  # fmt: skip

    # Quiescence

    def summaries(self) -> list[ChatSummary]:
        """Each chat's last message and counts, for the comparison of both sides."""
        return [
            ChatSummary(v.chat_id, self.user_id, v.interlocutor_id, v.last_id, v.my_unread,
                        v.interlocutor_unread)
            for v in self.chats.values()
        ]  # fmt: skip

    def unread_breaches(self, wall: float) -> list[Breach]:
        """After quiescence: each count that is not what the messages and this
        connection's read pointer imply."""
        breaches = []
        for view in self.chats.values():
            expected = view.unread_through(view.last_id)
            if view.my_unread != expected:
                breaches.append(Breach(
                    "unread", view.chat_id, (view.last_id,), (self.user_id, view.interlocutor_id),
                    f"myUnreadCount is {view.my_unread}, the messages and read pointer "
                    f"imply {expected}", wall=wall,
                ))  # fmt: skip
        return breaches

    def take_breaches(self) -> list[Breach]:
        breaches, self.breaches = self.breaches, []
        return breaches

    @property
    def pending(self) -> int:
        """Requests still waiting for an answer."""
        return sum(1 for queue in (self._sends, self._reads, self._loads)
                   for request in queue if not request.done)  # fmt: skip

    def _await_timeout(self, wait: _Await, now: float) -> Sample:
        # From the send when it happened in this process; from when this
        # connection started waiting otherwise (the two clocks do not mix).
        if wait.local:
            waited = now - wait.sent
        else:
            waited = now - wait.deadline + _timeout_of(self.timeouts, wait.metric)
        return Sample(
            wait.metric,
            waited,
            error=AwaitTimeout(_TIMEOUT_TEXT[wait.metric]),
            chat_id=wait.chat_id,
        )


def _timeout_of(timeouts: Timeouts, metric: str) -> float:
    return {
        DELIVERY: timeouts.delivery,
        UNREAD_PROPAGATION: timeouts.unread,
        READ_PROPAGATION: timeouts.read,
    }[metric]
