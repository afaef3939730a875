from __future__ import annotations

from chatload.tracking import Marker, MarkerFactory, parse_marker
from chatload.tracking.marker import MAX_MARKER_CHARS


def test_marker_round_trip() -> None:
    factory = MarkerFactory("abcd1234")
    first, second = factory.make(1_700_000_000.25), factory.make(1_700_000_000.5)
    assert (first.seq, second.seq) == (1, 2)
    text = "Привет, как дела?" + first.render()
    assert parse_marker(text) == Marker("abcd1234", 1, 1_700_000_000_250_000)
    assert parse_marker(text) is not None
    assert first.wall == 1_700_000_000.25
    assert len(Marker("ffffffff", 10**12 - 1, 10**16 - 1).render()) <= MAX_MARKER_CHARS


def test_text_without_a_marker() -> None:
    for text in (
        "",
        "hello",
        "a #cl:",
        "x #cl:ab:1",
        "x #cl:ab:one:2",
        "x #cl::1:2",
        "x #cl:ab:1:2:3",
    ):
        assert parse_marker(text) is None


def test_each_process_has_its_own_origin() -> None:
    assert MarkerFactory().origin != MarkerFactory().origin
