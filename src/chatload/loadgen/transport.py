"""One WebSocket connection under gevent.

websocket-client opens it: TCP, TLS (verification on unless ``insecure``), the
upgrade with the token where the auth mode puts it. Once open, websockets'
sans-I/O core frames it on the same socket: one ``recv`` brings in every frame
that arrived, where websocket-client would make several small reads per frame.
That is what lets one generator core keep up with a fast server.

The socket is gevent's (Locust patched the standard library at import), so every
blocking call here yields to other greenlets.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import websocket
from gevent.lock import Semaphore
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from chatload.errors import (
    AwaitTimeout,
    ConfigError,
    ConnectionProblem,
    Disconnected,
    HandshakeRejected,
    ServerUnreachable,
)

__all__ = ["TransportSettings", "WebSocketTransport", "tls_context"]

_RECEIVE_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class TransportSettings:
    auth_mode: str = "query"
    token_param: str = "token"
    cookie_name: str = "token"
    ca_bundle: Path | None = None
    insecure: bool = False
    connect_timeout: float = 10.0


def tls_context(settings: TransportSettings) -> ssl.SSLContext:
    """Certificate and host name verification on, unless explicitly ``insecure``."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if settings.ca_bundle is not None:
        try:
            context.load_verify_locations(cafile=str(settings.ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"--ca-bundle {settings.ca_bundle} cannot be loaded: {exc}") from None
    if settings.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _with_query(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, (parts.query, urlencode({name: value}))))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))


class WebSocketTransport:
    """A client connection; ``receive`` in one greenlet, ``send`` from any."""

    def __init__(self, url: str, settings: TransportSettings) -> None:
        scheme = urlsplit(url).scheme
        if scheme not in ("ws", "wss"):
            raise ConfigError(f"--host must be a ws:// or wss:// URL, got {url!r}")
        self.url = url
        self.settings = settings
        self._socket: socket.socket | None = None
        self._protocol: ClientProtocol | None = None
        self._send_lock = Semaphore()
        self._fragments: list[bytes] = []
        self.closing = False
        self.close_code: int | None = None

    def open(self, token: str) -> None:
        """Connect and upgrade; raises a :class:`ConnectionProblem` saying what failed."""
        settings = self.settings
        url, headers, cookie = self.url, [], None
        if settings.auth_mode == "query":
            url = _with_query(url, settings.token_param, token)
        elif settings.auth_mode == "bearer":
            headers.append(f"Authorization: Bearer {token}")
        else:
            cookie = f"{settings.cookie_name}={token}"
        sslopt = {"context": tls_context(settings)} if url.startswith("wss:") else {}
        try:
            connection = websocket.create_connection(
                url,
                timeout=settings.connect_timeout,
                header=headers,
                cookie=cookie,
                sslopt=sslopt,
                enable_multithread=False,
            )
        except websocket.WebSocketBadStatusException as exc:
            raise HandshakeRejected(
                exc.status_code,
                f"the server refused the WebSocket upgrade with HTTP {exc.status_code}",
            ) from None
        except (TimeoutError, websocket.WebSocketTimeoutException):
            raise AwaitTimeout(
                f"timeout: no WebSocket handshake within {settings.connect_timeout} s"
            ) from None
        except ConnectionRefusedError:
            raise ServerUnreachable(f"nothing accepts connections at {self.url}") from None
        except ssl.SSLError as exc:
            raise ConnectionProblem(f"TLS failed with {self.url}: {exc.reason or exc}") from None
        except (OSError, websocket.WebSocketException) as exc:
            raise ServerUnreachable(f"cannot connect to {self.url}: {exc}") from None
        sock = connection.sock
        assert sock is not None
        connection.sock = None  # from here on the frames are ours
        sock.settimeout(None)
        self._socket = sock
        self._protocol = ClientProtocol(parse_uri(self.url), state=State.OPEN, max_size=None)

    def send(self, payload: bytes) -> None:
        """Send one text frame; raises :class:`Disconnected` when the socket is gone."""
        protocol, sock = self._protocol, self._socket
        if protocol is None or sock is None or protocol.state is not State.OPEN:
            raise Disconnected("disconnect: the connection is closed")
        with self._send_lock:
            protocol.send_text(payload)
            self._flush(protocol, sock)

    def _flush(self, protocol: ClientProtocol, sock: socket.socket) -> None:
        data = b"".join(protocol.data_to_send())
        if data:
            try:
                sock.sendall(data)
            except OSError as exc:
                raise Disconnected(f"disconnect: sending failed ({exc.strerror or exc})") from None

    def receive(self) -> tuple[list[bytes], int]:
        """Block until frames arrive: their text payloads and the bytes read.

        Raises :class:`Disconnected` when the connection ends; ``closing`` tells
        whether we ended it.
        """
        protocol, sock = self._protocol, self._socket
        if protocol is None or sock is None:
            raise Disconnected("disconnect: the connection is closed")
        while True:
            try:
                chunk = sock.recv(_RECEIVE_BYTES)
            except OSError as exc:
                raise Disconnected(
                    f"disconnect: receiving failed ({exc.strerror or exc})"
                ) from None
            if not chunk:
                protocol.receive_eof()
                raise Disconnected(self._ended())
            protocol.receive_data(chunk)
            texts = [
                payload
                for event in protocol.events_received()
                if isinstance(event, Frame) and (payload := self._payload(event)) is not None
            ]
            with self._send_lock:  # pongs and close replies
                self._flush(protocol, sock)
            if protocol.state is State.CLOSED or protocol.close_rcvd is not None:
                if texts:
                    return texts, len(chunk)
                raise Disconnected(self._ended())
            if texts:
                return texts, len(chunk)

    def _payload(self, frame: Frame) -> bytes | None:
        if frame.opcode is Opcode.TEXT or frame.opcode is Opcode.BINARY:
            if frame.fin:
                return bytes(frame.data)
            self._fragments = [bytes(frame.data)]
        elif frame.opcode is Opcode.CONT and self._fragments:
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                payload, self._fragments = b"".join(self._fragments), []
                return payload
        return None

    def _ended(self) -> str:
        protocol = self._protocol
        close = protocol.close_rcvd if protocol is not None else None
        self.close_code = close.code if close is not None else 1006
        reason = f" ({close.reason})" if close is not None and close.reason else ""
        return f"disconnect: the server closed the connection with code {self.close_code}{reason}"

    def close(self) -> None:
        """Close on our side: a close frame, then the socket. The receive greenlet
        sees the socket end and, with ``closing`` set, ends quietly."""
        self.closing = True
        protocol, sock = self._protocol, self._socket
        if protocol is None or sock is None:
            return
        self._socket = None
        try:
            if protocol.state is State.OPEN:
                with self._send_lock:
                    protocol.send_close(1000, "")
                    self._flush(protocol, sock)
            sock.shutdown(socket.SHUT_RDWR)
        except (OSError, Disconnected):
            pass
        sock.close()
