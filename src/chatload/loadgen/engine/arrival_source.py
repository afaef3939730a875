"""The run's one arrival process: people come at the model's rate for each hour.

On the master (or the only process). Sessions arrive by a Poisson process per role
(``traffic.arrivals``), whatever the server's latency: an open model. Each arrival
goes to a generator process, the workers in turn, which starts it in a free slot
or counts it dropped. A capacity search scales the rates by its level's multiplier
(:meth:`ArrivalSource.scale_to`), each change kept so that the arrivals expected
follow it, and may add the turns the run's past owes it (``traffic.carry_over``),
delivered the same way.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Mapping

import gevent

from chatload.traffic.arrivals import ArrivalClock
from chatload.traffic.carry_over import CarriedTurns, Multipliers, poisson
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
        frozen: bool = False,
        scale: float = 1.0,
        carried: tuple[CarriedTurns, Callable[[Role, str], None]] | None = None,
    ) -> None:
        self.clocks = {
            role: ArrivalClock(
                model.role(role), populations[role], time_scale, start_hour, frozen=frozen
            )
            for role in ROLES
        }
        self._deliver = deliver
        self.start_wall = start_wall
        self.scales = Multipliers([(start_wall, scale)])  # the rates' factor, in wall time
        # The same, each fall thinning what came before it: the turns the run's past
        # still owes (``carry_over``), not its arrivals.
        self.owing = Multipliers([(start_wall, scale)])
        self._carried = carried  # the turns and sessions owed, and where each goes
        self._rng = random.Random(seed)
        self._greenlets: list[gevent.Greenlet] = []
        self._pacing: gevent.Greenlet | None = None  # the carried sessions of a rise
        self.stopped_wall = float("inf")  # when the run stopped arriving people

    def expected(self, start_wall: float, end_wall: float) -> dict[Role, float]:
        """Arrivals the model expects between two wall times, by role, at the scale of
        each moment (none after the source stopped: the run winds down)."""
        start_wall, end_wall = min(start_wall, self.stopped_wall), min(end_wall, self.stopped_wall)
        origin = self.start_wall

        def at_one(clock: ArrivalClock) -> Callable[[float, float], float]:
            return lambda a, b: clock.expected(max(a - origin, 0.0), max(b - origin, 0.0))

        return {
            role: self.scales.integral(start_wall, end_wall, at_one(clock))
            for role, clock in self.clocks.items()
        }

    def scale_to(self, factor: float, open_now: float | None = None, pace: float = 0.0) -> None:
        """From now the rates are ``factor`` times the model's (a search's level); a
        rise brings the sessions its past would have open now (``carry_over``): up to
        the steady state's when the sessions ``open_now`` are known, else the rise's
        share of it; ``pace`` a second (0: at once), since each connects as it comes
        and thousands at once would lag the generator's loop (``ramped`` says when
        the last came)."""
        now = max(time.time(), self.scales.steps[-1][0])
        before = self.scales.at(now)
        rise = factor - before
        self.scales.set(now, factor)
        if rise < 0 and before > 0:
            self.owing.thinned_before(now, factor / before)
        self.owing.set(now, factor)
        self._stop_pacing()  # a new level owes its own
        if self._greenlets:
            self._stop_drawing()
            self.start()
        if self._carried is None or rise <= 0:
            return
        carried, deliver = self._carried
        steady = sum(carried.open_at_once.values())
        owed = rise * steady if open_now is None else max(0.0, factor * steady - open_now)
        sessions: list[Role] = []
        for role in ROLES:
            share = carried.open_at_once.get(role, 0.0) / steady if steady > 0 else 0.0
            sessions += [role] * poisson(owed * share, self._rng)
        self._rng.shuffle(sessions)
        if pace > 0:
            self._pacing = gevent.spawn(self._pace, sessions, pace, deliver)
        else:
            for role in sessions:
                deliver(role, "session")

    @property
    def ramped(self) -> bool:
        """Every session the last rise carried has been given out."""
        return self._pacing is None or self._pacing.dead

    @staticmethod
    def _pace(sessions: list[Role], per_s: float, deliver: Callable[[Role, str], None]) -> None:
        started = time.monotonic()
        for index, role in enumerate(sessions):
            wait = started + index / per_s - time.monotonic()
            if wait > 0:
                gevent.sleep(wait)
            deliver(role, "session")

    def _stop_pacing(self) -> None:
        if self._pacing is not None:
            self._pacing.kill(block=False)
            self._pacing = None

    def start(self) -> None:
        self._greenlets = [gevent.spawn(self._run, role) for role in ROLES]
        if self._carried is not None:
            self._greenlets += [gevent.spawn(self._carry, role) for role in ROLES]

    def stop(self) -> None:
        self.stopped_wall = min(self.stopped_wall, time.time())
        self._stop_drawing()
        self._stop_pacing()

    def _stop_drawing(self) -> None:
        gevent.killall(self._greenlets, block=False)
        self._greenlets = []

    def _run(self, role: Role) -> None:
        # Poisson arrivals forget their past: drawn afresh at each change of scale.
        clock = dataclasses.replace(self.clocks[role], share=self.scales.at(time.time()))
        at = max(time.time() - self.start_wall, 0.0)
        while True:
            at = clock.next_after(at, self._rng)
            wait = self.start_wall + at - time.time()
            if wait > 0:
                gevent.sleep(wait)
            self._deliver(role)

    def _carry(self, role: Role) -> None:
        """The owed turns of ``role``: thinned from a bound that holds until the scale
        changes (then drawn afresh)."""
        assert self._carried is not None
        carried, deliver = self._carried
        bound = carried.bound(role, self.scales.at(time.time()))
        if bound <= 0:
            return
        while True:
            gevent.sleep(self._rng.expovariate(bound))
            if self._rng.random() * bound < carried.rate(role, time.time(), self.owing):
                deliver(role, "turn")
