"""Clock offsets over Locust's messages (the estimate itself: ``tracking.clocks``).

Each worker, every ``EVERY_SECONDS``, makes a burst of exchanges with the master
(``messages.CLOCK_PING`` / ``CLOCK_PONG``), takes its estimate and tells the
master (``CLOCK_OFFSET``), which sends every worker's estimate to every worker
(``CLOCK_OFFSETS``). A worker then reads another
worker's marker or read notice on its own wall clock.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

import gevent
from gevent.event import AsyncResult

from chatload.loadgen.background import BackgroundJob
from chatload.loadgen.messages import CLOCK_OFFSET, CLOCK_OFFSETS, CLOCK_PING, CLOCK_PONG, on, send
from chatload.tracking.clocks import ClockEstimator, Exchange, Offset, Offsets

__all__ = ["EVERY_SECONDS", "ClockSync", "serve_clock"]

log = logging.getLogger("chatload.loadgen")

EVERY_SECONDS: Final = 5.0
_BURST: Final = 5
_SPACING: Final = 0.02
_ANSWER_SECONDS: Final = 1.0


class ClockSync(BackgroundJob):
    """A worker's side: exchanges with the master, and the offsets it learns."""

    # Any, not Locust's runners: their send_message is hinted to take a dict, and
    # these messages are lists (msgpack carries both).
    def __init__(self, runner: Any, offsets: Offsets) -> None:
        self.runner = runner
        self.offsets = offsets
        self.estimator = ClockEstimator()
        self._waiting: dict[int, AsyncResult] = {}
        self._next_id = 0

    def _run(self) -> None:
        while True:
            for _ in range(_BURST):
                self._exchange()
                gevent.sleep(_SPACING)
            estimate = self.estimator.estimate
            if estimate is not None:
                self.offsets.own = estimate
                send(self.runner, CLOCK_OFFSET, (self.offsets.origin, estimate))
            gevent.sleep(EVERY_SECONDS)

    def _exchange(self) -> None:
        self._next_id += 1
        answer: AsyncResult = AsyncResult()
        self._waiting[self._next_id] = answer
        t1 = time.time()
        send(self.runner, CLOCK_PING, (self._next_id, t1))
        try:
            t2 = float(answer.get(timeout=_ANSWER_SECONDS))
        except gevent.Timeout:
            return
        finally:
            self._waiting.pop(self._next_id, None)
        self.estimator.add(Exchange(t1, t2, time.time()))

    def on_pong(self, exchange: tuple[int, float]) -> None:
        exchange_id, master_wall = exchange
        answer = self._waiting.get(exchange_id)
        if answer is not None:
            answer.set(master_wall)

    def on_offsets(self, known: dict[str, Offset]) -> None:
        for origin, offset in known.items():
            self.offsets.update(origin, offset)


def serve_clock(runner: Any) -> None:
    """On the master: answer every worker's exchanges, and share their offsets."""
    known: dict[str, Offset] = {}

    def ping(exchange: tuple[int, float], worker: str) -> None:
        send(runner, CLOCK_PONG, (exchange[0], time.time()), client_id=worker)

    def offset(item: tuple[str, Offset], _: str) -> None:
        known[item[0]] = item[1]
        send(runner, CLOCK_OFFSETS, known)

    on(runner, CLOCK_PING, ping)
    on(runner, CLOCK_OFFSET, offset)
