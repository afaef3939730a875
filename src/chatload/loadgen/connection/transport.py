"""One WebSocket connection of the generator.

Opening: the :class:`~chatload.loadgen.connection.dialer.Dialer` connects TCP (from a
chosen source address), TLS wraps it for ``wss://`` (verification on unless
``insecure``), and websocket-client performs the upgrade with the token where
the auth mode puts it. From then on the socket is non-blocking and ours: the
:class:`~chatload.loadgen.connection.framing.ClientFramer` cuts frames out of whatever one
``recv`` brings, and :meth:`read_available` never waits, so one process-wide
reader can serve every connection (:mod:`chatload.loadgen.connection.receiver`).

Nothing here imports gevent: under Locust the socket and ``selectors`` are gevent's
(Locust patches the standard library), so the few waits here (the first frame,
a full send buffer) yield to other greenlets.
"""

from __future__ import annotations

import selectors
import socket
import ssl
import time
from typing import Final

import websocket

from chatload.errors import (
    AwaitTimeout,
    ChatloadError,
    ConnectionProblem,
    Disconnected,
    HandshakeRejected,
    MalformedFrame,
    ServerUnreachable,
)
from chatload.loadgen.connection.dialer import Dialer
from chatload.loadgen.connection.endpoint import (
    TransportSettings,
    check_url,
    dialer_for,
    refused_token,
    tls_context,
    with_query,
)
from chatload.loadgen.connection.framing import ClientFramer, next_mask, text_frame
from chatload.protocol.socketio import EVENT_PREFIX, ClientSession, socketio_url

__all__ = [
    "TransportSettings",
    "WebSocketTransport",
    "dialer_for",
    "refused_token",
    "text_frame",
    "tls_context",
]

_RECEIVE_BYTES: Final = 256 * 1024
_READ_BUDGET: Final = 1024 * 1024  # bytes one visit of the reader takes from one connection
_WOULD_BLOCK: Final = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class _UpgradeReader:
    """The socket as websocket-client sees it during the upgrade.

    websocket-client reads the HTTP response one byte per ``recv`` call; on a
    socket that is one system call (and one trip through gevent) a byte, about
    170 for a response, which a connection storm of a thousand users a second
    pays in full. Here one ``recv`` takes whatever arrived and hands it out a
    byte at a time; what comes after the response (the first frames) is kept in
    ``rest`` for the framer.
    """

    __slots__ = ("_at", "_data", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock  # blocking, with the connect timeout
        self._data = b""
        self._at = 0

    def recv(self, size: int) -> bytes:
        if self._at >= len(self._data):
            self._data, self._at = self.sock.recv(_RECEIVE_BYTES), 0
        at = self._at
        self._at = at + size
        return self._data[at : at + size]

    def send(self, data: bytes) -> int:
        return self.sock.send(data)

    def gettimeout(self) -> float:
        # "Non-blocking" takes websocket-client's shortest path to recv and send,
        # with no selector per byte; the socket under it does block, with its
        # timeout, and its timeout error is what websocket-client expects.
        return 0.0

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    def fileno(self) -> int:
        return self.sock.fileno()

    def shutdown(self, how: int) -> None:
        self.sock.shutdown(how)

    def close(self) -> None:
        self.sock.close()

    @property
    def rest(self) -> bytes:
        return self._data[self._at :]


class WebSocketTransport:
    """A client connection: ``send`` from any greenlet, frames read by one."""

    __slots__ = (
        "_context",
        "_dialer",
        "_end",
        "_framer",
        "_held",
        "_session",
        "_socket",
        "close_code",
        "closing",
        "settings",
        "url",
    )

    def __init__(
        self,
        url: str,
        settings: TransportSettings,
        dialer: Dialer | None = None,
        context: ssl.SSLContext | None = None,
    ) -> None:
        check_url(url)
        if settings.transport == "socketio":
            url = socketio_url(url, settings.socketio_path)
        self.url = url
        self.settings = settings
        self._dialer = dialer
        self._context = context
        self._socket: socket.socket | None = None
        self._framer: ClientFramer | None = None
        self._end: Disconnected | None = None  # seen with frames still to hand out
        self._held: list[bytes] | None = None  # frames that came with the upgrade
        self._session: ClientSession | None = None  # Socket.IO's, when it is the transport
        self.closing = False
        self.close_code: int | None = None

    def open(self, token: str) -> None:
        """Connect and upgrade; raises a :class:`ConnectionProblem` saying what failed."""
        settings = self.settings
        url, headers, cookie = self.url, [], None
        if settings.auth_mode == "query":
            url = with_query(url, settings.token_param, token)
        elif settings.auth_mode == "bearer":
            headers.append(f"Authorization: Bearer {token}")
        elif settings.auth_mode == "cookie":
            cookie = f"{settings.cookie_name}={token}"
        if settings.transport == "socketio":
            auth = {"token": token} if settings.auth_mode == "auth" else None
            self._session = ClientSession(settings.namespace, auth)
        dialer = self._dialer or dialer_for(self.url, settings)
        sock = dialer.connect(settings.connect_timeout)
        try:
            if self.url.startswith("wss:"):
                context = self._context or tls_context(settings)
                sock = context.wrap_socket(sock, server_hostname=dialer.host)
            reader = _UpgradeReader(sock)
            upgraded = websocket.create_connection(
                url, header=headers, cookie=cookie, socket=reader, enable_multithread=False
            )
            # Only the upgrade was wanted. websocket-client's object points at itself
            # (its frame buffer reads through a bound method): emptied here, it is
            # freed now instead of at a full garbage collection (see
            # loadgen.engine.gc_policy).
            if hasattr(upgraded, "__dict__"):  # a later websocket-client may use slots
                upgraded.__dict__.clear()
        except websocket.WebSocketBadStatusException as exc:
            sock.close()
            raise HandshakeRejected(
                exc.status_code,
                f"the server refused the WebSocket upgrade with HTTP {exc.status_code}",
            ) from None
        except (TimeoutError, websocket.WebSocketTimeoutException):
            sock.close()
            raise AwaitTimeout(
                f"timeout: no WebSocket handshake within {settings.connect_timeout} s"
            ) from None
        except ssl.SSLError as exc:
            sock.close()
            raise ConnectionProblem(f"TLS failed with {self.url}: {exc.reason or exc}") from None
        except (OSError, websocket.WebSocketException) as exc:
            sock.close()
            raise ServerUnreachable(f"cannot connect to {self.url}: {exc}") from None
        self.attach(sock, reader.rest)
        if self._session is not None:
            try:
                self._socketio_connect(self._session, settings.connect_timeout)
            except ChatloadError:
                self.close()
                raise

    def _socketio_connect(self, session: ClientSession, timeout: float) -> None:
        """Engine.IO's open packet, then the namespace connect and its answer; chat
        frames that come with the answer are kept for the first ``receive``."""
        sock = self._socket
        assert sock is not None
        deadline = time.monotonic() + timeout
        held: list[bytes] = []
        while not session.connected:
            frames = self.read_available()
            if frames and not session.opened:
                raise MalformedFrame(
                    f"the server sent {frames[0][:60]!r} where Socket.IO's open packet was "
                    "expected: it looks like a plain WebSocket server (--transport websocket)"
                )
            held += frames
            left = deadline - time.monotonic()
            if not session.connected and (left <= 0 or not _wait(sock, selectors.EVENT_READ, left)):
                what = "socket.io connect answer" if session.opened else "engine.io open packet"
                raise AwaitTimeout(f"timeout: no {what} within {timeout} s")
        self._held = held or None

    def attach(self, sock: socket.socket, rest: bytes = b"") -> None:
        """Take over a connected socket whose upgrade is done; ``rest``: the bytes
        that came after the upgrade response."""
        sock.setblocking(False)
        self._socket = sock
        self._framer = ClientFramer(self.url)
        if rest:
            held = self._framer.feed(rest)
            if self._session is not None:
                held = self._through_session(self._session, held)
                self._flush()
            self._held = held or None

    @property
    def ended(self) -> Disconnected | None:
        """How the connection ended, once the frames that came before the end are out."""
        return self._end

    def fileno(self) -> int:
        return self._socket.fileno() if self._socket is not None else -1

    # Sending

    def send(self, payload: bytes) -> None:
        """Send one text frame; raises :class:`Disconnected` when the socket is gone."""
        framer, sock = self._framer, self._socket
        if sock is None or framer is None or not framer.open:
            raise Disconnected("disconnect: the connection is closed")
        self._write(sock, text_frame(payload, next_mask()))

    def _write(self, sock: socket.socket, data: bytes) -> None:
        # send() rather than sendall(): gevent's sendall asks the kernel for the
        # buffer size on every call, one syscall too many per frame.
        try:
            sent = sock.send(data)
        except _WOULD_BLOCK:
            sent = 0
        except OSError as exc:
            raise Disconnected(f"disconnect: sending failed ({exc.strerror or exc})") from None
        if sent < len(data):
            self._write_slowly(sock, memoryview(data)[sent:])

    def _write_slowly(self, sock: socket.socket, rest: memoryview) -> None:
        """The rest of a frame the kernel could not take at once: wait until it can.

        Frames are written whole by one greenlet at a time: nothing else yields
        between a frame's first byte and its last except this wait."""
        deadline = time.monotonic() + self.settings.write_timeout
        while rest:
            left = deadline - time.monotonic()
            if left <= 0 or not _wait(sock, selectors.EVENT_WRITE, left):
                raise Disconnected(
                    f"disconnect: the server read nothing for {self.settings.write_timeout} s"
                )
            try:
                rest = rest[sock.send(rest) :]
            except _WOULD_BLOCK:
                continue
            except OSError as exc:
                raise Disconnected(f"disconnect: sending failed ({exc.strerror or exc})") from None

    def _flush(self) -> None:
        framer, sock = self._framer, self._socket
        if framer is not None and sock is not None:
            data = framer.data_to_send()
            if self._session is not None:
                for packet in self._session.data_to_send():  # pongs: answered at once
                    data += text_frame(packet, next_mask())
            if data:
                self._write(sock, data)

    @staticmethod
    def _through_session(session: ClientSession, frames: list[bytes]) -> list[bytes]:
        """Socket.IO: chat events pass, the session takes its own packets."""
        passed = []
        for frame in frames:
            if frame.startswith(EVENT_PREFIX):
                passed.append(frame)
            else:
                packet = session.feed(frame)
                if packet is not None:
                    passed.append(packet)
        return passed

    # Receiving

    def read_available(self) -> list[bytes]:
        """The payloads of the frames that arrived, without waiting (possibly none).

        Raises :class:`Disconnected` when the connection ended; ``closing`` tells
        whether we ended it."""
        framer, sock = self._framer, self._socket
        if self._end is not None:
            raise self._end
        if framer is None or sock is None:
            raise Disconnected("disconnect: the connection is closed")
        payloads: list[bytes] = self._held or []
        self._held = None
        taken = 0
        while taken < _READ_BUDGET:
            try:
                chunk = sock.recv(_RECEIVE_BYTES)
            except _WOULD_BLOCK:
                break
            except OSError as exc:
                raise Disconnected(
                    f"disconnect: receiving failed ({exc.strerror or exc})"
                ) from None
            if not chunk:
                framer.receive_eof()
                return self._end_with(payloads)
            taken += len(chunk)
            frames = framer.feed(chunk)
            if self._session is not None and frames:
                frames = self._through_session(self._session, frames)
            payloads += frames
            self._flush()
            if not framer.open:
                return self._end_with(payloads)
            if len(chunk) < _RECEIVE_BYTES and not _has_pending(sock):
                break  # drained: another recv would only say so
        return payloads

    def receive(self, timeout: float | None = None) -> tuple[list[bytes], int]:
        """Wait until frames arrive (at most ``timeout`` seconds): their payloads and
        the bytes read. Used before the connection joins the process-wide reader."""
        sock = self._socket
        if sock is None:
            raise Disconnected("disconnect: the connection is closed")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            payloads = self.read_available()
            if payloads:
                return payloads, sum(len(p) for p in payloads)
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise AwaitTimeout(f"timeout: no frame within {timeout} s")
            _wait(sock, selectors.EVENT_READ, left)

    def _end_with(self, payloads: list[bytes]) -> list[bytes]:
        """The connection ended: frames that came before the end are handed out
        first, and the end is raised at the next read."""
        assert self._framer is not None
        self.close_code, reason = self._framer.ended()
        self._end = Disconnected(reason)
        if payloads:
            return payloads
        raise self._end

    def close(self) -> None:
        """Close on our side: a close frame, then the socket."""
        self.closing = True
        framer, sock = self._framer, self._socket
        if sock is None:
            return
        self._socket = None
        try:
            if framer is not None and framer.open:
                if self._session is not None and self._session.connected:
                    sock.send(text_frame(self._session.close_packet(), next_mask()))
                sock.send(framer.close_frame(1000))
            sock.shutdown(socket.SHUT_RDWR)
        except (OSError, ChatloadError):
            pass
        sock.close()


def _wait(sock: socket.socket, event: int, timeout: float | None) -> bool:
    """Whether ``sock`` became readable or writable within ``timeout``. Under
    Locust the selector is gevent's, so the wait yields; no fd number limit."""
    with selectors.DefaultSelector() as selector:
        selector.register(sock, event)
        return bool(selector.select(timeout))


def _has_pending(sock: socket.socket) -> bool:
    """Decrypted bytes waiting inside a TLS socket, which no poll would announce."""
    pending = getattr(sock, "pending", None)
    return bool(pending()) if pending is not None else False
