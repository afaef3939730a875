"""The client side of RFC 6455 framing, with no I/O: bytes in, payloads out.

A chat connection carries whole, unfragmented text frames nearly all the time,
and now and then a server ping. :class:`ClientFramer` cuts those out of the
received bytes directly and answers pings itself; every other frame (a close,
a fragment, a masked or reserved frame) is handed, byte for byte, to
websockets' sans-I/O :class:`~websockets.client.ClientProtocol`, created on
first need, which answers closes and fails frames that break the RFC. Bytes the
framer wants sent (pongs, close replies) collect in :meth:`data_to_send`.

Outgoing data frames are built by :func:`text_frame`, with masks drawn from the
system's CSPRNG in blocks.
"""

from __future__ import annotations

import os
import struct
from typing import Final

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask

__all__ = ["ClientFramer", "next_mask", "text_frame"]

_MASK_BYTES: Final = 4096
_WHOLE_DATA_FRAMES: Final = frozenset((0x81, 0x82))  # FIN set, no RSV bits, text or binary
_PING: Final = 0x89  # FIN set, no RSV bits
_PONG: Final = 0x8A


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


next_mask = _Masks().next


def _frame(opcode: int, payload: bytes, mask: bytes) -> bytes:
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", opcode, 0x80 | 127, length)
    return header + mask + apply_mask(payload, mask)


def text_frame(payload: bytes, mask: bytes) -> bytes:
    """One final, masked text frame: what a client sends for each event."""
    return _frame(0x81, payload, mask)


def _frame_at(buffer: bytearray, at: int, size: int) -> tuple[int, bool, int, int] | None:
    """The whole frame at ``at``: its first byte, whether it is masked, and where
    its payload starts and ends; None until all of it arrived."""
    if size - at < 2:
        return None
    first, second = buffer[at], buffer[at + 1]
    length, head = second & 0x7F, 2
    if length == 126:
        if size - at < 4:
            return None
        length, head = int.from_bytes(buffer[at + 2 : at + 4], "big"), 4
    elif length == 127:
        if size - at < 10:
            return None
        length, head = int.from_bytes(buffer[at + 2 : at + 10], "big"), 10
    masked = bool(second & 0x80)
    if masked:
        head += 4  # a masked frame from a server: websockets will refuse it
    end = at + head + length
    return (first, masked, at + head, end) if end <= size else None


class ClientFramer:
    """One connection's incoming frames; ``feed`` is the hot path."""

    __slots__ = ("_buffer", "_fragmented", "_fragments", "_outgoing", "_protocol", "_url")

    def __init__(self, url: str) -> None:
        self._url = url
        self._protocol: ClientProtocol | None = None
        self._buffer = bytearray()
        self._fragmented = False
        self._fragments: list[bytes] | None = None
        self._outgoing: list[bytes] | None = None

    @property
    def protocol(self) -> ClientProtocol:
        """websockets' view of the connection, for the frames it handles."""
        if self._protocol is None:
            self._protocol = ClientProtocol(parse_uri(self._url), state=State.OPEN, max_size=None)
        return self._protocol

    @property
    def open(self) -> bool:
        """False once a close was received or sent, or a frame broke the RFC."""
        return self._protocol is None or self._protocol.state is State.OPEN

    def feed(self, chunk: bytes) -> list[bytes]:
        """The payloads of the data frames completed by ``chunk``."""
        buffer = self._buffer
        buffer += chunk
        payloads: list[bytes] = []
        size, at = len(buffer), 0
        while (frame := _frame_at(buffer, at, size)) is not None:
            first, masked, start, end = frame
            if not masked and not self._fragmented and first in _WHOLE_DATA_FRAMES:
                payloads.append(bytes(buffer[start:end]))
            elif masked or end - start > 125 or not self._control(first, buffer, start, end):
                payloads.extend(self._slow_frame(bytes(buffer[at:end]), first))
                if not self.open:
                    at = end
                    break
            at = end
        if at == size:
            # A fresh buffer: a bytearray keeps its largest size once grown, and
            # thousands of idle connections should not each keep an initial_data.
            self._buffer = bytearray()
        else:
            del buffer[:at]
        return payloads

    def _control(self, first: int, buffer: bytearray, start: int, end: int) -> bool:
        """A ping answered or a pong ignored here; False for anything else."""
        if first == _PING and self.open:
            self._send(_frame(_PONG, bytes(buffer[start:end]), next_mask()))
            return True
        # We never ping; an unsolicited pong is allowed and means nothing.
        return first == _PONG

    def _slow_frame(self, frame: bytes, first: int) -> list[bytes]:
        opcode, fin = first & 0x0F, bool(first & 0x80)
        if opcode in (1, 2):
            self._fragmented = not fin
        elif opcode == 0 and fin:
            self._fragmented = False
        protocol = self.protocol
        protocol.receive_data(frame)
        payloads = [
            payload
            for event in protocol.events_received()
            if isinstance(event, Frame) and (payload := self._payload(event)) is not None
        ]
        for data in protocol.data_to_send():
            if data:
                self._send(data)
        return payloads

    def _payload(self, frame: Frame) -> bytes | None:
        if frame.opcode is Opcode.TEXT or frame.opcode is Opcode.BINARY:
            if frame.fin:
                return bytes(frame.data)
            self._fragments = [bytes(frame.data)]
        elif frame.opcode is Opcode.CONT and self._fragments:
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                payload, self._fragments = b"".join(self._fragments), None
                return payload
        return None

    def _send(self, data: bytes) -> None:
        if self._outgoing is None:
            self._outgoing = [data]
        else:
            self._outgoing.append(data)

    def data_to_send(self) -> bytes:
        """Bytes the framer wants written (pongs, close replies), once."""
        outgoing, self._outgoing = self._outgoing, None
        return b"".join(outgoing) if outgoing else b""

    def receive_eof(self) -> None:
        self.protocol.receive_eof()

    def close_frame(self, code: int = 1000) -> bytes:
        """Our close frame; from then on the connection is closing."""
        protocol = self.protocol
        if protocol.state is State.OPEN:
            protocol.send_close(code, "")
        return b"".join(protocol.data_to_send())

    def ended(self) -> tuple[int, str]:
        """Why the connection ended: its close code and a one-line reason."""
        protocol = self.protocol
        close = protocol.close_rcvd
        if close is None and protocol.close_sent is not None:
            # websockets failed the connection on a frame that broke RFC 6455.
            sent = protocol.close_sent
            return sent.code, f"disconnect: the server broke the WebSocket protocol ({sent.reason})"
        code = close.code if close is not None else 1006
        reason = f" ({close.reason})" if close is not None and close.reason else ""
        return code, f"disconnect: the server closed the connection with code {code}{reason}"
