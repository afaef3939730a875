"""The unread-count rules of frame matching: ``unread_propagation``, ``read_ack``
and ``read_propagation`` (see :mod:`chatload.tracking.matching` for the rules).

:class:`CountMatching` is the part of a connection's :class:`FrameMatching` that
reads ``chat_unread`` counts; it holds no state of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from chatload.protocol.models import ChatUnread, Message
from chatload.tracking.invariants import Breach
from chatload.tracking.ledger import Ledger, ReadNotice
from chatload.tracking.metrics import READ_ACK, READ_PROPAGATION, UNREAD_PROPAGATION, Sample
from chatload.tracking.pending import LOAD, READ, SEND, Await, PendingRequests, Timeouts
from chatload.tracking.view import ChatView, Count, observed, push

__all__ = ["CountMatching"]


class CountMatching:
    """The count rules, and the pieces every rule uses: deadlines, samples found
    while another connection called in, frames about chats that are not ours. The
    state is :class:`~chatload.tracking.matching.FrameMatching`'s (its slots), but
    for when the owner will look next, kept here with ``due``."""

    __slots__ = ("_on_deadline", "scheduled")

    user_id: int
    chats: dict[str, ChatView]
    breaches: list[Breach]
    scheduled: float  # when the owner will look next
    _on_deadline: Callable[[float], None] | None  # asks the owner to look then
    produced: list[Sample]
    ledger: Ledger
    timeouts: Timeouts
    requests: PendingRequests
    probed: set[str] | None
    _unread_waits: list[Await]
    _author_waits: list[Await]
    _opened_mono: float
    _opened_wall: float

    def due(self, deadline: float) -> None:
        """Something here times out at ``deadline``: ask the owner to call
        ``expire`` then, unless it already will as early."""
        if deadline < self.scheduled:
            self.scheduled = deadline
            if self._on_deadline is not None:
                self._on_deadline(deadline)

    def _produced_elsewhere(self, sample: Sample, now: float) -> None:
        """A sample found while another connection called in: out at the next look."""
        self.produced.append(sample)
        self.due(now)

    def _foreign(self, chat_id: str, messages: tuple[Message, ...], what: str, wall: float) -> None:
        """A frame about a chat this connection does not have."""
        if (self.probed is None or chat_id not in self.probed) and not any(
            self.user_id not in (m.fromUserId, m.toUserId) for m in messages
        ):
            return  # a chat created after initial_data, with us in it
        # A leak answers the probe that caused it: it is a breach, not also a timeout.
        answered = {"chat_updates": SEND, "chat_unread": READ, "history": LOAD}[what]
        for request in self.requests.queue(answered):
            if request.probe and not request.done and request.chat_id == chat_id:
                self.requests.finish(request)
                break
        self.breaches.append(
            Breach(
                "access",
                chat_id,
                tuple(m.messageId for m in messages),
                (self.user_id,),
                f"{what} of a chat user {self.user_id} is not in",
                wall=wall,
            )
        )

    def interlocutor_read(self, notice: ReadNotice, now: float) -> None:
        """The interlocutor read up to ``notice.up_to``: our ``interlocutorUnreadCount``
        should drop to the number of our messages above it."""
        view = self.chats.get(notice.chat_id)
        if view is None:
            return
        local = notice.mono is not None and notice.origin == self.ledger.origin
        if local and notice.mono is not None:
            sent = notice.mono
        else:
            sent = self.ledger.offsets.to_local(notice.origin, notice.wall)
        opened = self._opened_mono if local else self._opened_wall
        if sent < opened and view.opening_interlocutor_unread <= view.mine_above(notice.up_to):
            # The read may have landed before this connection's initial_data, which
            # already reflected it: there is no propagation left to time.
            return
        wait = Await(
            READ_PROPAGATION, notice.chat_id, notice.up_to, sent, local, now + self.timeouts.read
        )
        for count in view.their_counts or ():
            if (count.mono if local else count.wall) >= sent and count.value <= view.mine_above(
                notice.up_to
            ):
                self._produced_elsewhere(wait.sample(count.mono, count.wall), now)
                return
        push(view, "author_waits", wait)
        self._author_waits.append(wait)
        self.due(wait.deadline)

    def _expect_unread(
        self, view: ChatView, message_id: int, sent: float, local: bool, now: float
    ) -> None:
        wait = Await(
            UNREAD_PROPAGATION, view.chat_id, message_id, sent, local, now + self.timeouts.unread
        )
        needed = view.least_unread_through(message_id)
        counts = view.my_counts
        # Counts never drop between pointer moves: when the newest does not count
        # the message none does, which is the usual case (chat_unread comes after).
        if counts and counts[-1].value >= needed:
            for count in counts:
                if count.value >= needed and (count.mono if local else count.wall) >= sent:
                    self._produced_elsewhere(wait.sample(count.mono, count.wall), now)
                    return
        push(view, "unread_waits", wait)
        self._unread_waits.append(wait)
        self.due(wait.deadline)

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
        while reads and (reads[0].answered or mine <= view.interlocutor_above(reads[0].detail)):
            read = reads.pop(0)
            if read.answered:
                continue
            # A read of unknown outcome that this count reflects was applied late;
            # one a later read's count reflects is settled the same way.
            late = read.unknown
            self.requests.finish(read)
            read.unknown = False
            produced.append(
                Sample(
                    READ_ACK,
                    now - read.started,
                    size,
                    chat_id=view.chat_id,
                    request_id=read.request_id,
                    late=late,
                )
            )
            moved_to = max(moved_to, read.detail)
        if moved_to and (view.pointer is None or moved_to > view.pointer):
            self._pointer_moved(view, moved_to)
        waits = view.unread_waits
        while waits and (waits[0].done or mine >= view.least_unread_through(waits[0].message_id)):
            wait = waits.pop(0)
            if not wait.done:
                wait.done = True
                produced.append(wait.sample(now, wall, size))
        activity = view.active()
        activity.my_counts = observed(activity.my_counts, Count(mine, now, wall))
        authors = view.author_waits
        while authors and (authors[0].done or theirs <= view.mine_above(authors[0].message_id)):
            wait = authors.pop(0)
            if not wait.done:
                wait.done = True
                produced.append(wait.sample(now, wall, size))
        activity.their_counts = observed(activity.their_counts, Count(theirs, now, wall))
        if theirs == 0 and not authors:
            # The interlocutor has read all we wrote: future reads only concern
            # messages still to come, so the ids known so far are not needed.
            view.forget_mine()

    @staticmethod
    def _pointer_moved(view: ChatView, pointer: int) -> None:
        view.read_up_to(pointer)
        view.active().my_counts = None
        # Messages at or below the pointer are read: no count will include them.
        for wait in view.unread_waits or ():
            if wait.message_id <= pointer:
                wait.done = True
