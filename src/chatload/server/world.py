"""The reference server's in-memory world: users, events, chats and their state.

Everything a connection needs to be answered without touching the disk lives
here: tokens, who owns what, each chat's :class:`ChatState` and, for recently
used chats, the newest page of messages in wire form. Payload pieces that never
change (a user as the interlocutor, an event's details) are built once.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from chatload.protocol.chatstate import ChatState

__all__ = ["ChatRecord", "EventRecord", "UserRecord", "WireMessage", "World"]

WireMessage: TypeAlias = dict[str, Any]


@dataclass(slots=True)
class UserRecord:
    id: int
    name: str
    image_uuid: str
    wire: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.wire = {"id": self.id, "name": self.name, "imageUUID": self.image_uuid}


@dataclass(slots=True)
class EventRecord:
    id: int
    owner_id: int
    name: str
    icons: tuple[str, ...]
    location: str
    date_from_s: int
    date_to_s: int
    chats: list[ChatRecord] = field(default_factory=list)
    details_wire: dict[str, Any] = field(init=False)
    summary_wire: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.summary_wire = {"id": self.id, "name": self.name, "iconsUUIDs": list(self.icons)}
        self.details_wire = {
            **self.summary_wire,
            "location": self.location,
            "dateFromS": self.date_from_s,
            "dateToS": self.date_to_s,
        }


@dataclass(slots=True, eq=False)
class ChatRecord:
    key: int
    chat_id: str
    event: EventRecord
    requester_id: int
    is_request_sended: bool
    is_access_granted: bool
    state: ChatState
    # The highest id handed out; ids above state.last_message_id are being committed.
    reserved_last_id: int = 0
    # The newest page of messages, contiguous and ending at state.last_message_id,
    # or None when not cached.
    page: deque[WireMessage] | None = None
    updates_head: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.reserved_last_id = self.state.last_message_id
        self.updates_head = {
            "chatId": self.chat_id,
            "event": self.event.summary_wire,
            "eventOwnerId": self.event.owner_id,
            "isRequestSended": self.is_request_sended,
        }

    @property
    def owner_id(self) -> int:
        return self.event.owner_id


class World:
    """All users, events and chats, with the indexes the server looks things up by."""

    def __init__(self, page_size: int, cached_chats: int) -> None:
        self.page_size = page_size
        self.users: dict[int, UserRecord] = {}
        self.tokens: dict[str, int] = {}
        self.events: dict[int, EventRecord] = {}
        self.chats: dict[str, ChatRecord] = {}
        self.owned_events: dict[int, list[EventRecord]] = {}
        self.requested_chats: dict[int, list[ChatRecord]] = {}
        self._cached_chats = cached_chats
        self._page_lru: OrderedDict[int, ChatRecord] = OrderedDict()

    def add_user(self, user: UserRecord, token: str) -> None:
        self.users[user.id] = user
        self.tokens[token] = user.id

    def add_event(self, event: EventRecord) -> None:
        self.events[event.id] = event
        self.owned_events.setdefault(event.owner_id, []).append(event)

    def add_chat(self, chat: ChatRecord) -> None:
        self.chats[chat.chat_id] = chat
        chat.event.chats.append(chat)
        self.requested_chats.setdefault(chat.requester_id, []).append(chat)

    def newest_page(
        self, chat: ChatRecord, load: Callable[[ChatRecord, int, int], list[WireMessage]]
    ) -> deque[WireMessage]:
        """The cached newest page of ``chat``, loaded through ``load(chat, first, last)``
        on a miss; the least recently used pages are dropped past the cache size."""
        page = chat.page
        if page is None:
            last = chat.state.last_message_id
            first = max(1, last - self.page_size + 1)
            page = deque(load(chat, first, last) if last else (), maxlen=self.page_size)
            chat.page = page
            self._page_lru[chat.key] = chat
            if len(self._page_lru) > self._cached_chats:
                _, evicted = self._page_lru.popitem(last=False)
                evicted.page = None
        else:
            self._page_lru.move_to_end(chat.key)
        return page

    def initial_data(
        self, user_id: int, page: Callable[[ChatRecord], deque[WireMessage]]
    ) -> list[dict[str, Any]]:
        """The ``initial_data`` payload for ``user_id``: owned events with all
        their chats, then each chat the user opened as a requester."""
        entries = [
            {
                "event": event.details_wire,
                "eventOwnerId": user_id,
                "chats": [self._initial_chat(chat, user_id, page) for chat in event.chats],
            }
            for event in self.owned_events.get(user_id, ())
        ]
        entries.extend(
            {
                "event": chat.event.details_wire,
                "eventOwnerId": chat.owner_id,
                "chats": [self._initial_chat(chat, user_id, page)],
            }
            for chat in self.requested_chats.get(user_id, ())
        )
        return entries

    def _initial_chat(
        self, chat: ChatRecord, viewer: int, page: Callable[[ChatRecord], deque[WireMessage]]
    ) -> dict[str, Any]:
        counts = chat.state.unread(viewer)
        return {
            "chatId": chat.chat_id,
            "isRequestSended": chat.is_request_sended,
            "isAccessGranted": chat.is_access_granted,
            "user": self.users[chat.state.interlocutor(viewer)].wire,
            "messages": list(page(chat)),
            "myUnreadCount": counts.my,
            "interlocutorUnreadCount": counts.interlocutor,
        }
