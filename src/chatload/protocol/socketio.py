"""Socket.IO v5 over Engine.IO v4 (WebSocket transport only), with no I/O.

Each WebSocket text frame is one Engine.IO packet, its first character the type:
``0`` open (a JSON object: ``sid``, ``pingInterval``, ``pingTimeout``,
``maxPayload``), ``1`` close, ``2`` ping, ``3`` pong, ``4`` message, ``6`` noop.
A message holds one Socket.IO packet, again typed by its first character: ``0``
connect, ``1`` disconnect, ``2`` event, ``3`` ack, ``4`` connect_error, ``5`` and
``6`` binary event and ack; then the namespace (``/chat,``) unless it is ``/``,
then an ack id (digits), then JSON. So a chat event is ``42["name", payload]``.

- :class:`SocketIOCodec` is the chat's envelope over Socket.IO: an
  :class:`~chatload.protocol.codec.EnvelopeCodec`, so everything above it works
  unchanged. Ack ids and binary packets are not part of the chat's protocol: each
  is a :class:`~chatload.errors.MalformedFrame`, counted, never a crash.
- :class:`ClientSession` and :class:`ServerSession` are the two ends of the
  handshake (open, namespace connect) and of the keepalive (the server pings, the
  client answers at once). Each is fed one text frame at a time and hands up the
  packets the codec decodes; what it wants sent collects in :meth:`data_to_send`.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from chatload.errors import Disconnected, HandshakeRejected, MalformedFrame

__all__ = [
    "EVENT_PREFIX",
    "ClientSession",
    "ServerSession",
    "SocketIOCodec",
    "looks_like_engineio_open",
    "socketio_url",
]

EVENT_PREFIX: Final = b"42"
_SIO_NAMES: Final = {
    ord("0"): "connect",
    ord("1"): "disconnect",
    ord("3"): "ack",
    ord("4"): "connect_error",
    ord("5"): "binary event",
    ord("6"): "binary ack",
}


def socketio_url(url: str, path: str) -> str:
    """The WebSocket URL of a Socket.IO server: ``path`` on ``url``'s host, with
    Engine.IO's query (any query of ``url`` kept)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    path = "/" + path.strip("/") + "/"
    query = "&".join(filter(None, (parts.query, "EIO=4&transport=websocket")))
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def looks_like_engineio_open(frame: bytes) -> bool:
    """Whether ``frame`` is an Engine.IO open packet (``0{"sid": ...``)."""
    return frame.startswith(b'0{"') and b'"sid"' in frame[:200]


def _namespace_prefix(namespace: str) -> bytes:
    return b"" if namespace == "/" else namespace.encode() + b","


class SocketIOCodec:
    """``42["name", payload]``, with ``/namespace,`` after ``42`` when not ``/``."""

    __slots__ = ("_prefix", "namespace")
    name = "socketio"

    def __init__(self, namespace: str = "/") -> None:
        self.namespace = namespace
        self._prefix = EVENT_PREFIX + _namespace_prefix(namespace)

    def encode(self, event: str, data: Any) -> bytes:
        return self._prefix + orjson.dumps([event, data])

    def decode(self, frame: bytes | str) -> tuple[str, Any]:
        raw = frame.encode() if isinstance(frame, str) else frame
        prefix = self._prefix
        if not raw.startswith(prefix):
            raise MalformedFrame(self._not_an_event(raw))
        body = raw[len(prefix) :]
        if body[:1].isdigit():
            raise MalformedFrame(
                "socket.io event with an ack id: acks are not part of the chat's protocol"
            )
        try:
            envelope = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise MalformedFrame(f"socket.io event is not valid JSON ({exc})") from None
        if not (isinstance(envelope, list) and len(envelope) == 2):
            raise MalformedFrame("socket.io event is not [name, payload]")
        event, data = envelope
        if not isinstance(event, str):
            raise MalformedFrame("socket.io event: the event name must be a string")
        return event, data

    def _not_an_event(self, raw: bytes) -> str:
        if raw[:1] != b"4":
            return f"not a socket.io message (engine.io packet {raw[:12]!r})"
        kind = _SIO_NAMES.get(raw[1]) if len(raw) > 1 else None
        if kind is not None and kind.startswith("binary"):
            return f"socket.io {kind}: binary packets are not part of the chat's protocol"
        if kind is not None:
            return f"socket.io {kind} packet where an event was expected"
        return f"socket.io packet of namespace other than {self.namespace!r}: {raw[:40]!r}"


class ClientSession:
    """The client's end: answers the open packet with the namespace connect (with
    ``auth``, when given), answers pings with pongs, and ends on close packets."""

    __slots__ = ("_auth", "_namespace", "_out", "connected", "opened", "sid")

    def __init__(self, namespace: str = "/", auth: dict[str, Any] | None = None) -> None:
        self._namespace = _namespace_prefix(namespace)
        self._auth = auth
        self._out: list[bytes] = []
        self.opened = False  # the Engine.IO open packet came
        self.connected = False  # the namespace connect was accepted
        self.sid = ""

    def feed(self, frame: bytes) -> bytes | None:
        """The packet to hand up (a chat event, or something the codec will name),
        or None when the session handled it. Raises :class:`HandshakeRejected` on a
        connect_error and :class:`Disconnected` when the server ends the session."""
        first = frame[:1]
        if first == b"4":
            second = frame[1:2]
            if second and second in b"014" and self._is_mine(frame[2:]):
                self._namespace_packet(second, frame[2 + len(self._namespace) :])
                return None
            return frame
        if first == b"2":
            self._out.append(b"3" + frame[1:])
        elif first == b"0" and not self.opened:
            self._open(frame[1:])
        elif first == b"1":
            raise Disconnected("disconnect: the server closed the engine.io session")
        elif first not in (b"3", b"6"):
            return frame
        return None

    def _is_mine(self, rest: bytes) -> bool:
        if self._namespace:
            return rest.startswith(self._namespace)
        return not rest.startswith(b"/")

    def _open(self, body: bytes) -> None:
        try:
            info = orjson.loads(body)
        except orjson.JSONDecodeError:
            info = None
        if not isinstance(info, dict) or "sid" not in info:
            raise MalformedFrame(f"engine.io open packet without a sid: {body[:60]!r}")
        self.opened = True
        auth = orjson.dumps(self._auth) if self._auth is not None else b""
        self._out.append(b"40" + self._namespace + auth)

    def _namespace_packet(self, kind: bytes, body: bytes) -> None:
        if kind == b"0":
            info = _json_object(body)
            self.connected = True
            self.sid = str(info.get("sid", ""))
            return
        if kind == b"4":
            message = _json_object(body).get("message") or body.decode(errors="replace")
            if self.connected:
                raise Disconnected(f"disconnect: socket.io connect_error: {message}")
            raise HandshakeRejected(403, f"the server refused the socket.io connect: {message}")
        raise Disconnected("disconnect: the server disconnected the socket.io namespace")

    def data_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def close_packet(self) -> bytes:
        """What to send before closing: the namespace disconnect."""
        return b"41" + self._namespace.rstrip(b",")


class ServerSession:
    """The server's end: the open packet, the namespace connect with its auth
    object, pings, and the client's packets handed up."""

    __slots__ = ("connected", "ping_interval_ms", "ping_timeout_ms", "sid")

    def __init__(self, sid: str, ping_interval_ms: int, ping_timeout_ms: int) -> None:
        self.sid = sid
        self.ping_interval_ms = ping_interval_ms
        self.ping_timeout_ms = ping_timeout_ms
        self.connected = False

    def open_packet(self, max_payload: int) -> bytes:
        info = {
            "sid": self.sid,
            "upgrades": [],
            "pingInterval": self.ping_interval_ms,
            "pingTimeout": self.ping_timeout_ms,
            "maxPayload": max_payload,
        }
        return b"0" + orjson.dumps(info)

    @staticmethod
    def ping_packet() -> bytes:
        return b"2"

    def connect_ack(self) -> bytes:
        self.connected = True
        return b"40" + orjson.dumps({"sid": self.sid})

    @staticmethod
    def connect_error(message: str) -> bytes:
        return b"44" + orjson.dumps({"message": message})

    def feed(self, frame: bytes) -> tuple[str, Any]:
        """What a client frame is: ``("event", frame)`` for a packet to decode,
        ``("connect", auth)`` for the namespace connect (auth: its object or None),
        ``("ping"|"close"|"ignore", None)``, or ``("bad", reason)``."""
        first = frame[:1]
        if first != b"4":
            kind = _ENGINE_PACKETS.get(first)
            return (kind, None) if kind else ("bad", f"not an engine.io packet: {frame[:12]!r}")
        second = frame[1:2]
        if second == b"0" and not self.connected:
            body = frame[2:]
            if body.startswith(b"/"):
                return "bad", "only the namespace / is served"
            return "connect", _json_object(body) if body else None
        return ("close", None) if second == b"1" else ("event", frame)


_ENGINE_PACKETS: Final = {b"1": "close", b"2": "ping", b"3": "ignore", b"6": "ignore"}


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
