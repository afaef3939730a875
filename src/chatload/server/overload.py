"""Overload you can reproduce: a server that is slow, never wrong. Off by default.

For trying chatload at the edge (its verdicts must stay true when a server
slows down), ``chatload serve`` has two test modes; neither loses, duplicates
or reorders anything:

- ``--test-capacity N``: messages are served by one worker at N per second,
  in arrival order (reads wait their turn behind them and cost nothing). Past
  N per second the queue, and with it every latency, grows without bound.
- ``--test-fanout-lag-ms D``: what a write changes for the *other* participant
  of the chat (the message's ``chat_updates``, the ``chat_unread`` after a
  message or a read) reaches them D ms after the writer's own answer, as a
  broker's slower fan-out path does under load. The counts are those of the
  moment they are sent, so they converge.

And two kinds of slow degradation, for the drift verdicts of soak runs:

- ``--test-creep-ms-per-min X``: every frame leaves X ms later for each minute
  since the server started (the delay line of ``--test-delay-ms``, growing);
- ``--test-leak-kib-per-s K``: K KiB more memory held, and resident, each second.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["CapacityCap", "Leak"]

W = TypeVar("W")


class CapacityCap(Generic[W]):
    """Passes writes on in arrival order, messages at most ``per_second``."""

    def __init__(
        self,
        per_second: float,
        loop: asyncio.AbstractEventLoop,
        submit: Callable[[W], None],
        *,
        costs: Callable[[W], bool],
    ) -> None:
        if per_second <= 0:
            raise ValueError("the capacity must be positive")
        self._interval = 1.0 / per_second
        self._loop = loop
        self._submit = submit
        self._costs = costs
        self._queue: deque[W] = deque()
        self._next = 0.0  # loop time from which the next message may pass
        self._scheduled: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def put(self, write: W) -> None:
        self._queue.append(write)
        if self._scheduled is None:
            self._release()

    def _release(self) -> None:
        self._scheduled = None
        queue, now = self._queue, self._loop.time()
        while queue:
            if self._costs(queue[0]):
                if self._next > now:
                    self._scheduled = self._loop.call_at(self._next, self._release)
                    return
                # On cadence when the timer fired a little late; from now after idling.
                start = self._next if now - self._next < self._interval else now
                self._next = start + self._interval
            self._submit(queue.popleft())

    def flush(self) -> None:
        """Pass on everything queued at once (the server is shutting down)."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        while self._queue:
            self._submit(self._queue.popleft())


class Leak:
    """Holds ``bytes_per_second`` more memory each second, written so it is resident."""

    _STEP = 0.1

    def __init__(self, bytes_per_second: float) -> None:
        self.bytes_per_second = bytes_per_second
        self.held: list[bytes] = []

    @property
    def size(self) -> int:
        return sum(len(chunk) for chunk in self.held)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            await asyncio.sleep(self._STEP)
            owed = int((loop.time() - started) * self.bytes_per_second) - self.size
            if owed > 0:
                self.held.append(b"\xa5" * owed)
