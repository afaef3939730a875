"""How far each generator process's wall clock is from the master's, NTP-style.

A timing between two processes (a delivery timed from the sender's marker, a read
propagation from the reader's notice) subtracts one process's wall clock from
another's. On one machine they are the same clock; across machines they differ
by whatever NTP left (0.1-10 ms, containers and VMs often worse), which would be
added to every such timing. So each worker measures its offset to the master:

- an exchange: the worker sends its wall time ``t1``; the master answers with
  its wall time ``t2`` as it handles the message; the worker notes ``t4`` when the
  answer arrives. The offset is ``((t1 + t4) / 2) - t2`` (this process ahead of
  the master when positive), uncertain by half the round trip ``t4 - t1``: the
  answer may have been written anywhere within it;
- several exchanges in a row, repeated through the run; the estimate is the one
  with the shortest round trip among the recent ones, which follows drift and
  ignores exchanges slowed by a busy event loop.

A wall time of another process is turned into this process's wall clock by
removing that process's offset and adding this one's (:meth:`Offsets.to_local`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

__all__ = ["ClockEstimator", "Exchange", "Offset", "Offsets"]

_KEPT: Final = 40  # recent exchanges the estimate is chosen from


@dataclass(frozen=True, slots=True)
class Exchange:
    """One round trip: sent at ``t1`` (ours), stamped ``t2`` (the master's), back at
    ``t4`` (ours); seconds of wall clock."""

    t1: float
    t2: float
    t4: float

    @property
    def round_trip(self) -> float:
        return max(self.t4 - self.t1, 0.0)

    @property
    def offset(self) -> float:
        return (self.t1 + self.t4) / 2 - self.t2


@dataclass(frozen=True, slots=True)
class Offset:
    """This process's wall clock minus the master's, give or take ``uncertainty``."""

    offset: float = 0.0
    uncertainty: float = 0.0


class ClockEstimator:
    """The offset of this process's wall clock to the master's, from exchanges."""

    def __init__(self, kept: int = _KEPT) -> None:
        self._exchanges: deque[Exchange] = deque(maxlen=kept)

    def add(self, exchange: Exchange) -> None:
        self._exchanges.append(exchange)

    @property
    def estimate(self) -> Offset | None:
        if not self._exchanges:
            return None
        best = min(self._exchanges, key=lambda exchange: exchange.round_trip)
        return Offset(best.offset, best.round_trip / 2)


class Offsets:
    """The known offsets of every generator process, by marker origin."""

    def __init__(self) -> None:
        self.own = Offset()
        self.origin = ""
        self._by_origin: dict[str, Offset] = {}

    def update(self, origin: str, offset: Offset) -> None:
        self._by_origin[origin] = offset

    def of(self, origin: str) -> Offset:
        if origin == self.origin:
            return self.own
        return self._by_origin.get(origin, _UNKNOWN)

    def to_local(self, origin: str, wall: float) -> float:
        """A wall time read in process ``origin``, on this process's wall clock."""
        if origin == self.origin:
            return wall
        return wall - self.of(origin).offset + self.own.offset

    def uncertainty(self, origin: str) -> float:
        """How wrong a timing between ``origin`` and this process may be."""
        return self.of(origin).uncertainty + self.own.uncertainty


_UNKNOWN: Final = Offset()
