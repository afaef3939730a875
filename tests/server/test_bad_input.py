"""Every bad input is answered by debug_info, changes nothing, and keeps the connection."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import Client, Dataset, ServerThread

PHOTO = str(uuid.uuid4())
OK_MESSAGE = {"text": "ok"}

# (name, frame builder taking (own chat, foreign chat, last id), code, event)
Frame = Callable[[str, str, int], str | bytes]
BAD_FRAMES: list[tuple[str, Frame, str, str | None]] = [
    ("invalid json", lambda c, f, n: "{not json", "bad_request", None),
    ("invalid utf-8", lambda c, f, n: b"\xff", "bad_request", None),
    ("not an envelope", lambda c, f, n: '["send_message", {}]', "bad_request", None),
    ("no data", lambda c, f, n: '{"event": "send_message"}', "bad_request", "send_message"),
    (
        "unknown event",
        lambda c, f, n: '{"event": "delete_chat", "data": {}}',
        "bad_request",
        "delete_chat",
    ),
    (
        "missing chatId",
        lambda c, f, n: _frame("send_message", {"message": OK_MESSAGE}),
        "bad_request",
        "send_message",
    ),
    (
        "chatId not a string",
        lambda c, f, n: _frame("send_message", {"chatId": 5, "message": OK_MESSAGE}),
        "bad_request",
        "send_message",
    ),
    (
        "missing message",
        lambda c, f, n: _frame("send_message", {"chatId": c}),
        "bad_request",
        "send_message",
    ),
    (
        "text not a string",
        lambda c, f, n: _frame("send_message", {"chatId": c, "message": {"text": 1}}),
        "bad_request",
        "send_message",
    ),
    (
        "photos not a list",
        lambda c, f, n: _frame(
            "send_message", {"chatId": c, "message": {"text": "a", "photos": PHOTO}}
        ),
        "bad_request",
        "send_message",
    ),
    (
        "read id a string",
        lambda c, f, n: _frame("read_messages", {"chatId": c, "lastReadedMessageId": "3"}),
        "bad_request",
        "read_messages",
    ),
    (
        "history id missing",
        lambda c, f, n: _frame("load_history", {"chatId": c}),
        "bad_request",
        "load_history",
    ),
    (
        "unknown chat: send",
        lambda c, f, n: _frame("send_message", {"chatId": "nope", "message": OK_MESSAGE}),
        "not_found",
        "send_message",
    ),
    (
        "unknown chat: read",
        lambda c, f, n: _frame("read_messages", {"chatId": "nope", "lastReadedMessageId": 1}),
        "not_found",
        "read_messages",
    ),
    (
        "unknown chat: history",
        lambda c, f, n: _frame("load_history", {"chatId": "nope", "lastMessageId": 9}),
        "not_found",
        "load_history",
    ),
    (
        "foreign chat: send",
        lambda c, f, n: _frame("send_message", {"chatId": f, "message": OK_MESSAGE}),
        "forbidden",
        "send_message",
    ),
    (
        "foreign chat: read",
        lambda c, f, n: _frame("read_messages", {"chatId": f, "lastReadedMessageId": 1}),
        "forbidden",
        "read_messages",
    ),
    (
        "foreign chat: history",
        lambda c, f, n: _frame("load_history", {"chatId": f, "lastMessageId": 9}),
        "forbidden",
        "load_history",
    ),
    (
        "text too long",
        lambda c, f, n: _frame("send_message", {"chatId": c, "message": {"text": "я" * 4097}}),
        "too_large",
        "send_message",
    ),
    (
        "too many photos",
        lambda c, f, n: _frame(
            "send_message", {"chatId": c, "message": {"text": "a", "photos": [PHOTO] * 11}}
        ),
        "too_large",
        "send_message",
    ),
    (
        "non-UUID photo",
        lambda c, f, n: _frame(
            "send_message", {"chatId": c, "message": {"text": "a", "photos": ["uuid1"]}}
        ),
        "bad_request",
        "send_message",
    ),
    (
        "non-UUID attached photo",
        lambda c, f, n: _frame(
            "send_message", {"chatId": c, "message": {"text": "a", "attachedPhotos": [PHOTO, "x"]}}
        ),
        "bad_request",
        "send_message",
    ),
    (
        "empty message",
        lambda c, f, n: _frame(
            "send_message", {"chatId": c, "message": {"text": "", "photos": []}}
        ),
        "bad_request",
        "send_message",
    ),
    (
        "read beyond the last message",
        lambda c, f, n: _frame("read_messages", {"chatId": c, "lastReadedMessageId": n + 1}),
        "bad_request",
        "read_messages",
    ),
    (
        "frame over the size limit",
        lambda c, f, n: _frame("send_message", {"chatId": c, "message": {"text": "a" * 70_000}}),
        "too_large",
        None,
    ),
    ("binary frame", lambda c, f, n: b'{"event": "load_history", "data": {}}', "bad_request", None),
]


def _frame(event: str, data: Any) -> str:
    import orjson

    return orjson.dumps({"event": event, "data": data}).decode()


def _snapshot(dataset: Dataset) -> list[tuple[Any, ...]]:
    return dataset.query(
        "SELECT c.chat_id, c.owner_read, c.requester_read, COUNT(m.message_id), "
        "MAX(m.message_id) FROM chats c LEFT JOIN messages m ON m.chat_key = c.chat_key "
        "GROUP BY c.chat_key ORDER BY c.chat_key"
    )


@pytest.mark.parametrize(
    ("name", "build", "code", "event"), BAD_FRAMES, ids=[f[0] for f in BAD_FRAMES]
)
def test_bad_input_is_answered_and_changes_nothing(
    server: ServerThread, dataset: Dataset, name: str, build: Frame, code: str, event: str | None
) -> None:
    chat = dataset.chats()[0]
    foreign = next(
        c for c in dataset.chats() if chat.requester_id not in (c.owner_id, c.requester_id)
    )
    last = len(dataset.messages(chat.chat_id))
    before = _snapshot(dataset)
    with (
        Client(server.url, dataset.token(chat.requester_id)) as requester,
        Client(server.url, dataset.token(chat.owner_id)) as owner,
    ):
        requester.send_raw(build(chat.chat_id, foreign.chat_id, last))
        _, data = requester.expect("debug_info")
        assert data["code"] == code, data
        assert data["event"] == event
        assert isinstance(data["message"], str)
        assert data["message"]
        owner.expect_nothing(0.2)
        requester.expect_nothing(0.2)
        assert _snapshot(dataset) == before
        # The connection stays usable and ids continue without a gap.
        requester.send("send_message", {"chatId": chat.chat_id, "message": OK_MESSAGE})
        _, data = requester.expect("chat_updates")
        assert data["messages"][0]["messageId"] == last + 1


def test_messages_above_the_hard_limit_close_the_connection(
    server: ServerThread, dataset: Dataset
) -> None:
    from websockets.exceptions import ConnectionClosedError

    chat = dataset.chats()[0]
    with Client(server.url, dataset.token(chat.owner_id)) as client:
        client.send_raw("x" * (2 * 1024 * 1024))
        with pytest.raises(ConnectionClosedError) as caught:
            client.recv()
        assert caught.value.rcvd is not None
        assert caught.value.rcvd.code == 1009


def test_fragmented_frames_are_reassembled(server: ServerThread, dataset: Dataset) -> None:
    chat = dataset.chats()[0]
    frame = _frame("send_message", {"chatId": chat.chat_id, "message": {"text": "in pieces"}})
    with Client(server.url, dataset.token(chat.owner_id)) as client:
        client.ws.send([frame[:10], frame[10:30], frame[30:]])
        _, data = client.expect("chat_updates")
        assert data["messages"][0]["text"] == "in pieces"
