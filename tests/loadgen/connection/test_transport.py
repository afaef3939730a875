"""The transport's framing, over a real socket pair (no Locust, no gevent patching)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from chatload.errors import ConfigError, Disconnected
from chatload.loadgen.connection.transport import (
    TransportSettings,
    WebSocketTransport,
    text_frame,
    tls_context,
)


def _server_frame(opcode: Opcode, data: bytes, *, fin: bool = True, mask: bool = False) -> bytes:
    return Frame(opcode, data, fin).serialize(mask=mask)


@pytest.fixture
def pair() -> Iterator[tuple[WebSocketTransport, socket.socket]]:
    ours, theirs = socket.socketpair()
    transport = WebSocketTransport("ws://127.0.0.1:1/", TransportSettings())
    transport.attach(ours)
    theirs.settimeout(5)
    yield transport, theirs
    ours.close()
    theirs.close()


def test_many_frames_in_one_read_and_one_frame_over_many(
    pair: tuple[WebSocketTransport, socket.socket],
) -> None:
    transport, server = pair
    big = b"x" * 70_000  # a 64-bit length
    medium = "я".encode() * 200  # a 16-bit length
    stream = b"".join(_server_frame(Opcode.TEXT, p) for p in (b"one", medium, big, b"four"))
    server.sendall(stream[:1])
    server.sendall(stream[1:3000])
    received: list[bytes] = []
    while len(received) < 2:
        received += transport.receive()[0]
    server.sendall(stream[3000:])
    while len(received) < 4:
        received += transport.receive()[0]
    assert received == [b"one", medium, big, b"four"]


def test_fragments_pings_and_close_go_through_websockets(
    pair: tuple[WebSocketTransport, socket.socket],
) -> None:
    transport, server = pair
    server.sendall(
        _server_frame(Opcode.TEXT, b"he", fin=False)
        + _server_frame(Opcode.PING, b"are you there")
        + _server_frame(Opcode.CONT, b"llo", fin=False)
        + _server_frame(Opcode.CONT, b"!", fin=True)
        + _server_frame(Opcode.TEXT, b"after")
    )
    received: list[bytes] = []
    while len(received) < 2:
        received += transport.receive()[0]
    assert received == [b"hello!", b"after"]
    # The pong went back, masked, with the ping's payload.
    parser = ServerProtocol(state=State.OPEN)
    parser.receive_data(server.recv(4096))
    [pong] = parser.events_received()
    assert (pong.opcode, pong.data) == (Opcode.PONG, b"are you there")
    server.sendall(_server_frame(Opcode.CLOSE, Close(1001, "going away").serialize()))
    with pytest.raises(Disconnected, match="closed the connection with code 1001 \\(going away\\)"):
        transport.receive()
    assert transport.close_code == 1001


def test_a_masked_frame_from_the_server_is_a_protocol_failure(
    pair: tuple[WebSocketTransport, socket.socket],
) -> None:
    transport, server = pair
    server.sendall(_server_frame(Opcode.TEXT, b"masked", mask=True))
    with pytest.raises(Disconnected):
        transport.receive()


def test_eof_is_a_disconnect(pair: tuple[WebSocketTransport, socket.socket]) -> None:
    transport, server = pair
    server.shutdown(socket.SHUT_WR)
    with pytest.raises(Disconnected, match="code 1006"):
        transport.receive()


def test_sent_frames_are_masked_text_frames(pair: tuple[WebSocketTransport, socket.socket]) -> None:
    transport, server = pair
    payloads = [b"a", "ж".encode() * 100, b"z" * 70_000]
    for payload in payloads:
        transport.send(payload)
    parser = ServerProtocol(state=State.OPEN, max_size=None)
    data = b""
    while len(data) < sum(len(p) for p in payloads):
        data += server.recv(1 << 20)
    parser.receive_data(data)
    frames = parser.events_received()
    assert [(f.opcode, f.fin, f.data) for f in frames] == [(Opcode.TEXT, True, p) for p in payloads]
    masks = {text_frame(b"x", mask)[2:6] for mask in (b"\x00\x00\x00\x01", b"abcd")}
    assert masks == {b"\x00\x00\x00\x01", b"abcd"}


def test_close_sends_a_close_frame(pair: tuple[WebSocketTransport, socket.socket]) -> None:
    transport, server = pair
    transport.close()
    parser = ServerProtocol(state=State.OPEN)
    parser.receive_data(server.recv(4096))
    [close] = parser.events_received()
    assert close.opcode is Opcode.CLOSE
    with pytest.raises(Disconnected):
        transport.send(b"late")


def test_urls_and_tls_settings() -> None:
    with pytest.raises(ConfigError, match="ws:// or wss://"):
        WebSocketTransport("http://x/", TransportSettings())
    assert tls_context(TransportSettings()).verify_mode.name == "CERT_REQUIRED"
    insecure = tls_context(TransportSettings(insecure=True))
    assert (insecure.verify_mode.name, insecure.check_hostname) == ("CERT_NONE", False)
    with pytest.raises(ConfigError, match="--ca-bundle"):
        tls_context(TransportSettings(ca_bundle=__import__("pathlib").Path("/nonexistent.pem")))
