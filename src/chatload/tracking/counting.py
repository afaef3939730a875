"""The rules of ``chat_unread``: ``unread_propagation``, ``read_ack`` and
``read_propagation``.

- ``unread_propagation``: the interlocutor's first ``chat_unread`` whose
  ``myUnreadCount`` counts the message. Between read-pointer moves the count only
  grows, one per interlocutor message, so a count counts message M when it is at
  least the number of unread interlocutor messages up to M. Recent counts are
  kept, so it does not matter whether the server sends ``chat_unread`` before or
  after ``chat_updates``.
- ``read_ack``: the reader's first ``chat_unread`` whose ``myUnreadCount`` is no
  more than the interlocutor messages known above the read.
- ``read_propagation``: the author's first ``chat_unread`` whose
  ``interlocutorUnreadCount`` is no more than the author's messages above the read.
  The author learns of the read from the ledger (same process) or a side channel
  (other processes), and looks back at its recent counts, since the side channel
  may be slower than the server.

A count awaited past its timeout is a timeout failure; it stays awaited, and
when it comes it is a late answer timed from the same start.
"""

from __future__ import annotations

from chatload.protocol.models import ChatUnread
from chatload.tracking.ledger import ReadNotice
from chatload.tracking.metrics import READ_PROPAGATION, UNREAD_PROPAGATION, Sample
from chatload.tracking.pending import Await, await_timeout, next_await_deadline
from chatload.tracking.state import ConnectionState
from chatload.tracking.view import ChatView, Count, observed, push

__all__ = ["Counts"]


class Counts:
    """The counts one connection awaits, in deadline order (each also in its
    chat's queue, in the order counts can answer them)."""

    __slots__ = ("author_waits", "state", "unread_waits")

    def __init__(self, state: ConnectionState) -> None:
        self.state = state
        self.unread_waits: list[Await] = []  # unread_propagation
        self.author_waits: list[Await] = []  # read_propagation

    def interlocutor_read(self, notice: ReadNotice, now: float) -> None:
        """The interlocutor read up to ``notice.up_to``: our ``interlocutorUnreadCount``
        should drop to the number of our messages above it."""
        state = self.state
        view = state.chats.get(notice.chat_id)
        if view is None:
            return
        local = notice.mono is not None and notice.origin == state.ledger.origin
        if local and notice.mono is not None:
            sent = notice.mono
        else:
            sent = state.ledger.offsets.to_local(notice.origin, notice.wall)
        opened = state.opened_mono if local else state.opened_wall
        if sent < opened and view.opening_interlocutor_unread <= view.mine_above(notice.up_to):
            # The read may have landed before this connection's initial_data, which
            # already reflected it: there is no propagation left to time.
            return
        wait = Await(
            READ_PROPAGATION, notice.chat_id, notice.up_to, sent, local, now + state.timeouts.read
        )
        for count in view.their_counts or ():
            if (count.mono if local else count.wall) >= sent and count.value <= view.mine_above(
                notice.up_to
            ):
                state.produced_elsewhere(wait.sample(count.mono, count.wall), now)
                return
        push(view, "author_waits", wait)
        self.author_waits.append(wait)
        state.due(wait.deadline)

    def expect_unread(
        self, view: ChatView, message_id: int, sent: float, local: bool, now: float
    ) -> None:
        """Message ``message_id``, sent at ``sent``, was delivered: a count must count it."""
        state = self.state
        wait = Await(
            UNREAD_PROPAGATION, view.chat_id, message_id, sent, local, now + state.timeouts.unread
        )
        needed = view.least_unread_through(message_id)
        counts = view.my_counts
        # Counts never drop between pointer moves: when the newest does not count
        # the message none does, which is the usual case (chat_unread comes after).
        if counts and counts[-1].value >= needed:
            for count in counts:
                if count.value >= needed and (count.mono if local else count.wall) >= sent:
                    state.produced_elsewhere(wait.sample(count.mono, count.wall), now)
                    return
        push(view, "unread_waits", wait)
        self.unread_waits.append(wait)
        state.due(wait.deadline)

    def chat_unread(self, event: ChatUnread, size: int, now: float, wall: float) -> None:
        state = self.state
        view = state.view_of(event.chatId, (), "chat_unread", wall)
        if view is None:
            return
        mine, theirs = event.myUnreadCount, event.interlocutorUnreadCount
        view.my_unread, view.interlocutor_unread = mine, theirs
        produced = state.produced
        moved_to = 0
        reads = view.reads
        while reads and (reads[0].answered or mine <= view.interlocutor_above(reads[0].detail)):
            read = reads.pop(0)
            if read.answered:
                continue
            # A read of unknown outcome that this count reflects was applied late;
            # one a later read's count reflects is settled the same way.
            produced.append(state.requests.answer(read, now, size))
            moved_to = max(moved_to, read.detail)
        activity = view.active()
        elsewhere = activity.read_elsewhere
        if elsewhere and mine <= view.interlocutor_above(elsewhere):
            # An earlier connection's read applied late: the pointer moved, no answer here.
            activity.read_elsewhere = 0
            moved_to = max(moved_to, elsewhere)
        if moved_to and (view.pointer is None or moved_to > view.pointer):
            _pointer_moved(view, moved_to)
        waits = view.unread_waits
        while waits and (waits[0].done or mine >= view.least_unread_through(waits[0].message_id)):
            wait = waits.pop(0)
            if not wait.done:
                wait.done = True
                produced.append(wait.sample(now, wall, size))
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

    def expire(self, now: float) -> list[Sample]:
        """Timeout failures of the counts awaited past their deadline."""
        samples = []
        for waits in (self.unread_waits, self.author_waits):
            while waits and (waits[0].done or now > waits[0].deadline):
                wait = waits.pop(0)
                if not wait.done:
                    # It stays in its chat's queue: a count that comes later is late.
                    wait.overdue = True
                    samples.append(await_timeout(wait, now, self.state.timeouts))
        return samples

    def next_deadline(self) -> float:
        return next_await_deadline(self.unread_waits, self.author_waits)

    @staticmethod
    def owed(view: ChatView) -> int:
        """Counts ``view``'s chat still awaits, timed out or not."""
        return sum(
            1 for waits in (view.unread_waits, view.author_waits) for w in waits or () if not w.done
        )


def _pointer_moved(view: ChatView, pointer: int) -> None:
    view.read_up_to(pointer)
    view.active().my_counts = None
    # Messages at or below the pointer are read: no count will include them.
    for wait in view.unread_waits or ():
        if wait.message_id <= pointer:
            wait.done = True
