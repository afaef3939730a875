"""The run's one arrival process: people come at the model's rate for each hour.

On the master (or the only process). Sessions arrive by a Poisson process per role
(``traffic.arrivals``), whatever the server's latency: an open model. Each arrival
goes to a generator process, the workers in turn, which starts it in a free slot
or counts it dropped.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping

import gevent

from chatload.traffic.arrivals import ArrivalClock
from chatload.traffic.model import TrafficModel
from chatload.users_file import ROLES, Role

__all__ = ["ArrivalSource"]


class ArrivalSource:
    def __init__(
        self,
        model: TrafficModel,
        populations: Mapping[Role, int],
        deliver: Callable[[Role], None],
        *,
        time_scale: float,
        start_hour: float,
        start_wall: float,
        seed: int | None = None,
    ) -> None:
        self.clocks = {
            role: ArrivalClock(model.role(role), populations[role], time_scale, start_hour)
            for role in ROLES
        }
        self._deliver = deliver
        self.start_wall = start_wall
        self._rng = random.Random(seed)
        self._greenlets: list[gevent.Greenlet] = []
        self.stopped_wall = float("inf")  # when the run stopped arriving people

    def expected(self, start_wall: float, end_wall: float) -> dict[Role, float]:
        """Arrivals the model expects between two wall times, by role (none after
        the source stopped: the run winds down)."""
        start_wall, end_wall = min(start_wall, self.stopped_wall), min(end_wall, self.stopped_wall)
        a, b = start_wall - self.start_wall, end_wall - self.start_wall
        return {
            role: clock.expected(max(a, 0.0), max(b, 0.0)) for role, clock in self.clocks.items()
        }

    def start(self) -> None:
        self._greenlets = [gevent.spawn(self._run, role) for role in ROLES]

    def stop(self) -> None:
        self.stopped_wall = min(self.stopped_wall, time.time())
        gevent.killall(self._greenlets, block=False)
        self._greenlets = []

    def _run(self, role: Role) -> None:
        clock = self.clocks[role]
        at = max(time.time() - self.start_wall, 0.0)
        while True:
            at = clock.next_after(at, self._rng)
            wait = self.start_wall + at - time.time()
            if wait > 0:
                gevent.sleep(wait)
            self._deliver(role)
