"""Typed models of the chat protocol (PROTOCOL.md), one class per payload.

Attribute names are the wire names, typos included (``isRequestSended``,
``lastReadedMessageId``, ``iconsUUIDs``, ``imageUUID``, ``dateFromS``), so that a
model and its JSON can be read side by side. ``to_wire()`` gives the JSON-ready
value; parsing and validation live in :mod:`chatload.protocol.validation`.

Models are values: nothing mutates one after it is built. They are not frozen
only because a frozen dataclass costs four times as much to build, and a load
generator builds tens of thousands per second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

__all__ = [
    "CLIENT_EVENTS",
    "SERVER_EVENTS",
    "ChatUnread",
    "ChatUpdates",
    "ClientEvent",
    "DebugInfo",
    "EventDetails",
    "EventSummary",
    "History",
    "InitialChat",
    "InitialData",
    "InitialEntry",
    "Interlocutor",
    "LoadHistory",
    "Message",
    "MessageDraft",
    "ReadMessages",
    "SendMessage",
    "ServerEvent",
]

Wire: TypeAlias = dict[str, Any]

SERVER_EVENTS: Final = ("initial_data", "chat_updates", "chat_unread", "history", "debug_info")
CLIENT_EVENTS: Final = ("send_message", "read_messages", "load_history")


@dataclass(slots=True)
class Interlocutor:
    """The interlocutor as a chat shows it."""

    id: int
    name: str
    imageUUID: str

    def to_wire(self) -> Wire:
        return {"id": self.id, "name": self.name, "imageUUID": self.imageUUID}


@dataclass(slots=True)
class EventSummary:
    """The event as ``chat_updates`` carries it."""

    id: int
    name: str
    iconsUUIDs: tuple[str, ...]

    def to_wire(self) -> Wire:
        return {"id": self.id, "name": self.name, "iconsUUIDs": list(self.iconsUUIDs)}


@dataclass(slots=True)
class EventDetails:
    """The event as ``initial_data`` carries it."""

    id: int
    name: str
    iconsUUIDs: tuple[str, ...]
    location: str
    dateFromS: int
    dateToS: int

    def to_wire(self) -> Wire:
        return {
            "id": self.id,
            "name": self.name,
            "iconsUUIDs": list(self.iconsUUIDs),
            "location": self.location,
            "dateFromS": self.dateFromS,
            "dateToS": self.dateToS,
        }


@dataclass(slots=True)
class Message:
    """A stored chat message; ``date`` is ISO 8601 UTC as the server wrote it."""

    messageId: int
    text: str
    photos: tuple[str, ...]
    date: str
    fromUserId: int
    toUserId: int

    def to_wire(self) -> Wire:
        return {
            "messageId": self.messageId,
            "text": self.text,
            "photos": list(self.photos),
            "date": self.date,
            "fromUserId": self.fromUserId,
            "toUserId": self.toUserId,
        }


@dataclass(slots=True)
class InitialChat:
    chatId: str
    isRequestSended: bool
    isAccessGranted: bool
    user: Interlocutor
    messages: tuple[Message, ...]
    myUnreadCount: int
    interlocutorUnreadCount: int

    def to_wire(self) -> Wire:
        return {
            "chatId": self.chatId,
            "isRequestSended": self.isRequestSended,
            "isAccessGranted": self.isAccessGranted,
            "user": self.user.to_wire(),
            "messages": [message.to_wire() for message in self.messages],
            "myUnreadCount": self.myUnreadCount,
            "interlocutorUnreadCount": self.interlocutorUnreadCount,
        }


@dataclass(slots=True)
class InitialEntry:
    """One event the user takes part in, with the chats of it the user sees."""

    event: EventDetails
    eventOwnerId: int
    chats: tuple[InitialChat, ...]

    def to_wire(self) -> Wire:
        return {
            "event": self.event.to_wire(),
            "eventOwnerId": self.eventOwnerId,
            "chats": [chat.to_wire() for chat in self.chats],
        }


@dataclass(slots=True)
class InitialData:
    """``initial_data``: the payload is a bare list, kept here as ``entries``."""

    entries: tuple[InitialEntry, ...]

    def to_wire(self) -> list[Wire]:
        return [entry.to_wire() for entry in self.entries]

    def chats(self) -> list[tuple[InitialEntry, InitialChat]]:
        """Every chat with the entry that holds it, in payload order."""
        return [(entry, chat) for entry in self.entries for chat in entry.chats]


@dataclass(slots=True)
class ChatUpdates:
    chatId: str
    event: EventSummary
    eventOwnerId: int
    isRequestSended: bool
    messages: tuple[Message, ...]

    def to_wire(self) -> Wire:
        return {
            "chatId": self.chatId,
            "event": self.event.to_wire(),
            "eventOwnerId": self.eventOwnerId,
            "isRequestSended": self.isRequestSended,
            "messages": [message.to_wire() for message in self.messages],
        }


@dataclass(slots=True)
class ChatUnread:
    chatId: str
    myUnreadCount: int
    interlocutorUnreadCount: int

    def to_wire(self) -> Wire:
        return {
            "chatId": self.chatId,
            "myUnreadCount": self.myUnreadCount,
            "interlocutorUnreadCount": self.interlocutorUnreadCount,
        }


@dataclass(slots=True)
class History:
    chatId: str
    messages: tuple[Message, ...]

    def to_wire(self) -> Wire:
        return {"chatId": self.chatId, "messages": [m.to_wire() for m in self.messages]}


@dataclass(slots=True)
class DebugInfo:
    """An error report. The original leaves the shape open, so ``raw`` keeps it
    whole; ``code``, ``message`` and ``event`` are read when the reference shape
    (``{"code", "message", "event"}``) is there and are ``None`` otherwise."""

    raw: Any
    code: str | None = None
    message: str | None = None
    event: str | None = None

    def to_wire(self) -> Any:
        return self.raw

    @classmethod
    def reference(cls, code: str, message: str, event: str | None) -> DebugInfo:
        """The reference server's shape."""
        return cls({"code": code, "message": message, "event": event}, code, message, event)


@dataclass(slots=True)
class MessageDraft:
    """The ``message`` of ``send_message``; ``None`` means the key is absent."""

    text: str
    photos: tuple[str, ...] | None = None
    attachedPhotos: tuple[str, ...] | None = None

    def to_wire(self) -> Wire:
        wire: Wire = {"text": self.text}
        if self.photos is not None:
            wire["photos"] = list(self.photos)
        if self.attachedPhotos is not None:
            wire["attachedPhotos"] = list(self.attachedPhotos)
        return wire

    def stored_photos(self) -> tuple[str, ...]:
        """What a server stores: ``photos`` when present, else ``attachedPhotos``."""
        if self.photos is not None:
            return self.photos
        return self.attachedPhotos or ()


@dataclass(slots=True)
class SendMessage:
    chatId: str
    message: MessageDraft

    def to_wire(self) -> Wire:
        return {"chatId": self.chatId, "message": self.message.to_wire()}


@dataclass(slots=True)
class ReadMessages:
    chatId: str
    lastReadedMessageId: int

    def to_wire(self) -> Wire:
        return {"chatId": self.chatId, "lastReadedMessageId": self.lastReadedMessageId}


@dataclass(slots=True)
class LoadHistory:
    chatId: str
    lastMessageId: int

    def to_wire(self) -> Wire:
        return {"chatId": self.chatId, "lastMessageId": self.lastMessageId}


ServerEvent: TypeAlias = InitialData | ChatUpdates | ChatUnread | History | DebugInfo
ClientEvent: TypeAlias = SendMessage | ReadMessages | LoadHistory

EVENT_NAME: Final[dict[type[Any], str]] = {
    InitialData: "initial_data",
    ChatUpdates: "chat_updates",
    ChatUnread: "chat_unread",
    History: "history",
    DebugInfo: "debug_info",
    SendMessage: "send_message",
    ReadMessages: "read_messages",
    LoadHistory: "load_history",
}

ServerEventName: TypeAlias = Literal[
    "initial_data", "chat_updates", "chat_unread", "history", "debug_info"
]
ClientEventName: TypeAlias = Literal["send_message", "read_messages", "load_history"]
