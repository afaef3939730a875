"""The correlation marker a sender appends to a message's text.

`` #cl:<origin>:<seq>:<wall_us>`` names the sending process (``origin``, random
per process), a sequence number unique in it, and the send time on the wall
clock in microseconds. The sender finds its acknowledgement by it, and the
interlocutor, possibly in another process, times the delivery with it. Servers
that reject or rewrite text can run with the marker off: the tool then matches
by per-chat order.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import Final

__all__ = ["MARKER_PREFIX", "MAX_MARKER_CHARS", "Marker", "MarkerFactory", "parse_marker"]

MARKER_PREFIX: Final = " #cl:"
# prefix + 8 hex + ":" + up to 12 digits + ":" + 16 digits
MAX_MARKER_CHARS: Final = len(MARKER_PREFIX) + 8 + 1 + 12 + 1 + 16


@dataclass(frozen=True, slots=True)
class Marker:
    origin: str
    seq: int
    wall_us: int

    def render(self) -> str:
        return f"{MARKER_PREFIX}{self.origin}:{self.seq}:{self.wall_us}"

    @property
    def wall(self) -> float:
        return self.wall_us / 1_000_000


class MarkerFactory:
    """Markers of one process: one origin, increasing sequence numbers."""

    def __init__(self, origin: str | None = None) -> None:
        self.origin = origin or os.urandom(4).hex()
        self._seq = itertools.count(1)

    def make(self, wall: float) -> Marker:
        return Marker(self.origin, next(self._seq), int(wall * 1_000_000))


def parse_marker(text: str) -> Marker | None:
    """The marker at the end of ``text``, or None when there is none."""
    at = text.rfind(MARKER_PREFIX)
    if at < 0:
        return None
    parts = text[at + len(MARKER_PREFIX) :].split(":")
    if len(parts) != 3:
        return None
    origin, seq, wall_us = parts
    if not (seq.isdigit() and wall_us.isdigit() and origin):
        return None
    return Marker(origin, int(seq), int(wall_us))
