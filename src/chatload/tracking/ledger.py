"""What one generator process knows across its connections.

The ledger maps each identity connected in this process to its tracker, so that a
sender's tracker can tell the interlocutor's tracker, when it is local, what to
expect (a delivery, an unread update) and time it on the monotonic clock. Reads
are the one event whose timing cannot travel in the payload, so read notices are
also queued in ``outbox`` for a side channel to other processes (Locust messages
in distributed runs), which hand them back with :meth:`receive_remote_read`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatload.tracking.marker import MarkerFactory

if TYPE_CHECKING:
    from chatload.tracking.tracker import ConnectionTracker

__all__ = ["Ledger", "ReadNotice"]


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


class Ledger:
    def __init__(self, markers: MarkerFactory | None = None, *, share_reads: bool = False) -> None:
        self.markers = markers or MarkerFactory()
        self.share_reads = share_reads
        self.outbox: list[ReadNotice] = []
        self._trackers: dict[int, ConnectionTracker] = {}

    @property
    def origin(self) -> str:
        return self.markers.origin

    def attach(self, tracker: ConnectionTracker) -> None:
        self._trackers[tracker.user_id] = tracker

    def detach(self, tracker: ConnectionTracker) -> None:
        if self._trackers.get(tracker.user_id) is tracker:
            del self._trackers[tracker.user_id]

    def tracker_of(self, user_id: int) -> ConnectionTracker | None:
        return self._trackers.get(user_id)

    def trackers(self) -> Iterator[ConnectionTracker]:
        return iter(list(self._trackers.values()))

    def foreign_chat(self, user_id: int, pick: Callable[[list[str]], str]) -> str | None:
        """A chat of another connection of this process that ``user_id`` is not in."""
        mine = self._trackers.get(user_id)
        own = set(mine.chats) if mine is not None else set()
        candidates = [
            chat_id for tracker in self._trackers.values() if tracker.user_id != user_id
            for chat_id in tracker.chats if chat_id not in own
        ]  # fmt: skip
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
