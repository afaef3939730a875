from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Callable

from tests.support import Client, Dataset, ServerThread


def _raw_upgrade(url: str, token: str, receive_buffer: int | None = None) -> socket.socket:
    """A WebSocket handshake by hand, so that the test controls every byte after it."""
    host, port = url.removeprefix("ws://").rstrip("/").split(":")
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /?token={token} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101")
    return sock


def test_a_peer_that_stops_answering_pings_is_dropped(
    start_server: Callable[..., ServerThread], dataset: Dataset
) -> None:
    server = start_server(ping_interval=0.3, ping_timeout=0.3)
    sock = _raw_upgrade(server.url, dataset.identities()[0].token)
    started = time.monotonic()
    received = b""
    with sock:
        while chunk := sock.recv(65536):
            received += chunk
    assert 0.5 < time.monotonic() - started < 5
    assert b"\x89\x00" in received, "the server pinged before dropping"


def test_a_peer_that_answers_pings_stays(
    start_server: Callable[..., ServerThread], dataset: Dataset
) -> None:
    server = start_server(ping_interval=0.2, ping_timeout=0.2)
    with Client(server.url, dataset.identities()[0].token) as client:
        time.sleep(1.2)
        chat = dataset.chats()[0]
        client.send("load_history", {"chatId": chat.chat_id, "lastMessageId": 3})
        client.expect("history")


def test_a_peer_that_does_not_read_is_dropped(
    start_server: Callable[..., ServerThread], dataset: Dataset
) -> None:
    server = start_server(max_send_buffer=64 * 1024)
    chat = dataset.chats()[0]
    silent = _raw_upgrade(server.url, dataset.token(chat.requester_id), receive_buffer=4096)
    text = "x" * 4000
    with silent, Client(server.url, dataset.token(chat.owner_id)) as owner:
        dropped = False
        for _ in range(4000):
            owner.send("send_message", {"chatId": chat.chat_id, "message": {"text": text}})
            owner.expect("chat_updates")
            owner.expect("chat_unread")
            assert server.server is not None
            if not any(c.user_id == chat.requester_id for c in server.server.connections):
                dropped = True
                break
        assert dropped, "the server kept buffering for a peer that never reads"


def _first_ping_at(sock: socket.socket, deadline: float) -> float:
    """When the first ping arrives (initial_data and other frames skipped)."""
    received = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        received += sock.recv(65536)
        if b"\x89\x00" in received:
            return time.monotonic()
    raise AssertionError("no ping")


def test_each_connection_is_pinged_on_its_own_clock(
    start_server: Callable[..., ServerThread], dataset: Dataset
) -> None:
    # Connections opened 0.4 s apart are pinged 0.4 s apart: keepalive is a timer
    # per connection, not a sweep that pings every quiet connection at once.
    server = start_server(ping_interval=0.8, ping_timeout=5.0)
    first = _raw_upgrade(server.url, dataset.identities()[0].token)
    opened_first = time.monotonic()
    time.sleep(0.4)
    second = _raw_upgrade(server.url, dataset.identities()[1].token)
    opened_second = time.monotonic()
    with first, second:
        deadline = time.monotonic() + 5
        pinged_first = _first_ping_at(first, deadline)
        pinged_second = _first_ping_at(second, deadline)
    assert 0.7 < pinged_first - opened_first < 1.5
    assert 0.7 < pinged_second - opened_second < 1.5
    assert pinged_second - pinged_first > 0.25
