"""Clock offsets over Locust's messages (the estimate itself: ``tracking.clocks``).

Each worker, every ``EVERY_SECONDS``, makes a burst of exchanges with the master
(``chatload_clock_ping`` / ``chatload_clock_pong``), takes its estimate and
tells the master (``chatload_clock_offset``), which sends every worker's estimate
to every worker (``chatload_clock_offsets``). A worker then reads another
worker's marker or read notice on its own wall clock.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Final

import gevent
from gevent.event import AsyncResult

from chatload.loadgen.background import BackgroundJob
from chatload.tracking.clocks import ClockEstimator, Exchange, Offset, Offsets

if TYPE_CHECKING:
    from locust.env import Environment
    from locust.rpc.protocol import Message

__all__ = ["EVERY_SECONDS", "ClockSync", "serve_clock"]

log = logging.getLogger("chatload.loadgen")

PING: Final = "chatload_clock_ping"
PONG: Final = "chatload_clock_pong"
OFFSET: Final = "chatload_clock_offset"
OFFSETS: Final = "chatload_clock_offsets"
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
                self.runner.send_message(
                    OFFSET, [self.offsets.origin, estimate.offset, estimate.uncertainty]
                )
            gevent.sleep(EVERY_SECONDS)

    def _exchange(self) -> None:
        self._next_id += 1
        answer: AsyncResult = AsyncResult()
        self._waiting[self._next_id] = answer
        t1 = time.time()
        self.runner.send_message(PING, [self._next_id, t1])
        try:
            t2 = float(answer.get(timeout=_ANSWER_SECONDS))
        except gevent.Timeout:
            return
        finally:
            self._waiting.pop(self._next_id, None)
        self.estimator.add(Exchange(t1, t2, time.time()))

    def on_pong(self, environment: Environment, msg: Message) -> None:
        exchange_id, master_wall = msg.data
        answer = self._waiting.get(int(exchange_id))
        if answer is not None:
            answer.set(master_wall)

    def on_offsets(self, environment: Environment, msg: Message) -> None:
        for origin, offset, uncertainty in msg.data:
            self.offsets.update(str(origin), Offset(float(offset), float(uncertainty)))


def serve_clock(runner: Any, known: dict[str, tuple[float, float]]) -> None:
    """On the master: answer every worker's exchanges, and share their offsets."""

    def ping(environment: Environment, msg: Message) -> None:
        exchange_id, _ = msg.data
        runner.send_message(PONG, [exchange_id, time.time()], client_id=msg.node_id)

    def offset(environment: Environment, msg: Message) -> None:
        origin, value, uncertainty = msg.data
        known[str(origin)] = (float(value), float(uncertainty))
        runner.send_message(OFFSETS, [[o, v, u] for o, (v, u) in known.items()])

    runner.register_message(PING, ping)
    runner.register_message(OFFSET, offset)
