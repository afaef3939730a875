from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest
from websockets.exceptions import InvalidStatus

from tests.support import Client, Dataset, ServerThread


def _refused(url: str, token: str | None, **kwargs: str) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as caught:
        Client(url, token, **kwargs)
    return caught.value


def test_token_in_query_parameter(server: ServerThread, dataset: Dataset) -> None:
    with Client(server.url, dataset.identities()[0].token) as client:
        assert client.initial


def test_token_in_bearer_header(server: ServerThread, dataset: Dataset) -> None:
    with Client(server.url, dataset.identities()[0].token, how="bearer") as client:
        assert client.initial


def test_no_token_is_refused_with_401(server: ServerThread) -> None:
    error = _refused(server.url, None)
    assert error.response.status_code == 401
    assert error.response.body is not None
    assert b"?token=<token>" in error.response.body
    assert b"Authorization: Bearer" in error.response.body


def test_wrong_token_is_refused(server: ServerThread) -> None:
    assert _refused(server.url, "not-a-token").response.status_code == 401
    assert _refused(server.url, "not-a-token", how="bearer").response.status_code == 401


def test_cookie_is_refused(server: ServerThread, dataset: Dataset) -> None:
    error = _refused(server.url, dataset.identities()[0].token, how="cookie")
    assert error.response.status_code == 401


def test_token_parameter_name_is_configurable(
    start_server: Callable[..., ServerThread], dataset: Dataset
) -> None:
    server = start_server(token_param="access_token")
    token = dataset.identities()[0].token
    with Client(server.url, token, param="access_token") as client:
        assert client.initial
    assert _refused(server.url, token).response.status_code == 401


def test_any_path_is_accepted(server: ServerThread, dataset: Dataset) -> None:
    with Client(server.url + "chat/ws", dataset.identities()[0].token) as client:
        assert client.initial


def test_plain_http_is_not_upgraded(server: ServerThread, dataset: Dataset) -> None:
    token = dataset.identities()[0].token
    host, port = server.url.removeprefix("ws://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"GET /?token={token} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 426")


def test_silent_connection_is_dropped_after_the_open_timeout(
    start_server: Callable[..., ServerThread],
) -> None:
    server = start_server(open_timeout=0.3)
    host, port = server.url.removeprefix("ws://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""
        assert 0.2 < time.monotonic() - started < 3
