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

from chatload.traffic.batch import OPEN_SESSIONS, TrafficBatch
from chatload.traffic.carry_over import remaining
from chatload.traffic.conversation import (
    CARRIED,
    SessionPlan,
    TurnDue,
    plan_session,
    quiet_chats,
)
from chatload.traffic.model import TrafficModel
from chatload.users_file import ROLES, Identity, Role

if TYPE_CHECKING:
    from chatload.loadgen.engine.runtime import Lender

__all__ = ["LATE_S", "Ticket", "TrafficEngine", "TurnDue"]

log = logging.getLogger("chatload.loadgen")

LATE_S: Final = 0.1  # an action this much later than scheduled is late (run time)
_WAIT_SLOT_S: Final = 1.0
# A session the past owes waits this long for a slot (the level's users spawning).
_OWED_FOR_S: Final = 30.0
_LEAD_DECAY: Final = 0.99  # per connect: a slow connect long ago stops counting
# A turn's writer lent to this process with no session (connecting, or leaving) is
# looked for this long, this often: a connect's or a last acknowledgement's time.
_FIND_WRITER_S: Final = 10.0
_FIND_WRITER_POLL_S: Final = 0.05


@dataclass(frozen=True, slots=True)
class Ticket:
    """A session for a slot: a plan, and for an answering session its person and turn."""

    role: Role
    plan: SessionPlan
    identity: Identity | None = None
    turn: TurnDue | None = None
    offered: float = 0.0  # wall seconds
    resumed: bool = False  # a session under way at a search level's start (carried over)


class LiveSession(Protocol):
    def write_now(self, turn: TurnDue) -> None: ...

    def record_open(self) -> None: ...


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
        self._owed: dict[Role, deque[Ticket]] = {r: deque() for r in ROLES}  # sessions
        self._busy = 0.0  # a chat first seen is busy this often (a search's steady state)
        self._shared = False  # more people than identities: a chat is several people's
        self._sends: dict[Role, float] = {}  # then: a role's bursts that send, as simulated
        # Live sessions under way from the past (user ids) no carried turn was given yet.
        self.under_way: dict[Role, list[int]] = {r: [] for r in ROLES}
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
        batch.count(OPEN_SESSIONS, len(self.sessions))
        return batch

    # Slots and arrivals

    def wait_for_session(self, role: Role) -> Ticket | None:
        """A slot of ``role`` waits for its next session (None: none came, ask again):
        first a session under way the run's past owes, while it is fresh."""
        owed = self._owed[role]
        while owed:
            resumed = owed.popleft()
            if time.time() - resumed.offered < _OWED_FOR_S:
                return resumed
            self.batch.count(f"{role}.carried_sessions_dropped")
        free = self._free[role]
        while free and free[0].ready():  # the oldest waits gave up: let go of them
            free.popleft()
        slot: AsyncResult = AsyncResult()
        free.append(slot)
        try:
            ticket: Ticket = slot.get(timeout=_WAIT_SLOT_S)
        except gevent.Timeout:
            if slot.ready():  # given as the wait ran out: a busy loop runs both at once
                given: Ticket = slot.value
                return given
            slot.set(None)  # a wait given up: no arrival is given to it (``_slot``)
            return None
        except BaseException:
            # The user was stopped (a level down): a session given to it is dropped,
            # and counted; a wait given up.
            if not slot.ready():
                slot.set(None)
            elif slot.value is not None:
                lost: Ticket = slot.value
                self.batch.count(f"{role}.{'answering_dropped' if lost.turn else 'dropped'}")
                if lost.identity is not None:
                    self.lender.release(lost.identity)
            raise
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

    def carry_over(self, role: Role, what: str) -> None:
        """What the run's past owes (``traffic.carry_over``): a ``session`` under way
        (what is left of one), started in the next free slot; or a ``turn``: a person
        of ``role`` continues one of their chats, one whose session is under way (the
        conversations the past left going are theirs) while there are any, else a free
        one in a session begun for it."""
        now = time.time()
        self.batch.count(f"{role}.carried_{what}s")
        if what == "session":
            plan = SessionPlan(remaining(self.model.role(role).family("duration_s"), self.rng), 0)
            self._owed[role].append(Ticket(role, plan, offered=now, resumed=True))
            return
        turn = TurnDue(0, role, "", CARRIED, now)
        under_way = self.under_way[role]
        while under_way:  # first to someone whose session the past left under way
            index = self.rng.randrange(len(under_way))
            under_way[index], under_way[-1] = under_way[-1], under_way[index]
            session = self.sessions.get(under_way.pop())
            if session is not None:
                session.write_now(turn)
                return
        slot = self._slot(role)
        if slot is None:
            self.batch.count(f"{role}.answering_dropped")
            return
        plan = plan_session(self.model.role(role), self.rng)
        slot.set(Ticket(role, plan, None, turn, offered=now))

    def wind_down(self) -> None:
        """The run stops acting: the sessions still open go to the proof now, as open
        until this moment (their people stay connected while the run settles)."""
        for session in list(self.sessions.values()):
            session.record_open()

    def at_level(
        self,
        keep: float,
        people_per_identity: float,
        busy_chats: float,
        owner_sends: float = -1.0,
        requester_sends: float = -1.0,
    ) -> None:
        """A search's level: of the turns owed (and sessions the past owes, not yet
        begun) keep each at random with probability ``keep`` (the rest were people who
        went; their live sessions end as Locust stops their users); and where bursts
        go (``burst_chat``) with ``people_per_identity`` people on each identity,
        ``busy_chats`` of the chats busy in the steady state, and each role's share of
        bursts that send there (-1: not known)."""
        if keep < 1:
            self._turns = [item for item in self._turns if self.rng.random() < keep]
            heapq.heapify(self._turns)
            for role in ROLES:
                owed = self._owed[role]
                self._owed[role] = deque(t for t in owed if self.rng.random() < keep)
        self._busy = min(max(busy_chats, 0.0), 1.0)
        self._shared = people_per_identity > 1
        self._sends = {
            role: share
            for role, share in zip(ROLES, (owner_sends, requester_sends), strict=True)
            if 0.0 <= share <= 1.0
        }

    def burst_chat(self, role: Role, chat_ids: list[str], now: float, since: float) -> str | None:
        """Where a person of ``role`` starting a burst writes (None: a conversation is
        going on in each of their chats). With more people than identities, this
        session's person is one of several on the identity: the chats with a message
        since the session began are theirs, busy; the rest as the steady state's
        bursts find their people's chats, which is not as its chats at large are (the
        busier a person, the busier their own chats): a burst sends as often as the
        model's do (``PeakTraffic.burst_success``)."""
        gap = self.model.burst_gap_s
        sends = self._sends.get(role)
        if not self._shared or sends is None:
            quiet = quiet_chats([(c, self.last_message_at(c, now)) for c in chat_ids], now, gap)
            return self.rng.choice(quiet) if quiet else None
        recent = max(since, now - gap)  # a message since then: this person's conversation
        free = [c for c in chat_ids if self.last_activity.get(c, -1e18) < recent]
        if not free or self.rng.random() >= sends:
            return None
        return self.rng.choice(free)

    def last_message_at(self, chat_id: str, now: float) -> float:
        """When ``chat_id`` last had a message, for a person about to start a burst:
        as this process knows it; a chat not seen yet in a search's level, as the
        steady state would have it (busy, some time within the burst gap, as often as
        its chats are; else long ago). With more people than identities a chat of an
        identity is several people's chats, each busy or quiet by itself: drawn so
        each time, not remembered."""
        gap = self.model.burst_gap_s
        last = None if self._shared else self.last_activity.get(chat_id)
        if last is None:
            busy = self.rng.random() < self._busy
            last = now - self.rng.random() * gap if busy else -1e18
            if not self._shared:
                self.last_activity[chat_id] = last
        return last

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
        the master), or in an answering session begun here when they are offline.
        A writer lent to this process with no session yet (connecting) or no more
        (leaving) is waited for, a little: the turn goes to their session, or to an
        answering one once they are gone; never lost without a count."""
        deadline = time.time() + _FIND_WRITER_S
        session = self.sessions.get(turn.user_id)
        while session is None and self.lender.holds(turn.user_id):  # connecting, leaving
            if time.time() >= deadline:
                self.batch.count(f"{turn.role}.answering_dropped")
                return
            gevent.sleep(_FIND_WRITER_POLL_S)
            session = self.sessions.get(turn.user_id)
        if session is not None:
            session.write_now(turn)
            return
        identity = self.lender.acquire_this(turn.user_id, turn.role, timeout=5.0)
        if identity is None:  # online in another process (or no such person)
            if self._forward is not None:
                self._forward(turn)
            else:
                self.batch.count(f"{turn.role}.answering_dropped")
            return
        slot = self._slot(turn.role)
        if slot is None:
            self.lender.release(identity)
            self.batch.count(f"{turn.role}.answering_dropped")
            return
        plan = plan_session(self.model.role(turn.role), self.rng)
        slot.set(Ticket(turn.role, plan, identity, turn, offered=time.time()))

    def receive_turn(self, turn: TurnDue) -> None:
        """A turn forwarded through the master: for a session of this process, if any
        (one connecting is waited for, as a turn of this process is; every process
        hears the turn, and the writer's answers it)."""
        session = self.sessions.get(turn.user_id)
        if session is not None:
            session.write_now(turn)
        elif self.lender.holds(turn.user_id):
            gevent.spawn(self._deliver, turn)
