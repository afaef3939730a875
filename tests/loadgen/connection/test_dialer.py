"""Opening TCP connections: source addresses, and the generator's limits named."""

from __future__ import annotations

import errno
import socket

import pytest

from chatload.errors import ConfigError, GeneratorLimit, ServerUnreachable
from chatload.loadgen.connection.dialer import Dialer, limit_error, parse_source_addresses


def test_lists_and_ranges() -> None:
    assert parse_source_addresses("") == ()
    assert parse_source_addresses("127.0.0.1-127.0.0.3") == ("127.0.0.1", "127.0.0.2", "127.0.0.3")
    assert parse_source_addresses("10.0.0.5, 10.0.0.9") == ("10.0.0.5", "10.0.0.9")
    assert parse_source_addresses("127.0.0.255-127.0.1.0") == ("127.0.0.255", "127.0.1.0")
    assert parse_source_addresses("::1") == ("::1",)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("127.0.0.x", "not an address or a range"),
        ("127.0.0.9-127.0.0.1", "from a lower to a higher address"),
        ("127.0.0.1-::1", "from a lower to a higher address of one family"),
        ("127.0.0.1 ::1", "one family"),
        ("10.0.0.0-10.1.0.0", "more than 65536 addresses"),
    ],
)
def test_bad_source_addresses_say_what(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_source_addresses(text)


def test_os_errors_of_the_generators_own_limits() -> None:
    files = limit_error(errno.EMFILE, "ws://x/")
    ports = limit_error(errno.EADDRNOTAVAIL, "127.0.0.1:8765")
    assert isinstance(files, GeneratorLimit) and isinstance(ports, GeneratorLimit)
    assert "no file descriptor left" in str(files) and "ulimit -n" in str(files)
    assert "no free local port towards 127.0.0.1:8765" in str(ports)
    assert "--source-addresses" in str(ports)
    assert limit_error(errno.ECONNRESET, "x") is None


def test_connections_take_turns_over_the_source_addresses() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    dialer = Dialer("127.0.0.1", port, ("127.0.0.2", "127.0.0.3"))
    dialer.check_sources()
    opened = [dialer.connect(5.0) for _ in range(4)]
    peers = []
    for _ in opened:
        accepted, peer = listener.accept()
        peers.append(peer[0])
        accepted.close()
    for sock in opened:
        sock.close()
    listener.close()
    assert peers == ["127.0.0.2", "127.0.0.3", "127.0.0.2", "127.0.0.3"]


def test_a_source_address_that_is_not_local_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"192\.0\.2\.7 is not an address of this machine"):
        Dialer("127.0.0.1", 9, ("192.0.2.7",)).check_sources()


def test_nothing_listening_names_the_url() -> None:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    dialer = Dialer("127.0.0.1", port, label=f"ws://127.0.0.1:{port}/")
    with pytest.raises(
        ServerUnreachable, match=f"nothing accepts connections at ws://127.0.0.1:{port}/"
    ):
        dialer.connect(5.0)
