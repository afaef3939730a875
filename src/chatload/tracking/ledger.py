"""What one generator process knows across its connections.

The ledger maps each identity connected in this process to its tracker, so that a
sender's tracker can tell the interlocutor's tracker, when it is local, what to
expect (a delivery, an unread update) and time it on the monotonic clock. Reads
are the one event whose timing cannot travel in the payload, so read notices are
also queued in ``outbox`` for a side channel to other processes (Locust messages
in distributed runs), which hand them back with :meth:`receive_remote_read`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chatload.tracking.clocks import Offsets
from chatload.tracking.marker import MarkerFactory

__all__ = ["Ledger", "Participant", "ReadNotice"]


@dataclass(frozen=True, slots=True)
class ReadNotice:
    """``reader_id`` wrote ``read_messages`` up to ``up_to`` in ``chat_id`` at ``wall``;
    ``author_id`` is the interlocutor whose ``interlocutorUnreadCount`` should drop."""

    chat_id: str
    reader_id: int
    author_id: int
    up_to: int
    wall: float
    origin: str
    mono: float | None = None

    def to_wire(self) -> list[object]:
        return [self.chat_id, self.reader_id, self.author_id, self.up_to, self.wall, self.origin]

    @classmethod
    def from_wire(cls, item: list[object]) -> ReadNotice:
        chat_id, reader_id, author_id, up_to, wall, origin = item
        if not (
            isinstance(chat_id, str)
            and isinstance(reader_id, int)
            and isinstance(author_id, int)
            and isinstance(up_to, int)
            and isinstance(wall, int | float)
            and isinstance(origin, str)
        ):
            raise ValueError(f"not a read notice: {item!r}")
        return cls(chat_id, reader_id, author_id, up_to, float(wall), origin)


class Participant(Protocol):
    """What the ledger needs of a connection's tracker (see ``tracking.tracker``)."""

    @property
    def user_id(self) -> int: ...

    @property
    def chats(self) -> Mapping[str, Any]: ...

    def interlocutor_read(self, notice: ReadNotice, now: float) -> None: ...

    def expect_delivery(
        self, chat_id: str, seq: int, now: float, request: Any = None, sender: int = 0
    ) -> None: ...

    def acknowledged_elsewhere(
        self, chat_id: str, message_id: int, sent: float, now: float
    ) -> None: ...


class Ledger:
    def __init__(self, markers: MarkerFactory | None = None, *, share_reads: bool = False) -> None:
        self.markers = markers or MarkerFactory()
        self.share_reads = share_reads
        # Wall clocks of the other processes, to time what crosses between them.
        self.offsets = Offsets()
        self.offsets.origin = self.markers.origin
        self.outbox: list[ReadNotice] = []
        self._trackers: dict[int, Participant] = {}
        # Requests sent by this process's connections and not answered yet: the
        # quiescence phase waits for this to reach zero.
        self.pending = 0
        # By person, by chat: the pointer of a read a closed connection sent and never
        # saw answered. A slow server may apply it after the person's next connection
        # opened; that connection takes it as a read of unknown outcome.
        self._reads_in_doubt: dict[int, dict[str, int]] = {}

    @property
    def origin(self) -> str:
        return self.markers.origin

    def attach(self, tracker: Participant) -> None:
        self._trackers[tracker.user_id] = tracker

    def detach(self, tracker: Participant) -> None:
        if self._trackers.get(tracker.user_id) is tracker:
            del self._trackers[tracker.user_id]

    def doubt_reads(self, user_id: int, pointers: dict[str, int]) -> None:
        """``user_id``'s connection closed with these reads unanswered (chat -> pointer)."""
        if pointers:
            self._reads_in_doubt[user_id] = pointers
        else:
            self._reads_in_doubt.pop(user_id, None)

    def take_reads_in_doubt(self, user_id: int) -> dict[str, int]:
        """The reads in doubt for ``user_id``'s new connection (it keeps them from now)."""
        return self._reads_in_doubt.pop(user_id, {})

    def tracker_of(self, user_id: int) -> Participant | None:
        return self._trackers.get(user_id)

    def foreign_chat(self, user_id: int, pick: Callable[[list[str]], str]) -> str | None:
        """A chat of another connection of this process that ``user_id`` is not in."""
        mine = self._trackers.get(user_id)
        own = set(mine.chats) if mine is not None else set()
        candidates = [
            chat_id
            for tracker in self._trackers.values()
            if tracker.user_id != user_id
            for chat_id in tracker.chats
            if chat_id not in own
        ]
        return pick(candidates) if candidates else None

    def publish_read(self, notice: ReadNotice, now: float) -> None:
        """A local reader wrote ``read_messages``; its author learns of it here or,
        when not in this process, through the side channel."""
        author = self._trackers.get(notice.author_id)
        if author is not None:
            author.interlocutor_read(notice, now)
        elif self.share_reads:
            self.outbox.append(notice)

    def receive_remote_read(self, notice: ReadNotice, now: float) -> None:
        """A read notice from another process, through the side channel."""
        if notice.origin == self.origin:
            return
        author = self._trackers.get(notice.author_id)
        if author is not None:
            author.interlocutor_read(notice, now)

    def drain_outbox(self) -> list[ReadNotice]:
        notices, self.outbox = self.outbox, []
        return notices
