"""One client connection: asyncio moves bytes, websockets' sans-I/O core frames them.

:class:`ChatConnection` is an :class:`asyncio.Protocol` around
:class:`websockets.server.ServerProtocol`, the way websockets' own asyncio layer
works, minus the per-frame coroutines: frames produced by fan-out during one loop
iteration leave in one ``writelines`` per connection. Chat logic lives in
:class:`~chatload.server.service.ChatService`; this class only authenticates the
upgrade, reassembles fragments, enforces the frame size limit and applies
backpressure (a connection with too many writes in the pipeline stops being read;
one that does not read its frames is dropped).
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import http
import logging
from typing import TYPE_CHECKING, cast

from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from chatload.protocol.socketio import ServerSession
from chatload.server.auth import token_from_request
from chatload.server.metrics import CONTENT_TYPE_LATEST, is_metrics_request

if TYPE_CHECKING:
    from chatload.server.app import ChatServer

__all__ = ["ChatConnection"]

log = logging.getLogger("chatload.server")
_ws_log = logging.getLogger("chatload.server.websocket")

_AUTH_HINT = (
    "Missing or invalid token: pass it as ?{param}=<token> or as the header "
    "'Authorization: Bearer <token>'.\n"
)


class ChatConnection(asyncio.Protocol):
    def __init__(self, server: ChatServer) -> None:
        self.server = server
        self.config = server.config
        self.ws = ServerProtocol(max_size=self.config.max_message_bytes, logger=_ws_log)
        self.transport: asyncio.Transport | None = None
        self.user_id = 0
        self.opened = False
        self.peer_name = "?"
        self.last_seen = 0.0
        self.inflight = 0
        self._reading_paused = False
        self._flush_queued = False
        self._fragments: list[bytes] | None = None
        self._fragment_opcode = Opcode.TEXT
        self._timer: asyncio.TimerHandle | None = None
        self._alive: asyncio.TimerHandle | None = None  # the next keepalive look
        self.sio: ServerSession | None = None  # Socket.IO mode, once upgraded

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but behave as one.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.peer_name = f"{peer[0]}:{peer[1]}"
        self.last_seen = self.server.loop.time()
        self.server.track(self)
        self._timer = self.server.loop.call_later(self.config.open_timeout, self._open_timed_out)

    def data_received(self, data: bytes) -> None:
        self.last_seen = self.server.loop.time()
        ws = self.ws
        ws.receive_data(data)
        for event in ws.events_received():
            if isinstance(event, Frame):
                self._frame(event)
            elif isinstance(event, Request):
                self._handshake(event)
        self.flush()
        if ws.close_expected():
            self._expect_close()

    def eof_received(self) -> bool:
        self.ws.receive_eof()
        self.flush()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.ws.receive_eof()
        # websockets keeps the EOFError that ended its parser, whose traceback holds
        # the parser's frame, which holds the protocol: a cycle. Broken here, a
        # closed connection is freed at once (the server freezes what lives long,
        # see ServerConfig.freeze_gc).
        self.ws.parser_exc = None
        if self._timer is not None:
            self._timer.cancel()
        if self._alive is not None:
            self._alive.cancel()
            self._alive = None
        if self.opened:
            self.opened = False
            self.server.service.close(self)
            log.debug("connection closed", extra={"user_id": self.user_id, "peer": self.peer_name})
        self.server.untrack(self)

    # The Peer interface of the service

    def send(self, frame: bytes) -> None:
        delay = self.server.delay_line
        if delay is not None and self.user_id >= self.config.test_delay_from_user:
            delay.put(functools.partial(self._send_now, frame))
        else:
            self._send_now(frame)

    def _send_now(self, frame: bytes) -> None:
        if self.ws.state is not State.OPEN:
            return
        self.ws.send_text(frame)
        if not self._flush_queued:
            self._flush_queued = True
            self.server.queue_flush(self)

    def hold(self) -> None:
        self.inflight += 1
        if self.inflight >= self.config.max_inflight and not self._reading_paused:
            assert self.transport is not None
            self._reading_paused = True
            self.transport.pause_reading()

    def release(self) -> None:
        self.inflight -= 1
        if self._reading_paused and self.inflight <= self.config.max_inflight // 2:
            assert self.transport is not None
            self._reading_paused = False
            if not self.transport.is_closing():
                self.transport.resume_reading()

    # Writing

    def flush(self) -> None:
        self._flush_queued = False
        chunks = self.ws.data_to_send()
        transport = self.transport
        if not chunks or transport is None or transport.is_closing():
            return
        if chunks[-1] == b"":
            transport.writelines(chunks[:-1])
            if transport.can_write_eof():
                transport.write_eof()
            else:
                transport.close()
            return
        transport.writelines(chunks)
        buffered = transport.get_write_buffer_size()
        if buffered > self.config.max_send_buffer:
            log.warning(
                "dropping a connection that does not read its frames",
                extra={"user_id": self.user_id, "peer": self.peer_name, "buffered": buffered},
            )
            transport.abort()

    def close(self, code: int = 1001, reason: str = "server shutting down") -> None:
        """Start the closing handshake; the transport closes when the peer answers
        or after the close timeout."""
        if self.ws.state is State.OPEN:
            self.ws.send_close(code, reason)
            self.flush()
            self._expect_close()
        elif self.transport is not None and self.ws.state is State.CONNECTING:
            self.transport.close()

    def ping(self) -> None:
        if self.ws.state is State.OPEN:
            if self.sio is not None:
                self.ws.send_text(self.sio.ping_packet())  # Engine.IO's own keepalive
            else:
                self.ws.send_ping(b"")
            self.flush()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # Events

    def _handshake(self, request: Request) -> None:
        ws = self.ws
        if is_metrics_request(request.path, request.headers.get("Upgrade")):
            body = self.server.metrics.exposition()
            headers = Headers(
                [
                    ("Date", email.utils.formatdate(usegmt=True)),
                    ("Connection", "close"),
                    ("Content-Length", str(len(body))),
                    ("Content-Type", CONTENT_TYPE_LATEST),
                ]
            )
            ws.send_response(Response(http.HTTPStatus.OK, "OK", headers, body))
            return
        token = token_from_request(request, self.config.token_param)
        user_id = self.server.service.authenticate(token)
        if self.config.transport == "socketio" and token is None:
            user_id = 0  # the token may come in the namespace connect's auth object
        if user_id is None:
            log.info("handshake refused: no valid token", extra={"peer": self.peer_name})
            ws.send_response(
                ws.reject(
                    http.HTTPStatus.UNAUTHORIZED, _AUTH_HINT.format(param=self.config.token_param)
                )
            )
            return
        response = ws.accept(request)
        ws.send_response(response)
        if response.status_code != http.HTTPStatus.SWITCHING_PROTOCOLS:
            return
        if self.config.transport == "socketio":
            self._socketio_open(user_id)
            return
        self._opened(user_id)

    def _opened(self, user_id: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.user_id = user_id
        self.opened = True
        log.debug("connection opened", extra={"user_id": user_id, "peer": self.peer_name})
        self.server.service.open(self)
        self._look_alive_at(self.last_seen + self.config.ping_interval)

    # Socket.IO: the Engine.IO open packet at once, the chat after the namespace
    # connect (whose auth object may carry the token); the open timeout runs on
    # until then.

    def _socketio_open(self, user_id: int) -> None:
        config = self.config
        self.user_id = user_id
        self.sio = ServerSession(
            f"{id(self):x}", int(config.ping_interval * 1000), int(config.ping_timeout * 1000)
        )
        self.ws.send_text(self.sio.open_packet(config.max_message_bytes))

    def _socketio_packet(self, payload: bytes) -> None:
        assert self.sio is not None
        kind, value = self.sio.feed(payload)
        if kind == "event":
            if self.opened:
                self._chat_frame(payload)
        elif kind == "connect":
            self._socketio_connect(value)
        elif kind == "ping":  # an Engine.IO v3 habit: answered all the same
            self.ws.send_text(b"3")
        elif kind == "close":
            self.close(1000, "socket.io disconnect")
        elif kind == "bad":
            if self.opened:
                self.server.service.reply_error(self, "bad_request", value, None)
            else:
                self.close(1002, value)

    def _socketio_connect(self, auth: object) -> None:
        assert self.sio is not None
        user_id: int | None = self.user_id
        if not user_id:
            token = auth.get("token") if isinstance(auth, dict) else None
            user_id = self.server.service.authenticate(token if isinstance(token, str) else None)
        if not user_id:
            log.info("socket.io connect refused: no valid token", extra={"peer": self.peer_name})
            self.ws.send_text(
                self.sio.connect_error(
                    "missing or invalid token: pass it in the connect's auth object "
                    f'{{"token": ...}}, as ?{self.config.token_param}=, or as a bearer token'
                )
            )
            self.close(1008, "invalid token")
            return
        self.ws.send_text(self.sio.connect_ack())
        self._opened(user_id)

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if not frame.fin:
                self._fragments = [bytes(frame.data)]
                self._fragment_opcode = opcode
                return
            payload = bytes(frame.data)
        elif opcode is Opcode.CONT and self._fragments is not None:
            self._fragments.append(bytes(frame.data))
            if not frame.fin:
                return
            payload = b"".join(self._fragments)
            opcode = self._fragment_opcode
            self._fragments = None
        else:
            return  # control frames: websockets answers pings and closes itself
        if self.sio is not None and opcode is Opcode.TEXT:
            self._socketio_packet(payload)
        elif self.opened:
            self._chat_frame(payload, opcode)

    def _chat_frame(self, payload: bytes, opcode: Opcode = Opcode.TEXT) -> None:
        service = self.server.service
        if opcode is Opcode.BINARY:
            service.reply_error(
                self,
                "bad_request",
                "binary frames are not part of the protocol: send JSON text",
                None,
            )
        elif len(payload) > self.config.max_frame_bytes:
            service.reply_error(
                self,
                "too_large",
                f"a frame of {len(payload)} bytes exceeds the limit of "
                f"{self.config.max_frame_bytes} bytes",
                None,
            )
        else:
            service.receive(self, payload)

    # Keepalive: each connection has its own timer, due when it would have been
    # quiet for a ping interval. Connections that open at different moments are
    # pinged at different moments, and a look costs one connection, not all.

    def _look_alive_at(self, when: float) -> None:
        self._alive = self.server.loop.call_at(when, self._check_alive)

    def _check_alive(self) -> None:
        self._alive = None
        if not self.opened or self.transport is None:
            return
        interval, timeout = self.config.ping_interval, self.config.ping_timeout
        quiet = self.server.loop.time() - self.last_seen
        if quiet >= interval + timeout:
            log.info(
                "dropping a connection that stopped answering pings",
                extra={"user_id": self.user_id, "peer": self.peer_name},
            )
            self.abort()
        elif quiet >= interval:
            self.ping()
            self._look_alive_at(self.last_seen + interval + timeout)
        else:
            self._look_alive_at(self.last_seen + interval)

    def _open_timed_out(self) -> None:
        self._timer = None
        if not self.opened and self.transport is not None:
            what = "Socket.IO connect" if self.sio is not None else "WebSocket handshake"
            log.info(f"no {what} in time", extra={"peer": self.peer_name})
            self.transport.abort()

    def _expect_close(self) -> None:
        if self._timer is None and self.transport is not None:
            self._timer = self.server.loop.call_later(self.config.close_timeout, self.abort)
