"""Socket.IO v5 over Engine.IO v4, fed strings: chatload.protocol.socketio."""

from __future__ import annotations

import re

import pytest

from chatload.errors import Disconnected, HandshakeRejected, MalformedFrame
from chatload.protocol.socketio import (
    ClientSession,
    ServerSession,
    SocketIOCodec,
    looks_like_engineio_open,
    socketio_url,
)

OPEN = b'0{"sid":"abc","upgrades":[],"pingInterval":1000,"pingTimeout":1000,"maxPayload":1000}'


def test_the_url_of_a_socketio_server() -> None:
    assert socketio_url("ws://chat:80/", "/socket.io/") == (
        "ws://chat:80/socket.io/?EIO=4&transport=websocket"
    )
    assert (
        socketio_url("wss://chat/api?x=1", "ws") == "wss://chat/ws/?x=1&EIO=4&transport=websocket"
    )


def test_events_both_ways_with_and_without_a_namespace() -> None:
    root, chat = SocketIOCodec(), SocketIOCodec("/chat")
    assert root.encode("send_message", {"chatId": "c"}) == b'42["send_message",{"chatId":"c"}]'
    assert chat.encode("x", 1) == b'42/chat,["x",1]'
    assert root.decode(b'42["chat_updates",{"a":1}]') == ("chat_updates", {"a": 1})
    assert root.decode('42["history",[]]') == ("history", [])
    assert chat.decode(b'42/chat,["history",[]]') == ("history", [])


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        (b'42/other,["x",1]', "namespace other than '/chat'"),
        (b'42/chat,12["x",1]', "ack id"),
        (b'45-["x",{"_placeholder":true,"num":0}]', "binary"),
        (b"43/chat,1[]", "ack packet"),
        (b"42/chat,not json", "not valid JSON"),
        (b'42/chat,["only a name"]', "not [name, payload]"),
        (b"42/chat,[1,2]", "must be a string"),
        (b"\x00\x01binary", "not a socket.io message"),
    ],
)
def test_what_is_not_a_chat_event_is_named(frame: bytes, says: str) -> None:
    with pytest.raises(MalformedFrame, match=re.escape(says)):
        SocketIOCodec("/chat").decode(frame)


def test_the_client_connects_to_its_namespace_with_its_auth() -> None:
    session = ClientSession("/chat", {"token": "t"})
    assert session.feed(OPEN) is None and session.opened and not session.connected
    assert session.data_to_send() == [b'40/chat,{"token":"t"}']
    assert session.feed(b'40/chat,{"sid":"s1"}') is None
    assert session.connected and session.sid == "s1"
    event = b'42/chat,["initial_data",[]]'
    assert session.feed(event) == event
    assert session.close_packet() == b"41/chat"


def test_the_root_namespace_has_no_prefix_and_no_auth_object_when_none() -> None:
    session = ClientSession()
    session.feed(OPEN)
    assert session.data_to_send() == [b"40"]
    session.feed(b'40{"sid":"s"}')
    assert session.connected and session.close_packet() == b"41"


def test_pings_are_answered_at_once_and_noops_ignored() -> None:
    session = ClientSession()
    session.feed(OPEN)
    session.data_to_send()
    assert session.feed(b"2") is None and session.feed(b"6") is None
    assert session.feed(b"2probe") is None
    assert session.data_to_send() == [b"3", b"3probe"]


def test_connect_error_is_a_refusal_with_the_servers_message() -> None:
    session = ClientSession(auth={"token": "bad"})
    session.feed(OPEN)
    refused = re.escape("refused the socket.io connect: invalid token")
    with pytest.raises(HandshakeRejected, match=refused):
        session.feed(b'44{"message":"invalid token"}')


def test_the_server_ending_the_session_is_a_disconnect() -> None:
    for ending in (b"1", b"41"):
        session = ClientSession()
        session.feed(OPEN)
        session.feed(b"40{}")
        with pytest.raises(Disconnected):
            session.feed(ending)


def test_packets_for_the_codec_to_name_are_handed_up() -> None:
    session = ClientSession()
    session.feed(OPEN)
    session.feed(b"40{}")
    for odd in (b'451-["x",{}]', b"431[]", b"\x00binary", b"5"):
        assert session.feed(odd) == odd


def test_a_malformed_open_packet_is_named() -> None:
    with pytest.raises(MalformedFrame, match="without a sid"):
        ClientSession().feed(b"0{}")
    assert looks_like_engineio_open(OPEN)
    assert not looks_like_engineio_open(b'{"event":"initial_data","data":[]}')


def test_the_server_end() -> None:
    session = ServerSession("sid1", 25000, 20000)
    assert session.open_packet(100).startswith(b'0{"sid":"sid1","upgrades":[],"pingInterval":25000')
    assert session.feed(b'40{"token":"t"}') == ("connect", {"token": "t"})
    assert session.connect_ack() == b'40{"sid":"sid1"}'
    assert session.feed(b'42["send_message",{}]') == ("event", b'42["send_message",{}]')
    assert session.feed(b"3") == ("ignore", None)
    assert session.feed(b"2") == ("ping", None)
    assert session.feed(b"41") == ("close", None)
    assert session.feed(b"x")[0] == "bad"
    assert ServerSession("s", 1, 1).feed(b"40/chat,{}")[0] == "bad"
    assert ServerSession("s", 1, 1).feed(b"40") == ("connect", None)
    assert ServerSession.connect_error("no") == b'44{"message":"no"}'
