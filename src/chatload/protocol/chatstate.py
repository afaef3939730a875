"""Per-chat state: who wrote which message, read pointers, unread counts.

One :class:`ChatState` holds what PROTOCOL.md's unread arithmetic needs for one
chat and both its participants. The reference server keeps one per chat as its
truth (``server.world``, loaded by ``server.store``). The load tool does not use it:
its checks keep a lighter view per connection (``tracking.view.ChatView``), since a
generator holds tens of thousands of chats. No I/O, no clocks.

Unread counts, from a participant's point of view:

- ``my``: messages the interlocutor wrote with ``messageId`` > my read pointer;
- ``interlocutor``: messages I wrote with ``messageId`` > the interlocutor's pointer.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable
from itertools import compress
from typing import NamedTuple

__all__ = ["ChatState", "UnreadCounts"]

_FLIP = bytes.maketrans(b"\x00\x01", b"\x01\x00")


class UnreadCounts(NamedTuple):
    my: int
    interlocutor: int


class ChatState:
    __slots__ = ("_authored", "_read", "chat_id", "last_message_id", "owner_id", "requester_id")

    def __init__(self, chat_id: str, owner_id: int, requester_id: int) -> None:
        if owner_id == requester_id:
            raise ValueError(f"chat {chat_id}: owner and requester must differ ({owner_id})")
        self.chat_id = chat_id
        self.owner_id = owner_id
        self.requester_id = requester_id
        self.last_message_id = 0
        # Ids each participant wrote, ascending: unread counts are two bisections.
        self._authored: dict[int, array[int]] = {owner_id: array("q"), requester_id: array("q")}
        self._read: dict[int, int] = {owner_id: 0, requester_id: 0}

    @classmethod
    def restore(
        cls,
        chat_id: str,
        owner_id: int,
        requester_id: int,
        authors: Iterable[tuple[int, int]],
        read_pointers: tuple[int, int] = (0, 0),
        *,
        opening: bytes = b"",
    ) -> ChatState:
        """Rebuild a chat from ``(messageId, fromUserId)`` pairs in id order and
        the ``(owner, requester)`` read pointers. ``opening``, when given, says who
        wrote the first messages, one byte each from id 1: 1 the owner, 0 the
        requester; ``authors`` then go on from the message after it."""
        state = cls(chat_id, owner_id, requester_id)
        if opening.translate(None, b"\x00\x01"):
            raise ValueError(f"chat {chat_id}: the opening's authors must be 0 or 1 bytes")
        if opening:
            # Bulk, at C speed: a big provisioned dataset has millions of these.
            ids = range(1, len(opening) + 1)
            state._authored[owner_id].extend(compress(ids, opening))
            state._authored[requester_id].extend(compress(ids, opening.translate(_FLIP)))
            state.last_message_id = len(opening)
        for message_id, from_user_id in authors:
            state.add_message(message_id, from_user_id)
        state.mark_read(owner_id, read_pointers[0])
        state.mark_read(requester_id, read_pointers[1])
        return state

    @property
    def participants(self) -> tuple[int, int]:
        return self.owner_id, self.requester_id

    def is_participant(self, user_id: int) -> bool:
        return user_id in self._read

    def interlocutor(self, user_id: int) -> int:
        if user_id == self.owner_id:
            return self.requester_id
        if user_id == self.requester_id:
            return self.owner_id
        raise ValueError(f"user {user_id} is not in chat {self.chat_id}")

    def add_message(self, message_id: int, from_user_id: int) -> None:
        """Record the next message; ids must go 1, 2, 3, ... with no gap."""
        if message_id != self.last_message_id + 1:
            raise ValueError(
                f"chat {self.chat_id}: message {message_id} does not follow {self.last_message_id}"
            )
        authored = self._authored.get(from_user_id)
        if authored is None:
            raise ValueError(f"user {from_user_id} is not in chat {self.chat_id}")
        authored.append(message_id)
        self.last_message_id = message_id

    def written_by(self, user_id: int) -> int:
        """How many messages ``user_id`` wrote in this chat."""
        return len(self._authored[user_id])

    def read_pointer(self, user_id: int) -> int:
        return self._read[user_id]

    def mark_read(self, user_id: int, up_to: int) -> bool:
        """Move ``user_id``'s pointer up to ``up_to`` (never down); True if it moved."""
        if up_to > self.last_message_id:
            raise ValueError(
                f"chat {self.chat_id}: cannot read up to {up_to}, "
                f"the last message is {self.last_message_id}"
            )
        if user_id not in self._read:
            raise ValueError(f"user {user_id} is not in chat {self.chat_id}")
        if up_to <= self._read[user_id]:
            return False
        self._read[user_id] = up_to
        return True

    def unread(self, user_id: int) -> UnreadCounts:
        """Both unread counts as ``user_id`` sees them."""
        other = self.interlocutor(user_id)
        theirs = self._authored[other]
        mine = self._authored[user_id]
        return UnreadCounts(
            my=len(theirs) - bisect_right(theirs, self._read[user_id]),
            interlocutor=len(mine) - bisect_right(mine, self._read[other]),
        )
