"""The client framer fed bytes: no socket, no gevent."""

from __future__ import annotations

import pytest
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from chatload.loadgen.connection.framing import ClientFramer, text_frame


def server_frame(opcode: Opcode, data: bytes, *, fin: bool = True, mask: bool = False) -> bytes:
    return Frame(opcode, data, fin).serialize(mask=mask)


def sent_frames(data: bytes) -> list[Frame]:
    """What a server makes of the framer's output."""
    parser = ServerProtocol(state=State.OPEN, max_size=None)
    parser.receive_data(data)
    return [event for event in parser.events_received() if isinstance(event, Frame)]


def test_data_frames_whole_split_and_many_at_once() -> None:
    framer = ClientFramer("ws://x/")
    stream = b"".join(server_frame(Opcode.TEXT, p) for p in (b"a", b"b" * 300, b"c" * 70_000))
    payloads = []
    for at in range(0, len(stream), 997):
        payloads += framer.feed(stream[at : at + 997])
    assert payloads == [b"a", b"b" * 300, b"c" * 70_000]
    assert framer.data_to_send() == b"" and framer.open
    assert framer._protocol is None  # nothing needed websockets


def test_a_ping_is_answered_at_once_with_its_payload() -> None:
    framer = ClientFramer("ws://x/")
    assert framer.feed(server_frame(Opcode.PING, b"beat") + server_frame(Opcode.TEXT, b"t")) == [
        b"t"
    ]
    [pong] = sent_frames(framer.data_to_send())
    assert (pong.opcode, pong.data) == (Opcode.PONG, b"beat")
    assert framer.data_to_send() == b""  # said once
    assert framer.feed(server_frame(Opcode.PONG, b"")) == [] and framer.data_to_send() == b""
    assert framer._protocol is None


def test_fragments_and_close_go_through_websockets() -> None:
    framer = ClientFramer("ws://x/")
    payloads = framer.feed(
        server_frame(Opcode.TEXT, b"he", fin=False)
        + server_frame(Opcode.PING, b"p")
        + server_frame(Opcode.CONT, b"llo", fin=True)
    )
    assert payloads == [b"hello"]
    assert [f.opcode for f in sent_frames(framer.data_to_send())] == [Opcode.PONG]
    framer.feed(server_frame(Opcode.CLOSE, Close(1001, "bye").serialize()))
    assert not framer.open
    assert framer.ended() == (
        1001,
        "disconnect: the server closed the connection with code 1001 (bye)",
    )
    [reply] = sent_frames(framer.data_to_send())
    assert reply.opcode is Opcode.CLOSE


@pytest.mark.parametrize(
    "frame",
    [
        server_frame(Opcode.TEXT, b"masked", mask=True),
        bytes([0x83, 0x00]),  # a reserved opcode
        bytes([0xC1, 0x00]),  # an RSV bit
    ],
    ids=["masked", "reserved-opcode", "rsv-bit"],  # stable: the mask is random
)
def test_frames_that_break_the_rfc_fail_the_connection(frame: bytes) -> None:
    framer = ClientFramer("ws://x/")
    assert framer.feed(frame) == []
    assert not framer.open
    assert "broke the WebSocket protocol" in framer.ended()[1]


def test_our_frames_are_masked_and_final() -> None:
    for payload in (b"", b"x" * 125, b"y" * 126, b"z" * 65_536):
        [frame] = sent_frames(text_frame(payload, b"abcd"))
        assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, payload)
