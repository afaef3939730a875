"""Every event parsed from the wire, and every kind of shape error."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from chatload.errors import InvalidPayload, MalformedFrame
from chatload.protocol import (
    ChatUnread,
    ChatUpdates,
    DebugInfo,
    History,
    InitialData,
    LoadHistory,
    ObjectEnvelopeCodec,
    ReadMessages,
    SendMessage,
    decode_client_frame,
    decode_server_frame,
    encode_event,
    parse_client_event,
    parse_server_event,
)

MESSAGE = {
    "messageId": 10,
    "text": "Привет!",
    "photos": ["uuid1", "uuid2"],
    "date": "2025-03-01T13:51:53.285Z",
    "fromUserId": 14,
    "toUserId": 16,
}
# The examples of the original API document, verbatim apart from comments.
INITIAL_DATA = [
    {
        "event": {
            "id": 10,
            "name": "Event name",
            "iconsUUIDs": ["icon uuid1", "icon uuid2"],
            "location": "ONLINE",
            "dateFromS": 2514131321,
            "dateToS": 1957817098,
        },
        "eventOwnerId": 14,
        "chats": [
            {
                "chatId": "some_chat_id",
                "isRequestSended": True,
                "isAccessGranted": False,
                "user": {"id": 1, "name": "User 1", "imageUUID": "uuid1"},
                "messages": [MESSAGE],
                "myUnreadCount": 10,
                "interlocutorUnreadCount": 20,
            }
        ],
    }
]
CHAT_UPDATES = {
    "chatId": "some_chat_id",
    "event": {"id": 10, "name": "Event name", "iconsUUIDs": ["icon uuid1", "icon uuid2"]},
    "eventOwnerId": 14,
    "isRequestSended": True,
    "messages": [MESSAGE],
}
CHAT_UNREAD = {"chatId": "some_unique_id", "myUnreadCount": 10, "interlocutorUnreadCount": 20}
HISTORY = {"chatId": "some_unique_id", "messages": [{**MESSAGE, "messageId": 1}]}
SEND_MESSAGE = {
    "chatId": "chat_unique_id",
    "message": {
        "text": "Текст сообщения",
        "photos": ["uuid1", "uuid2"],
        "attachedPhotos": ["uuid1", "uuid2", "uuid3"],
    },
}
READ_MESSAGES = {"chatId": "chat_unique_id", "lastReadedMessageId": 10}
LOAD_HISTORY = {"chatId": "chat_unique_id", "lastMessageId": 124}

SERVER_EXAMPLES: list[tuple[str, Any, type]] = [
    ("initial_data", INITIAL_DATA, InitialData),
    ("chat_updates", CHAT_UPDATES, ChatUpdates),
    ("chat_unread", CHAT_UNREAD, ChatUnread),
    ("history", HISTORY, History),
    ("debug_info", {"code": "bad_request", "message": "m", "event": None}, DebugInfo),
]
CLIENT_EXAMPLES: list[tuple[str, Any, type]] = [
    ("send_message", SEND_MESSAGE, SendMessage),
    ("read_messages", READ_MESSAGES, ReadMessages),
    ("load_history", LOAD_HISTORY, LoadHistory),
]


@pytest.mark.parametrize(("event", "data", "model"), SERVER_EXAMPLES)
def test_server_events_parse_and_round_trip(event: str, data: Any, model: type) -> None:
    codec = ObjectEnvelopeCodec()
    frame = codec.encode(event, data)
    parsed = decode_server_frame(codec, frame)
    assert isinstance(parsed, model)
    assert parsed.to_wire() == data
    assert orjson.loads(encode_event(codec, parsed)) == {"event": event, "data": data}


@pytest.mark.parametrize(("event", "data", "model"), CLIENT_EXAMPLES)
def test_client_events_parse_and_round_trip(event: str, data: Any, model: type) -> None:
    codec = ObjectEnvelopeCodec()
    parsed = decode_client_frame(codec, codec.encode(event, data))
    assert isinstance(parsed, model)
    assert parsed.to_wire() == data


def test_initial_data_fields_by_their_wire_names() -> None:
    parsed = parse_server_event("initial_data", INITIAL_DATA)
    assert isinstance(parsed, InitialData)
    entry, chat = parsed.chats()[0]
    assert entry.event.dateFromS == 2514131321
    assert entry.event.iconsUUIDs == ("icon uuid1", "icon uuid2")
    assert entry.eventOwnerId == 14
    assert chat.isRequestSended is True
    assert chat.isAccessGranted is False
    assert chat.user.imageUUID == "uuid1"
    assert chat.messages[0].messageId == 10
    assert (chat.myUnreadCount, chat.interlocutorUnreadCount) == (10, 20)


def test_send_message_photos_rule() -> None:
    parsed = parse_client_event("send_message", SEND_MESSAGE)
    assert isinstance(parsed, SendMessage)
    assert parsed.message.stored_photos() == ("uuid1", "uuid2")
    only_attached = {"chatId": "c", "message": {"text": "", "attachedPhotos": ["a"]}}
    parsed = parse_client_event("send_message", only_attached)
    assert isinstance(parsed, SendMessage)
    assert parsed.message.stored_photos() == ("a",)
    assert parsed.message.photos is None
    no_text = parse_client_event("send_message", {"chatId": "c", "message": {"photos": []}})
    assert isinstance(no_text, SendMessage)
    assert no_text.message.text == ""


def test_debug_info_accepts_any_payload() -> None:
    for payload in ("plain text", 42, None, [1, 2], {"error": "x"}):
        parsed = parse_server_event("debug_info", payload)
        assert isinstance(parsed, DebugInfo)
        assert parsed.raw == payload
    reference = parse_server_event(
        "debug_info", {"code": "forbidden", "message": "no", "event": "x"}
    )
    assert isinstance(reference, DebugInfo)
    assert (reference.code, reference.message, reference.event) == ("forbidden", "no", "x")


def test_unknown_events_are_malformed_frames() -> None:
    with pytest.raises(MalformedFrame, match="unknown server event 'typing'"):
        parse_server_event("typing", {})
    with pytest.raises(MalformedFrame, match="expected one of send_message"):
        parse_client_event("delete_message", {})
    with pytest.raises(MalformedFrame):
        parse_client_event("chat_updates", CHAT_UPDATES)  # a server event sent by a client


def _mutated(data: Any, path: list[Any], value: Any) -> Any:
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


_DELETE = object()

# (event, example, where, what to put there, the error path, expected words)
SHAPE_ERRORS: list[tuple[str, Any, list[Any], Any, str, str]] = [
    ("initial_data", INITIAL_DATA, [], {}, "data", "a list of events"),
    ("initial_data", INITIAL_DATA, [0, "eventOwnerId"], "14", "data[0].eventOwnerId", "an integer"),
    (
        "initial_data",
        INITIAL_DATA,
        [0, "event", "dateToS"],
        _DELETE,
        "data[0].event.dateToS",
        "an integer",
    ),
    (
        "initial_data",
        INITIAL_DATA,
        [0, "event", "location"],
        None,
        "data[0].event.location",
        "a string",
    ),
    (
        "initial_data",
        INITIAL_DATA,
        [0, "event", "iconsUUIDs"],
        "a",
        "data[0].event.iconsUUIDs",
        "a list of strings",
    ),
    (
        "initial_data",
        INITIAL_DATA,
        [0, "event", "iconsUUIDs", 1],
        7,
        "data[0].event.iconsUUIDs[1]",
        "a string",
    ),
    ("initial_data", INITIAL_DATA, [0, "chats"], {}, "data[0].chats", "a list"),
    ("initial_data", INITIAL_DATA, [0, "chats", 0], [], "data[0].chats[0]", "an object"),
    (
        "initial_data",
        INITIAL_DATA,
        [0, "chats", 0, "isRequestSended"],
        1,
        "data[0].chats[0].isRequestSended",
        "true or false",
    ),
    (
        "initial_data",
        INITIAL_DATA,
        [0, "chats", 0, "isAccessGranted"],
        _DELETE,
        "data[0].chats[0].isAccessGranted",
        "true or false",
    ),
    (
        "initial_data",
        INITIAL_DATA,
        [0, "chats", 0, "user", "imageUUID"],
        3,
        "data[0].chats[0].user.imageUUID",
        "a string",
    ),
    (
        "initial_data",
        INITIAL_DATA,
        [0, "chats", 0, "user"],
        "u",
        "data[0].chats[0].user",
        "an object",
    ),
    (
        "initial_data",
        INITIAL_DATA,
        [0, "chats", 0, "myUnreadCount"],
        -1,
        "data[0].chats[0].myUnreadCount",
        "an integer >= 0",
    ),
    (
        "initial_data",
        INITIAL_DATA,
        [0, "chats", 0, "interlocutorUnreadCount"],
        True,
        "data[0].chats[0].interlocutorUnreadCount",
        "an integer",
    ),
    (
        "initial_data",
        INITIAL_DATA,
        [0, "chats", 0, "messages", 0, "date"],
        "yesterday",
        "data[0].chats[0].messages[0].date",
        "an ISO 8601 date",
    ),
    ("chat_updates", CHAT_UPDATES, ["chatId"], 5, "data.chatId", "a string"),
    ("chat_updates", CHAT_UPDATES, ["event", "name"], _DELETE, "data.event.name", "a string"),
    ("chat_updates", CHAT_UPDATES, ["eventOwnerId"], 1.5, "data.eventOwnerId", "an integer"),
    (
        "chat_updates",
        CHAT_UPDATES,
        ["isRequestSended"],
        "yes",
        "data.isRequestSended",
        "true or false",
    ),
    (
        "chat_updates",
        CHAT_UPDATES,
        ["messages", 0, "messageId"],
        0,
        "data.messages[0].messageId",
        "an integer >= 1",
    ),
    (
        "chat_updates",
        CHAT_UPDATES,
        ["messages", 0, "text"],
        None,
        "data.messages[0].text",
        "a string",
    ),
    (
        "chat_updates",
        CHAT_UPDATES,
        ["messages", 0, "photos"],
        None,
        "data.messages[0].photos",
        "a list of strings",
    ),
    (
        "chat_updates",
        CHAT_UPDATES,
        ["messages", 0, "fromUserId"],
        "14",
        "data.messages[0].fromUserId",
        "an integer",
    ),
    (
        "chat_updates",
        CHAT_UPDATES,
        ["messages", 0, "toUserId"],
        _DELETE,
        "data.messages[0].toUserId",
        "an integer",
    ),
    ("chat_unread", CHAT_UNREAD, ["myUnreadCount"], "10", "data.myUnreadCount", "an integer"),
    ("chat_unread", CHAT_UNREAD, ["chatId"], _DELETE, "data.chatId", "a string"),
    ("history", HISTORY, ["messages"], None, "data.messages", "a list"),
    ("history", HISTORY, ["messages", 0], "m", "data.messages[0]", "an object"),
    ("send_message", SEND_MESSAGE, ["chatId"], 12, "data.chatId", "a string"),
    ("send_message", SEND_MESSAGE, ["message"], "hi", "data.message", "an object"),
    ("send_message", SEND_MESSAGE, ["message"], _DELETE, "data.message", "an object"),
    ("send_message", SEND_MESSAGE, ["message", "text"], 5, "data.message.text", "a string"),
    (
        "send_message",
        SEND_MESSAGE,
        ["message", "photos"],
        "uuid1",
        "data.message.photos",
        "a list of strings",
    ),
    (
        "send_message",
        SEND_MESSAGE,
        ["message", "attachedPhotos", 0],
        {},
        "data.message.attachedPhotos[0]",
        "a string",
    ),
    (
        "read_messages",
        READ_MESSAGES,
        ["lastReadedMessageId"],
        "10",
        "data.lastReadedMessageId",
        "an integer",
    ),
    (
        "read_messages",
        READ_MESSAGES,
        ["lastReadedMessageId"],
        -1,
        "data.lastReadedMessageId",
        "an integer >= 0",
    ),
    ("read_messages", READ_MESSAGES, ["chatId"], _DELETE, "data.chatId", "a string"),
    ("load_history", LOAD_HISTORY, ["lastMessageId"], None, "data.lastMessageId", "an integer"),
    ("load_history", LOAD_HISTORY, ["lastMessageId"], False, "data.lastMessageId", "an integer"),
]


@pytest.mark.parametrize(("event", "example", "where", "value", "path", "expected"), SHAPE_ERRORS)
def test_shape_errors_name_field_expectation_and_value(
    event: str, example: Any, where: list[Any], value: Any, path: str, expected: str
) -> None:
    data = value if not where else _mutated(example, where, value)
    parse = (
        parse_client_event
        if event in {"send_message", "read_messages", "load_history"}
        else parse_server_event
    )
    with pytest.raises(InvalidPayload) as caught:
        parse(event, data)
    error = caught.value
    assert (error.event, error.path, error.expected) == (event, path, expected)
    assert str(error).startswith(f"{event}: {path} must be {expected}, got ")
    if value is _DELETE:
        assert str(error).endswith("got nothing")


@pytest.mark.parametrize("payload", [None, [], "x", 3])
def test_non_object_payloads(payload: Any) -> None:
    for event in ("chat_updates", "chat_unread", "history"):
        with pytest.raises(InvalidPayload, match=f"{event}: data must be an object"):
            parse_server_event(event, payload)
    for event in ("send_message", "read_messages", "load_history"):
        with pytest.raises(InvalidPayload, match=f"{event}: data must be an object"):
            parse_client_event(event, payload)


def test_extra_fields_are_ignored() -> None:
    parsed = parse_server_event("chat_unread", {**CHAT_UNREAD, "extra": [1]})
    assert parsed == ChatUnread("some_unique_id", 10, 20)


def test_long_values_are_shortened_in_errors() -> None:
    with pytest.raises(InvalidPayload) as caught:
        parse_client_event("load_history", {"chatId": "c", "lastMessageId": "x" * 500})
    assert len(str(caught.value)) < 150
