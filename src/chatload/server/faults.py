"""Deliberate faults and delays, for testing the load tool's checks. Off by default.

``chatload serve --test-fault KIND=RATE`` (repeatable) makes the reference server
break one guarantee now and then, so a test can show chatload names the breach:

- ``drop``: a message's ``chat_updates`` is not sent to the interlocutor;
- ``duplicate``: it is sent to the interlocutor twice;
- ``reorder``: it is held back and sent after the chat's next message;
- ``miscount``: in that share of chats (chosen by id), every ``myUnreadCount``
  is one too many;
- ``history-skip``: a history page of 3 messages or more misses its middle one;
- ``foreign-chat``: ``load_history`` of a chat the user is not in is served.

``--test-delay-ms D`` delays every frame to the users whose id is at least
``--test-delay-from-user``, by D milliseconds, to check that measured latencies
move by D.
"""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from chatload.errors import ConfigError

__all__ = ["FAULT_KINDS", "DelayLine", "Faults", "parse_faults"]

FAULT_KINDS: Final = ("drop", "duplicate", "reorder", "miscount", "history-skip", "foreign-chat")


class _Peer(Protocol):
    def send(self, frame: bytes) -> None: ...


def parse_faults(specs: list[str]) -> dict[str, float]:
    """``["drop=0.05", ...]`` as ``{"drop": 0.05}``; a :class:`ConfigError` says what is wrong."""
    rates: dict[str, float] = {}
    for spec in specs:
        kind, _, rate = spec.partition("=")
        if kind not in FAULT_KINDS:
            raise ConfigError(
                f"--test-fault {spec!r}: the kind must be one of {', '.join(FAULT_KINDS)}"
            )
        try:
            value = float(rate) if rate else 1.0
        except ValueError:
            raise ConfigError(f"--test-fault {spec!r}: the rate must be a number") from None
        if not 0 < value <= 1:
            raise ConfigError(f"--test-fault {spec!r}: the rate must be within (0, 1]")
        rates[kind] = value
    return rates


@dataclass
class Faults:
    rates: dict[str, float]
    seed: int = 1
    rng: random.Random = field(init=False)
    _held: dict[tuple[int, str], bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _happens(self, kind: str) -> bool:
        rate = self.rates.get(kind)
        return rate is not None and self.rng.random() < rate

    def deliver(self, peer: _Peer, frame: bytes, chat_id: str) -> None:
        """Send a message's ``chat_updates`` to an interlocutor's connection, or not quite."""
        held = self._held.pop((id(peer), chat_id), None)
        if held is not None:
            peer.send(frame)
            peer.send(held)
        elif self._happens("drop"):
            return
        elif self._happens("reorder"):
            self._held[(id(peer), chat_id)] = frame
        else:
            peer.send(frame)
            if self._happens("duplicate"):
                peer.send(frame)

    def miscounts(self, chat_id: str) -> bool:
        rate = self.rates.get("miscount")
        return rate is not None and zlib.crc32(chat_id.encode()) % 1000 < rate * 1000

    def skip_in_history(self, page: list[Any]) -> list[Any]:
        if len(page) >= 3 and self._happens("history-skip"):
            middle = len(page) // 2
            return page[:middle] + page[middle + 1 :]
        return page

    def serves_foreign_chat(self) -> bool:
        return self._happens("foreign-chat")


class DelayLine:
    """Runs callbacks on the event loop ``delay`` seconds after they were queued, in
    queue order, each at its own time.

    The loop's timers resolve a millisecond, and releasing every frame due in the
    same millisecond at once would bunch them up; so the timer only brings the
    line to a millisecond before the next frame is due, and from there it looks
    again at every turn of the loop (the loop keeps serving everything else).
    Only the reference server's test mode pays for that.
    """

    _COARSE = 0.0015

    LATE_S: Final = 0.001  # a frame let go this much after it was due: a stall

    def __init__(
        self,
        delay: float,
        loop: asyncio.AbstractEventLoop,
        *,
        creep: float = 0.0,
        on_late: Callable[[float, float], None] | None = None,
    ) -> None:
        self.delay = delay
        # Told (wall seconds, seconds late) of each frame let go LATE_S or more late.
        self.on_late = on_late
        # Seconds more delay per second since the line was made: a creeping latency.
        # Later frames are due later still, so the queue stays in due order.
        self.creep = creep
        self._born = time.perf_counter()
        self._loop = loop
        self._queue: deque[tuple[float, Callable[[], None]]] = deque()
        self._scheduled: asyncio.Handle | None = None

    def put(self, callback: Callable[[], None]) -> None:
        now = time.perf_counter()
        delay = self.delay + self.creep * (now - self._born)
        self._queue.append((now + delay, callback))
        if self._scheduled is None:
            self._schedule(delay)

    def _schedule(self, wait: float) -> None:
        if wait > self._COARSE:
            self._scheduled = self._loop.call_later(wait - self._COARSE + 0.0005, self._release)
        else:
            self._scheduled = self._loop.call_soon(self._release)

    def _release(self) -> None:
        self._scheduled = None
        queue = self._queue
        now = time.perf_counter()
        while queue and queue[0][0] <= now:
            due, callback = queue.popleft()
            if self.on_late is not None and now - due >= self.LATE_S:
                self.on_late(time.time(), now - due)
            callback()
        if queue:
            self._schedule(queue[0][0] - now)

    def close(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
