from __future__ import annotations

import pytest

from chatload.errors import ConfigError, MalformedFrame
from chatload.protocol import (
    ArrayEnvelopeCodec,
    ChatUnread,
    ObjectEnvelopeCodec,
    codec_by_name,
    decode_server_frame,
    encode_event,
)


def test_object_envelope_round_trip() -> None:
    codec = ObjectEnvelopeCodec()
    frame = codec.encode("chat_unread", {"chatId": "c", "myUnreadCount": 1})
    assert frame == b'{"event":"chat_unread","data":{"chatId":"c","myUnreadCount":1}}'
    assert codec.decode(frame) == ("chat_unread", {"chatId": "c", "myUnreadCount": 1})
    assert codec.decode(frame.decode()) == ("chat_unread", {"chatId": "c", "myUnreadCount": 1})


def test_object_envelope_with_other_keys() -> None:
    codec = ObjectEnvelopeCodec(event_key="type", data_key="payload")
    assert codec.decode(codec.encode("history", [])) == ("history", [])
    assert codec.encode("x", 1) == b'{"type":"x","payload":1}'


def test_array_envelope_round_trip() -> None:
    codec = ArrayEnvelopeCodec()
    assert codec.encode("history", {"a": 1}) == b'["history",{"a":1}]'
    assert codec.decode(b'["history",{"a":1}]') == ("history", {"a": 1})


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"not json", "not valid UTF-8 JSON"),
        (b"\xff\xfe", "not valid UTF-8 JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"data": {}}', "'event' must be a string"),
        (b'{"event": 5, "data": {}}', "'event' must be a string"),
        (b'{"event": "history"}', "'data' is missing"),
    ],
)
def test_object_envelope_rejects(frame: bytes, reason: str) -> None:
    with pytest.raises(MalformedFrame, match=reason):
        ObjectEnvelopeCodec().decode(frame)


@pytest.mark.parametrize("frame", [b'{"event": "x"}', b'["x"]', b"[1, {}]", b"oops"])
def test_array_envelope_rejects(frame: bytes) -> None:
    with pytest.raises(MalformedFrame):
        ArrayEnvelopeCodec().decode(frame)


def test_codec_by_name_names_the_choices() -> None:
    assert codec_by_name("array").name == "array"
    with pytest.raises(ConfigError, match="choose one of array, object"):
        codec_by_name("xml")


def test_models_travel_through_any_codec() -> None:
    unread = ChatUnread(chatId="c1", myUnreadCount=2, interlocutorUnreadCount=0)
    for codec in (ObjectEnvelopeCodec(), ArrayEnvelopeCodec()):
        assert decode_server_frame(codec, encode_event(codec, unread)) == unread
