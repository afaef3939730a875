"""Validation of every payload, both directions: decoded JSON in, models out.

Each ``parse_*`` function checks one payload against PROTOCOL.md and returns its
model, or raises :class:`~chatload.errors.InvalidPayload` naming the field
(``data.messages[3].fromUserId``), what was expected and what came. Unknown extra
fields are ignored (a server may add some); missing or wrong-typed known fields
are errors. Booleans are never accepted where an integer is expected.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypeGuard, TypeVar

from chatload.errors import InvalidPayload, MalformedFrame
from chatload.protocol.models import (
    ChatUnread,
    ChatUpdates,
    ClientEvent,
    DebugInfo,
    EventDetails,
    EventSummary,
    History,
    InitialChat,
    InitialData,
    InitialEntry,
    Interlocutor,
    LoadHistory,
    Message,
    MessageDraft,
    ReadMessages,
    SendMessage,
    ServerEvent,
)

__all__ = [
    "parse_chat_unread",
    "parse_chat_updates",
    "parse_client_event",
    "parse_debug_info",
    "parse_history",
    "parse_initial_data",
    "parse_load_history",
    "parse_message",
    "parse_read_messages",
    "parse_send_message",
    "parse_server_event",
]

_MISSING: Final = InvalidPayload.MISSING
T = TypeVar("T")


class _Fields:
    """Typed access to one JSON object of one event, for precise error paths."""

    __slots__ = ("event", "obj", "path")

    def __init__(self, event: str, path: str, value: Any) -> None:
        if not isinstance(value, dict):
            raise InvalidPayload(event, path, "an object", value)
        self.event = event
        self.path = path
        self.obj: dict[str, Any] = value

    def fail(self, key: str, expected: str, got: Any) -> InvalidPayload:
        return InvalidPayload(self.event, f"{self.path}.{key}", expected, got)

    def integer(self, key: str, *, minimum: int | None = None) -> int:
        value = self.obj.get(key, _MISSING)
        if type(value) is not int:
            raise self.fail(key, "an integer", value)
        if minimum is not None and value < minimum:
            raise self.fail(key, f"an integer >= {minimum}", value)
        return value

    def string(self, key: str) -> str:
        value = self.obj.get(key, _MISSING)
        if type(value) is not str:
            raise self.fail(key, "a string", value)
        return value

    def boolean(self, key: str) -> bool:
        value = self.obj.get(key, _MISSING)
        if type(value) is not bool:
            raise self.fail(key, "true or false", value)
        return value

    def str_list(self, key: str, *, optional: bool = False) -> tuple[str, ...] | None:
        value = self.obj.get(key, _MISSING)
        if value is _MISSING and optional:
            return None
        if type(value) is not list:
            raise self.fail(key, "a list of strings", value)
        for index, item in enumerate(value):
            if type(item) is not str:
                raise InvalidPayload(self.event, f"{self.path}.{key}[{index}]", "a string", item)
        return tuple(value)

    def strs(self, key: str) -> tuple[str, ...]:
        value = self.str_list(key)
        assert value is not None
        return value

    def nested(self, key: str) -> _Fields:
        return _Fields(self.event, f"{self.path}.{key}", self.obj.get(key, _MISSING))

    def each(self, key: str, parse: Callable[[_Fields], T]) -> tuple[T, ...]:
        value = self.obj.get(key, _MISSING)
        if type(value) is not list:
            raise self.fail(key, "a list", value)
        base = f"{self.path}.{key}"
        return tuple(
            parse(_Fields(self.event, f"{base}[{index}]", item)) for index, item in enumerate(value)
        )


def _date(fields: _Fields, key: str) -> str:
    value = fields.string(key)
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise fields.fail(key, "an ISO 8601 date", value) from None
    return value


def _message(fields: _Fields) -> Message:
    return Message(
        messageId=fields.integer("messageId", minimum=1),
        text=fields.string("text"),
        photos=fields.strs("photos"),
        date=_date(fields, "date"),
        fromUserId=fields.integer("fromUserId"),
        toUserId=fields.integer("toUserId"),
    )


def parse_message(value: Any, *, event: str = "message", path: str = "data") -> Message:
    """One message object, as ``chat_updates``, ``history`` and ``initial_data`` carry it."""
    return _message(_Fields(event, path, value))


def _interlocutor(fields: _Fields) -> Interlocutor:
    return Interlocutor(
        id=fields.integer("id"), name=fields.string("name"), imageUUID=fields.string("imageUUID")
    )


def _initial_chat(fields: _Fields) -> InitialChat:
    return InitialChat(
        chatId=fields.string("chatId"),
        isRequestSended=fields.boolean("isRequestSended"),
        isAccessGranted=fields.boolean("isAccessGranted"),
        user=_interlocutor(fields.nested("user")),
        messages=_messages(fields),
        myUnreadCount=fields.integer("myUnreadCount", minimum=0),
        interlocutorUnreadCount=fields.integer("interlocutorUnreadCount", minimum=0),
    )


def _event_details(fields: _Fields) -> EventDetails:
    return EventDetails(
        id=fields.integer("id"),
        name=fields.string("name"),
        iconsUUIDs=fields.strs("iconsUUIDs"),
        location=fields.string("location"),
        dateFromS=fields.integer("dateFromS"),
        dateToS=fields.integer("dateToS"),
    )


def _initial_entry(fields: _Fields) -> InitialEntry:
    return InitialEntry(
        event=_event_details(fields.nested("event")),
        eventOwnerId=fields.integer("eventOwnerId"),
        chats=fields.each("chats", _initial_chat),
    )


def parse_initial_data(data: Any) -> InitialData:
    if type(data) is not list:
        raise InvalidPayload("initial_data", "data", "a list of events", data)
    return InitialData(
        entries=tuple(
            _initial_entry(_Fields("initial_data", f"data[{index}]", item))
            for index, item in enumerate(data)
        )
    )


def _fast_strings(value: Any) -> TypeGuard[list[str]]:
    return type(value) is list and (not value or all(type(item) is str for item in value))


def _fast_message(value: Any) -> Message | None:
    """The message when every field is right, else None (the slow path says why)."""
    if type(value) is not dict:
        return None
    message_id, text, photos, date = (
        value.get("messageId"),
        value.get("text"),
        value.get("photos"),
        value.get("date"),
    )
    sender, receiver = value.get("fromUserId"), value.get("toUserId")
    if not (
        type(message_id) is int
        and message_id >= 1
        and type(text) is str
        and _fast_strings(photos)
        and type(date) is str
        and type(sender) is int
        and type(receiver) is int
    ):
        return None
    try:
        datetime.fromisoformat(date)
    except ValueError:
        return None
    return Message(message_id, text, tuple(photos), date, sender, receiver)


def _messages(fields: _Fields) -> tuple[Message, ...]:
    """The ``messages`` list of an object: checked flat first (an initial_data holds
    hundreds), field by field when something is odd, to name the field."""
    value = fields.obj.get("messages")
    if type(value) is list:
        parsed = [_fast_message(message) for message in value]
        if None not in parsed:
            return tuple(parsed)  # type: ignore[arg-type]
    return fields.each("messages", _message)


def parse_chat_updates(data: Any) -> ChatUpdates:
    # The hot frame of a load test: checked flat first; anything odd goes through
    # the field-by-field path, which names the field.
    if type(data) is dict:
        chat_id, event, owner = data.get("chatId"), data.get("event"), data.get("eventOwnerId")
        is_request, messages = data.get("isRequestSended"), data.get("messages")
        if (
            type(chat_id) is str
            and type(event) is dict
            and type(owner) is int
            and type(is_request) is bool
            and type(messages) is list
        ):
            event_id, name, icons = event.get("id"), event.get("name"), event.get("iconsUUIDs")
            if type(event_id) is int and type(name) is str and _fast_strings(icons):
                parsed = [_fast_message(message) for message in messages]
                if None not in parsed:
                    return ChatUpdates(
                        chat_id,
                        EventSummary(event_id, name, tuple(icons)),
                        owner,
                        is_request,
                        tuple(parsed),  # type: ignore[arg-type]
                    )
    return _parse_chat_updates_slowly(data)


def _parse_chat_updates_slowly(data: Any) -> ChatUpdates:
    fields = _Fields("chat_updates", "data", data)
    event = fields.nested("event")
    return ChatUpdates(
        chatId=fields.string("chatId"),
        event=EventSummary(
            id=event.integer("id"), name=event.string("name"), iconsUUIDs=event.strs("iconsUUIDs")
        ),
        eventOwnerId=fields.integer("eventOwnerId"),
        isRequestSended=fields.boolean("isRequestSended"),
        messages=fields.each("messages", _message),
    )


def parse_chat_unread(data: Any) -> ChatUnread:
    if type(data) is dict:
        chat_id, mine, theirs = (
            data.get("chatId"),
            data.get("myUnreadCount"),
            data.get("interlocutorUnreadCount"),
        )
        if (
            type(chat_id) is str
            and type(mine) is int
            and type(theirs) is int
            and mine >= 0 <= theirs
        ):
            return ChatUnread(chat_id, mine, theirs)
    fields = _Fields("chat_unread", "data", data)
    return ChatUnread(
        chatId=fields.string("chatId"),
        myUnreadCount=fields.integer("myUnreadCount", minimum=0),
        interlocutorUnreadCount=fields.integer("interlocutorUnreadCount", minimum=0),
    )


def parse_history(data: Any) -> History:
    fields = _Fields("history", "data", data)
    return History(chatId=fields.string("chatId"), messages=_messages(fields))


def parse_debug_info(data: Any) -> DebugInfo:
    """Any payload is a valid ``debug_info``; the reference fields are read when present."""
    if isinstance(data, dict):
        code, message, event = data.get("code"), data.get("message"), data.get("event")
        return DebugInfo(
            raw=data,
            code=code if isinstance(code, str) else None,
            message=message if isinstance(message, str) else None,
            event=event if isinstance(event, str) else None,
        )
    return DebugInfo(raw=data, message=data if isinstance(data, str) else None)


def parse_send_message(data: Any) -> SendMessage:
    fields = _Fields("send_message", "data", data)
    chat_id = fields.string("chatId")
    message = fields.nested("message")
    text = message.obj.get("text", "")
    if type(text) is not str:
        raise message.fail("text", "a string", text)
    return SendMessage(
        chatId=chat_id,
        message=MessageDraft(
            text=text,
            photos=message.str_list("photos", optional=True),
            attachedPhotos=message.str_list("attachedPhotos", optional=True),
        ),
    )


def parse_read_messages(data: Any) -> ReadMessages:
    fields = _Fields("read_messages", "data", data)
    return ReadMessages(
        chatId=fields.string("chatId"),
        lastReadedMessageId=fields.integer("lastReadedMessageId", minimum=0),
    )


def parse_load_history(data: Any) -> LoadHistory:
    fields = _Fields("load_history", "data", data)
    return LoadHistory(
        chatId=fields.string("chatId"), lastMessageId=fields.integer("lastMessageId", minimum=0)
    )


_SERVER_PARSERS: Final[dict[str, Callable[[Any], ServerEvent]]] = {
    "initial_data": parse_initial_data,
    "chat_updates": parse_chat_updates,
    "chat_unread": parse_chat_unread,
    "history": parse_history,
    "debug_info": parse_debug_info,
}

_CLIENT_PARSERS: Final[dict[str, Callable[[Any], ClientEvent]]] = {
    "send_message": parse_send_message,
    "read_messages": parse_read_messages,
    "load_history": parse_load_history,
}


def parse_server_event(event: str, data: Any) -> ServerEvent:
    """A server-to-client payload; an unknown name is a :class:`MalformedFrame`."""
    parser = _SERVER_PARSERS.get(event)
    if parser is None:
        raise MalformedFrame(f"unknown server event {event!r}", event=event)
    return parser(data)


def parse_client_event(event: str, data: Any) -> ClientEvent:
    """A client-to-server payload; an unknown name is a :class:`MalformedFrame`."""
    parser = _CLIENT_PARSERS.get(event)
    if parser is None:
        known = ", ".join(_CLIENT_PARSERS)
        raise MalformedFrame(f"unknown event {event!r}: expected one of {known}", event=event)
    return parser(data)
