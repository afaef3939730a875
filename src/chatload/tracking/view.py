"""One chat as one connection knows it: what personas read, and the unread model.

A :class:`ChatView` holds the chat's identity (event, owner, interlocutor), the
last message seen, the counts the server last sent, and the model the checks
compare those counts with: the ids each side wrote above the read pointers.
Everything that only an active chat needs (the queues of pending requests and
awaited frames, the recent counts, the digests of live messages) is created on
first use, because thousands of idle users each hold a few chats.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from chatload.protocol.models import Message

if TYPE_CHECKING:
    from chatload.tracking.pending import Await, Request

__all__ = ["ChatView", "Count", "digest", "observed", "push"]

_OBSERVATIONS: Final = 16  # recent chat_unread counts kept per chat for late matches
_MAX_IDS: Final = 20_000  # known ids kept per chat and author: a soak must not grow
_RECENT: Final = 64  # live messages per chat kept to check history pages against
_ID_BITS: Final = 32  # a kept entry is (digest << 32) | (id mod 2**32)


@dataclass(slots=True)
class Count:
    """A ``chat_unread`` count and when it arrived (monotonic and wall clock)."""

    value: int
    mono: float
    wall: float


def observed(counts: list[Count] | None, count: Count) -> list[Count]:
    """The recent counts with ``count`` added, the oldest dropped past the limit."""
    if counts is None:
        return [count]
    counts.append(count)
    if len(counts) > _OBSERVATIONS:
        del counts[0]
    return counts


def digest(message: Message) -> int:
    """Author and text in one signed 32-bit number: enough to tell a changed message."""
    return (hash((message.fromUserId, message.text)) & 0xFFFF_FFFF) - 0x8000_0000


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
    # chats, and an empty list costs more memory than a slot holding None.
    unacked: list[Request] | None = None  # markers off only
    reads: list[Request] | None = None
    histories: list[Request] | None = None
    unread_waits: list[Await] | None = None
    author_waits: list[Await] | None = None
    my_counts: list[Count] | None = None
    their_counts: list[Count] | None = None
    gaps: dict[int, float] | None = None  # ids skipped live -> when noticed (monotonic)
    last_digest: int = 0  # digest of the message last_id, for the reconnect check
    # The newest messages delivered live, slot id % _RECENT, as (digest << 32) | id;
    # created on the first live message (an idle user keeps none).
    recent: array[int] | None = None

    def note(self, message: Message) -> None:
        """Keep a live message's digest, to check history pages against."""
        recent = self.recent
        if recent is None:
            recent = self.recent = array("q", bytes(8 * _RECENT))
        message_id = message.messageId
        recent[message_id % _RECENT] = (digest(message) << _ID_BITS) | (message_id & 0xFFFF_FFFF)

    def kept(self, message_id: int) -> int | None:
        """The digest of a message delivered live or seen last, when still kept."""
        if message_id == self.last_id and self.last_digest:
            return self.last_digest
        recent = self.recent
        if recent is None:
            return None
        entry = recent[message_id % _RECENT]
        if entry and entry & 0xFFFF_FFFF == message_id & 0xFFFF_FFFF:
            return entry >> _ID_BITS
        return None

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


def push(view: ChatView, queue: str, item: Request | Await) -> None:
    """Append to one of the view's queues, creating it on first use."""
    items = getattr(view, queue)
    if items is None:
        setattr(view, queue, [item])
    else:
        items.append(item)
