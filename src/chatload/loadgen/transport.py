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

import os
import socket
import ssl
import struct
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import websocket
from gevent.lock import Semaphore
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask

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
_MASK_BYTES = 4096
_WHOLE_DATA_FRAMES = frozenset((0x81, 0x82))  # FIN set, no RSV bits, text or binary


class _Masks:
    """Frame masks from the system's CSPRNG, 4 KiB at a time.

    RFC 6455 wants unpredictable masks; drawing each from ``secrets`` costs one
    ``getrandom`` call per frame, which a generator sending tens of thousands of
    frames per second should not pay.
    """

    def __init__(self) -> None:
        self._block = b""
        self._at = _MASK_BYTES

    def next(self) -> bytes:
        if self._at >= _MASK_BYTES:
            self._block, self._at = os.urandom(_MASK_BYTES), 0
        at = self._at
        self._at = at + 4
        return self._block[at : at + 4]


_masks = _Masks()


def text_frame(payload: bytes, mask: bytes) -> bytes:
    """One final, masked text frame: what a client sends for each event."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, length)
    return header + mask + apply_mask(payload, mask)


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
        self._buffer = bytearray()
        self._fragmented = False
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
        """Send one text frame; raises :class:`Disconnected` when the socket is gone.

        Data frames are built here (see ``text_frame``); control frames, which
        change the connection's state, go through websockets' protocol object.
        """
        protocol, sock = self._protocol, self._socket
        if protocol is None or sock is None or protocol.state is not State.OPEN:
            raise Disconnected("disconnect: the connection is closed")
        with self._send_lock:
            self._write(sock, text_frame(payload, _masks.next()))

    def _flush(self, protocol: ClientProtocol, sock: socket.socket) -> None:
        data = b"".join(protocol.data_to_send())
        if data:
            self._write(sock, data)

    @staticmethod
    def _write(sock: socket.socket, data: bytes) -> None:
        # send() rather than sendall(): gevent's sendall asks the kernel for the
        # buffer size on every call, one syscall too many per frame.
        try:
            sent = sock.send(data)
            while sent < len(data):
                data = data[sent:]
                sent = sock.send(data)
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
            texts = self._frames(chunk, protocol, sock)
            if protocol.state is not State.OPEN:  # closed by the server, or failed by websockets
                if texts:
                    return texts, len(chunk)
                raise Disconnected(self._ended())
            if texts:
                return texts, len(chunk)

    def _frames(self, chunk: bytes, protocol: ClientProtocol, sock: socket.socket) -> list[bytes]:
        """Split the received bytes into frames.

        A whole, unfragmented, unmasked text or binary frame (nearly every frame
        of a chat) is cut out here; every other frame (control frames, fragments,
        anything malformed) is handed, byte for byte, to websockets' protocol
        object, which answers pings, handles closes and fails bad frames.
        """
        buffer = self._buffer
        buffer += chunk
        texts: list[bytes] = []
        size, at = len(buffer), 0
        while size - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            length, head = second & 0x7F, 2
            if length == 126:
                if size - at < 4:
                    break
                length, head = int.from_bytes(buffer[at + 2 : at + 4], "big"), 4
            elif length == 127:
                if size - at < 10:
                    break
                length, head = int.from_bytes(buffer[at + 2 : at + 10], "big"), 10
            if second & 0x80:
                head += 4  # a masked frame from a server: websockets will refuse it
            end = at + head + length
            if end > size:
                break
            if first in _WHOLE_DATA_FRAMES and not second & 0x80 and not self._fragmented:
                texts.append(bytes(buffer[at + head : end]))
            else:
                texts.extend(self._slow_frame(bytes(buffer[at:end]), first, protocol, sock))
                if protocol.state is not State.OPEN:
                    at = end
                    break
            at = end
        if at == size:
            # A fresh buffer: a bytearray keeps its largest size once grown, and
            # thousands of idle connections should not each keep an initial_data.
            self._buffer = bytearray()
        else:
            del buffer[:at]
        return texts

    def _slow_frame(
        self, frame: bytes, first: int, protocol: ClientProtocol, sock: socket.socket
    ) -> list[bytes]:
        opcode, fin = first & 0x0F, bool(first & 0x80)
        if opcode in (1, 2):
            self._fragmented = not fin
        elif opcode == 0 and fin:
            self._fragmented = False
        protocol.receive_data(frame)
        texts = [
            payload
            for event in protocol.events_received()
            if isinstance(event, Frame) and (payload := self._payload(event)) is not None
        ]
        with self._send_lock:  # pongs and close replies
            self._flush(protocol, sock)
        return texts

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
        if close is None and protocol is not None and protocol.close_sent is not None:
            # websockets failed the connection on a frame that broke RFC 6455.
            sent = protocol.close_sent
            self.close_code = sent.code
            return f"disconnect: the server broke the WebSocket protocol ({sent.reason})"
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
