"""A model run's machinery in one generator process.

- **Slots.** With a traffic model each Locust user is a slot: it waits for a
  session, lives it, and waits again. ``-u`` is the ceiling of sessions at once.
- **Arrivals** come from the run's one arrival process (``arrival_source``): an
  arrival that finds no free slot of its role, or no free person, is *dropped*,
  counted, never silently skipped.
- **Turns.** When one of this process's people sends a message, its turn
  (``traffic.conversation``) names the next writer and when. At that moment the
  writer writes it: in their live session, wherever it runs (told directly here,
  through the master elsewhere), or, when they are offline, in an *answering
  session* begun here for them.
- **Records.** What the people did, in the model's time, and the counts, taken
  with each interval (:meth:`take`) to ride on its snapshot to the master.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

import gevent
from gevent.event import AsyncResult

from chatload.traffic.batch import TrafficBatch
from chatload.traffic.conversation import SessionPlan, TurnDue, plan_session
from chatload.traffic.model import TrafficModel
from chatload.users_file import ROLES, Identity, Role

if TYPE_CHECKING:
    from chatload.loadgen.engine.runtime import Lender

__all__ = ["LATE_S", "Ticket", "TrafficEngine", "TurnDue"]

log = logging.getLogger("chatload.loadgen")

LATE_S: Final = 0.1  # an action this much later than scheduled is late (run time)
_WAIT_SLOT_S: Final = 1.0
_LEAD_DECAY: Final = 0.99  # per connect: a slow connect long ago stops counting


@dataclass(frozen=True, slots=True)
class Ticket:
    """A session for a slot: a plan, and for an answering session its person and turn."""

    role: Role
    plan: SessionPlan
    identity: Identity | None = None
    turn: TurnDue | None = None
    offered: float = 0.0  # wall seconds


class LiveSession(Protocol):
    def write_now(self, turn: TurnDue) -> None: ...


class TrafficEngine:
    def __init__(
        self,
        model: TrafficModel,
        time_scale: float,
        lender: Lender,
        rng: random.Random,
        *,
        start_wall: float,
        start_hour: float,
        forward: Callable[[TurnDue], None] | None = None,
    ) -> None:
        self.model = model.time_scaled(time_scale)  # in run seconds
        self.time_scale = time_scale
        self.lender = lender
        self.rng = rng
        self.start_wall = start_wall
        self.origin = start_hour * 3600.0  # the model's clock at start_wall
        self._forward = forward  # a turn for a person online in another process
        self._free: dict[Role, deque[AsyncResult]] = {r: deque() for r in ROLES}
        self._turns: list[tuple[float, int, TurnDue]] = []
        self._order = itertools.count()
        self._wake = gevent.event.Event()
        self.sessions: dict[int, LiveSession] = {}  # by user id, this process's
        self.last_activity: dict[str, float] = {}  # chat id: wall time of its last message
        self.batch = TrafficBatch()
        self._greenlet: gevent.Greenlet | None = None
        self.quiet: Callable[[], bool] = lambda: False  # the run's end: people stop acting
        # How long before a turn is due it is handed out: a writer who is offline needs
        # that long to connect (a decaying maximum of the connects seen), so that the
        # turn is written when due and the gap is the model's, not the model's plus a
        # connect (which --time-scale multiplies in the model's time).
        self.lead = 0.0

    def connected_in(self, seconds: float) -> None:
        """A session's connect and initial_data took ``seconds``."""
        self.lead = max(seconds, self.lead * _LEAD_DECAY)

    def model_time(self, wall: float) -> float:
        return self.origin + (wall - self.start_wall) * self.time_scale

    def take(self) -> TrafficBatch:
        batch, self.batch = self.batch, TrafficBatch()
        return batch

    # Slots and arrivals

    def wait_for_session(self, role: Role) -> Ticket | None:
        """A slot of ``role`` waits for its next session (None: none came, ask again)."""
        slot: AsyncResult = AsyncResult()
        self._free[role].append(slot)
        try:
            ticket: Ticket = slot.get(timeout=_WAIT_SLOT_S)
        except gevent.Timeout:
            if slot.ready():  # given as the wait ran out: a busy loop runs both at once
                given: Ticket = slot.value
                return given
            self._free[role].remove(slot) if slot in self._free[role] else None
            return None
        return ticket

    def _slot(self, role: Role) -> AsyncResult | None:
        free = self._free[role]
        while free:
            slot = free.popleft()
            if not slot.ready():
                return slot
        return None

    def arrive(self, role: Role) -> None:
        """One arrival of the run's arrival process, given to this process."""
        self.batch.count(f"{role}.offered")
        self.batch.arrivals.append((ROLES.index(role), self.model_time(time.time())))
        slot = self._slot(role)
        if slot is None:
            self.batch.count(f"{role}.dropped")
            return
        plan = plan_session(self.model.role(role), self.rng)
        slot.set(Ticket(role, plan, offered=time.time()))

    # Turns

    def owe_turn(self, turn: TurnDue) -> None:
        heapq.heappush(self._turns, (turn.due, next(self._order), turn))
        self._wake.set()

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run_turns)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None
        for free in self._free.values():
            while free:
                free.popleft().set(None)

    def _run_turns(self) -> None:
        while True:
            self._wake.clear()
            now = time.time()
            while self._turns and self._turns[0][0] - self.lead <= now:
                _, _, turn = heapq.heappop(self._turns)
                gevent.spawn(self._deliver, turn)
            wait = self._turns[0][0] - self.lead - now if self._turns else 1.0
            self._wake.wait(timeout=max(wait, 0.0))

    def _deliver(self, turn: TurnDue) -> None:
        """The writer writes: in their live session here, or elsewhere (told through
        the master), or in an answering session begun here when they are offline."""
        session = self.sessions.get(turn.user_id)
        if session is not None:
            session.write_now(turn)
            return
        identity = self.lender.acquire_this(turn.user_id, turn.role, timeout=5.0)
        if identity is None:  # online in another process
            if self._forward is not None:
                self._forward(turn)
            return
        slot = self._slot(turn.role)
        if slot is None:
            self.lender.release(identity)
            self.batch.count(f"{turn.role}.answering_dropped")
            return
        plan = plan_session(self.model.role(turn.role), self.rng)
        slot.set(Ticket(turn.role, plan, identity, turn, offered=time.time()))

    def receive_turn(self, turn: TurnDue) -> None:
        """A turn forwarded through the master: for a session of this process, if any."""
        session = self.sessions.get(turn.user_id)
        if session is not None:
            session.write_now(turn)
