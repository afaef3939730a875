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
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from chatload.protocol.models import Message

if TYPE_CHECKING:
    from chatload.tracking.pending import Await, Request

__all__ = ["Activity", "Chat", "ChatView", "Count", "digest", "observed", "push"]

_OBSERVATIONS: Final = 16  # recent chat_unread counts kept per chat for late matches
_MAX_IDS: Final = 20_000  # known ids kept per chat and author: a soak must not grow
_RECENT: Final = 64  # live messages per chat kept to check history pages against
_RECENT_FIRST: Final = 4  # ... in a ring that starts this small and doubles up to _RECENT
_ID_BITS: Final = 32  # a kept entry is (digest << 32) | (id mod 2**32)


class Chat(Protocol):
    """What a persona reads of one of its chats: read-only, as the tracker keeps
    the chat's state as the frames come (a :class:`ChatView` is one)."""

    @property
    def chat_id(self) -> str: ...
    @property
    def event_id(self) -> int: ...
    @property
    def owner_id(self) -> int: ...
    @property
    def interlocutor_id(self) -> int: ...
    @property
    def last_id(self) -> int:
        """The last message seen."""

    @property
    def last_from(self) -> int:
        """Who wrote it."""

    @property
    def my_unread(self) -> int: ...
    @property
    def interlocutor_unread(self) -> int: ...
    @property
    def oldest_loaded(self) -> int:
        """The oldest message paged back to."""


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


def _above(mask: int, first: int, message_id: int) -> int:
    """How many ids of a page mask (bit i: id ``first + i``) are above ``message_id``."""
    shift = message_id - first + 1
    return (mask >> shift).bit_count() if shift > 0 else mask.bit_count()


def _live_above(ids: list[int] | None, message_id: int) -> int:
    return len(ids) - bisect_right(ids, message_id) if ids else 0


@dataclass(slots=True)
class Activity:
    """What only a chat with traffic needs: created on the chat's first request or
    live message, so that an idle chat costs one slot for all of it."""

    # Ids of live messages by author, ascending (see ``ChatView.remember``).
    live_theirs: list[int] | None = None
    live_mine: list[int] | None = None
    unacked: list[Request] | None = None  # markers off only
    reads: list[Request] | None = None
    histories: list[Request] | None = None
    unread_waits: list[Await] | None = None
    author_waits: list[Await] | None = None
    my_counts: list[Count] | None = None
    their_counts: list[Count] | None = None
    gaps: dict[int, float] | None = None  # ids skipped live -> when noticed (monotonic)
    # The newest messages delivered live, slot id % len, as (digest << 32) | id.
    recent: array[int] | None = None
    # The pointer of a read an earlier connection of this person sent and never saw
    # answered (``Ledger.reads_in_doubt``): the server may apply it still.
    read_elsewhere: int = 0


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
    # Who wrote what. The page initial_data gave is two bit masks (bit i: message
    # page_first + i, by the interlocutor or by me); messages that came live are
    # id lists in the activity. A page of large ids as Python ints would cost 36
    # bytes an id; a mask costs a bit.
    page_first: int = 0
    page_theirs: int = 0
    page_mine: int = 0
    last_digest: int = 0  # digest of the message last_id, for the reconnect check
    # Thousands of idle users each hold a few chats: everything traffic needs is
    # created with the chat's first traffic.
    activity: Activity | None = None

    def active(self) -> Activity:
        """The chat's activity, created on first need."""
        activity = self.activity
        if activity is None:
            activity = self.activity = Activity()
        return activity

    @property
    def live_theirs(self) -> list[int] | None:
        return self.activity.live_theirs if self.activity is not None else None

    @property
    def live_mine(self) -> list[int] | None:
        return self.activity.live_mine if self.activity is not None else None

    @property
    def unacked(self) -> list[Request] | None:
        return self.activity.unacked if self.activity is not None else None

    @property
    def reads(self) -> list[Request] | None:
        return self.activity.reads if self.activity is not None else None

    @property
    def histories(self) -> list[Request] | None:
        return self.activity.histories if self.activity is not None else None

    @property
    def unread_waits(self) -> list[Await] | None:
        return self.activity.unread_waits if self.activity is not None else None

    @property
    def author_waits(self) -> list[Await] | None:
        return self.activity.author_waits if self.activity is not None else None

    @property
    def my_counts(self) -> list[Count] | None:
        return self.activity.my_counts if self.activity is not None else None

    @property
    def their_counts(self) -> list[Count] | None:
        return self.activity.their_counts if self.activity is not None else None

    @property
    def gaps(self) -> dict[int, float] | None:
        return self.activity.gaps if self.activity is not None else None

    @property
    def recent(self) -> array[int] | None:
        return self.activity.recent if self.activity is not None else None

    @property
    def maybe_pointer(self) -> int | None:
        """The read pointer a read of unknown outcome (timed out) would have set: the
        model accepts it as well as the known one until a count settles it. So does
        a read this person sent on an earlier connection, never answered there."""
        activity = self.activity
        if activity is None:
            return None
        elsewhere = activity.read_elsewhere or None
        reads = activity.reads
        if not reads:
            return elsewhere
        unknown = max((read.detail for read in reads if read.unknown), default=None)
        return unknown if elsewhere is None else max(unknown or 0, elsewhere)

    def reads_in_doubt(self) -> int:
        """The highest pointer a read not answered on this connection may still set
        (0: none), for the person's next connection."""
        activity = self.activity
        if activity is None:
            return 0
        sent = max((read.detail for read in activity.reads or () if not read.answered), default=0)
        highest = max(sent, activity.read_elsewhere)
        return highest if self.pointer is None or highest > self.pointer else 0

    def open_page(self, messages: tuple[Message, ...], me: int) -> None:
        """The newest page, as initial_data gives it: who wrote each message."""
        if not messages:
            return
        first = self.page_first = min(message.messageId for message in messages)
        theirs = mine = 0
        last = messages[0]
        for message in messages:
            bit = 1 << (message.messageId - first)
            if message.fromUserId == me:
                mine |= bit
            else:
                theirs |= bit
            if message.messageId > last.messageId:
                last = message
        self.page_theirs, self.page_mine = theirs, mine
        if last.messageId > self.last_id:
            self.last_id, self.last_from = last.messageId, last.fromUserId
            self.last_digest = digest(last)

    def remember(self, message: Message, me: int) -> None:
        """Record a live message under its author; it may become the last one."""
        message_id = message.messageId
        activity = self.active()
        if message.fromUserId == me:
            ids = activity.live_mine
            if ids is None:
                ids = activity.live_mine = []
        else:
            ids = activity.live_theirs
            if ids is None:
                ids = activity.live_theirs = []
        if not ids or message_id > ids[-1]:
            ids.append(message_id)
            if len(ids) > _MAX_IDS:
                del ids[: len(ids) - _MAX_IDS]
        elif self.pointer is None or message_id > self.pointer:
            # A skipped id that came late (a reorder) still counts in the model.
            at = bisect_left(ids, message_id)
            if at == len(ids) or ids[at] != message_id:
                ids.insert(at, message_id)
        if message_id > self.last_id:
            self.last_id = message_id
            self.last_from = message.fromUserId
            self.last_digest = digest(message)

    @property
    def interlocutor_ids(self) -> list[int]:
        """Every interlocutor message id known above the read pointer, ascending."""
        return _ids(self.page_theirs, self.page_first) + (self.live_theirs or [])

    @property
    def my_ids(self) -> list[int]:
        """Every id of mine the interlocutor may not have read yet, ascending."""
        return _ids(self.page_mine, self.page_first) + (self.live_mine or [])

    def unread_through(self, message_id: int, *, read_to: int | None = None) -> int:
        """How many interlocutor messages up to ``message_id`` are unread, by the model
        (``read_to``: assuming our read pointer were there, when it is higher)."""
        if read_to is not None and (self.pointer is None or read_to > self.pointer):
            return max(0, self.interlocutor_above(read_to) - self.interlocutor_above(message_id))
        live = self.live_theirs
        if self.pointer is None:
            # Page ids are at or below the anchor, live ids above it: the count at
            # the anchor, plus live ids up to the message, less page ids above it.
            return (
                self.anchor_count
                + _live_above(live, self.anchor_id)
                - _live_above(live, message_id)
                - _above(self.page_theirs, self.page_first, message_id)
            )
        return max(0, self.interlocutor_above(self.pointer) - self.interlocutor_above(message_id))

    def least_unread_through(self, message_id: int) -> int:
        """The fewest unread up to ``message_id`` the server may count: a read of
        unknown outcome may have been applied."""
        maybe = self.maybe_pointer
        through = self.unread_through(message_id)
        return (
            through
            if maybe is None
            else min(through, self.unread_through(message_id, read_to=maybe))
        )

    def interlocutor_above(self, message_id: int) -> int:
        return _above(self.page_theirs, self.page_first, message_id) + _live_above(
            self.live_theirs, message_id
        )

    def mine_above(self, message_id: int) -> int:
        return _above(self.page_mine, self.page_first, message_id) + _live_above(
            self.live_mine, message_id
        )

    def read_up_to(self, pointer: int) -> None:
        """Our read pointer moved: interlocutor messages at or below it are read."""
        self.pointer = pointer
        keep = pointer - self.page_first + 1
        if keep > 0:
            self.page_theirs = self.page_theirs >> keep << keep
        live = self.live_theirs
        if live:
            del live[: bisect_right(live, pointer)]

    def forget_mine(self) -> None:
        """The interlocutor has read all we wrote: future reads only concern messages
        still to come, so the ids known so far are not needed."""
        self.page_mine = 0
        live = self.live_mine
        if live:
            live.clear()

    def note(self, message: Message) -> None:
        """Keep a live message's digest, to check history pages against."""
        activity = self.active()
        recent = activity.recent
        message_id = message.messageId
        if recent is None:
            recent = activity.recent = array("q", bytes(8 * _RECENT_FIRST))
        elif len(recent) < _RECENT and recent[message_id % len(recent)]:
            # The slot holds an older message: grow rather than forget it so soon.
            recent = activity.recent = _grown(recent)
        entry = (digest(message) << _ID_BITS) | (message_id & 0xFFFF_FFFF)
        recent[message_id % len(recent)] = entry

    def kept(self, message_id: int) -> int | None:
        """The digest of a message delivered live or seen last, when still kept."""
        if message_id == self.last_id and self.last_digest:
            return self.last_digest
        recent = self.recent
        if recent is None:
            return None
        entry = recent[message_id % len(recent)]
        if entry and entry & 0xFFFF_FFFF == message_id & 0xFFFF_FFFF:
            return entry >> _ID_BITS
        return None


def _grown(recent: array[int]) -> array[int]:
    """The ring of kept digests at twice the size, every entry in its new slot."""
    grown = array("q", bytes(16 * len(recent)))
    for entry in recent:
        if entry:
            grown[(entry & 0xFFFF_FFFF) % len(grown)] = entry
    return grown


def _ids(mask: int, first: int) -> list[int]:
    return [first + bit for bit in range(mask.bit_length()) if mask >> bit & 1]


def push(view: ChatView, queue: str, item: Request | Await) -> None:
    """Append to one of the chat's queues, creating it on first use."""
    activity = view.active()
    items = getattr(activity, queue)
    if items is None:
        setattr(activity, queue, [item])
    else:
        items.append(item)
