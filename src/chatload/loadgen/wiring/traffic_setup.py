"""A model run (``--traffic-model``) set up in a Locust process.

- Every process with users: a :class:`TrafficEngine` on the runtime, each user class
  a slot class (its one task: ``ChatUser.live_sessions``), its weight the role's
  share of the sessions expected at once at the model's busiest hour, answering
  sessions included (``traffic.concurrency``).
- The master (or the only process): the run's :class:`ArrivalSource`, giving each
  arrival to the workers in turn, and the proof's feed on the interval pipeline.
- Workers and master relay turns due for people online in another process.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from chatload.loadgen import messages
from chatload.loadgen.engine.arrival_source import ArrivalSource
from chatload.loadgen.engine.options import ChatOptions
from chatload.loadgen.engine.runtime import ChatRuntime, Lender, running
from chatload.loadgen.engine.traffic import TrafficEngine
from chatload.loadgen.people.identities import IdentityPool
from chatload.loadgen.people.shares import Share
from chatload.loadgen.people.user import ChatUser
from chatload.loadgen.wiring.embedded import CHATS_PER_REQUESTER
from chatload.records.live_state import LiveState
from chatload.records.pipeline import IntervalPipeline
from chatload.records.traffic_feed import TrafficFeed
from chatload.traffic.batch import TrafficBatch
from chatload.traffic.carry_over import CarriedTurns
from chatload.traffic.concurrency import Sizing
from chatload.traffic.conversation import TurnDue
from chatload.traffic.levels import DEFAULT_BASELINE, LoadLevels
from chatload.traffic.loading import load_model
from chatload.traffic.model import TrafficModel
from chatload.users_file import ROLES, Role

__all__ = ["TrafficSetup"]

_THINK_TIME_TASKS: Final = "_chatload_think_time_tasks"  # a slot class's own tasks, kept

log = logging.getLogger("chatload.loadgen")

# With the embedded server and no --population: as many people as -u holds at the
# busiest hour, at most this many.
EMBEDDED_PEOPLE_MAX: Final = 100_000


class TrafficSetup:
    def __init__(self, model: TrafficModel, options: ChatOptions) -> None:
        self.model = model  # at the model's own speed
        self.options = options
        self.engine: TrafficEngine | None = None
        self.source: ArrivalSource | None = None
        self.populations: dict[Role, int] = {}
        self.roles: dict[int, Role] = {}
        self.sizing = Sizing(model, CHATS_PER_REQUESTER)  # the embedded dataset's
        # A capacity search's levels as multipliers, and the level's rate factor so far.
        self.levels: LoadLevels | None = None
        self._scale = 1.0
        self._pace = 0.0  # the carried sessions of a level a second (0: at once)
        # A search's level, told every generator process (``TrafficEngine.at_level``).
        self._tell: Callable[[tuple[float, float, float, float, float]], None] | None = None
        self._live: LiveState | None = None  # the run's merged intervals, as they come
        self._warned_for: tuple[int, int] | None = None  # (slots needed, -u) said once

    @classmethod
    def of(cls, options: ChatOptions) -> TrafficSetup | None:
        """The run's model, or None for a think-time run; ConfigError on a bad file."""
        if options.traffic_model == "none":
            return None
        return cls(load_model(options.traffic_model), options)

    @classmethod
    def for_worker(cls, environment: Environment, options: ChatOptions) -> TrafficSetup | None:
        """A worker's setup at a run's start: its slots take whichever role the master
        sends (the master weighs them); a think-time run gets its tasks back."""
        setup = cls.of(options)
        if setup is None:
            cls.unmake_slots(environment)
        else:
            cls.make_slots(environment, {"owner": 1.0, "requester": 1.0})
        return setup

    @classmethod
    def again(cls, setup: TrafficSetup | None, options: ChatOptions) -> TrafficSetup | None:
        """This run's setup: ``setup`` with the run's options when it plays the same
        model (its sizing kept), else a new one (the web UI's form changed it)."""
        if setup is not None and setup.options.traffic_model == options.traffic_model:
            setup.options = options
            return setup
        return cls.of(options)

    @property
    def searching(self) -> bool:
        """A capacity search in production units: levels of the busiest hour."""
        return self.options.shape == "search"

    @property
    def start_hour(self) -> float:
        """The arrivals' hour at the run's start (a search holds its busiest hour)."""
        return self.levels.hour if self.levels is not None else self.options.traffic_start_hour

    def people_to_provision(self, slots: int | None) -> int | None:
        """The embedded dataset's size: --population, or the most people whose busiest
        hour's sessions (answering ones too), with their headroom, fit in the slots;
        owners and requesters in the ratio of their weights. A search's highest
        level's people (its --population is its 1x)."""
        if self.options.population and not self.searching:
            return self.options.population
        if slots is None:
            return None
        ratio: dict[Role, float] = {
            "owner": self.options.owner_weight,
            "requester": self.options.requester_weight,
        }
        return self.sizing.people_for(slots, ratio, EMBEDDED_PEOPLE_MAX)

    @staticmethod
    def make_slots(environment: Environment, weights: Mapping[Role, float]) -> None:
        """Every weighted chat user class: its one task is to live sessions."""
        for user_class in environment.user_classes:
            if issubclass(user_class, ChatUser) and not user_class.fixed_count:
                if _THINK_TIME_TASKS not in vars(user_class):
                    setattr(user_class, _THINK_TIME_TASKS, user_class.tasks)
                user_class.tasks = [ChatUser.live_sessions]
                user_class.weight = max(
                    1, round(100 * weights[user_class.role] / max(sum(weights.values()), 1e-12))
                )

    @staticmethod
    def unmake_slots(environment: Environment) -> None:
        """The user classes' own tasks back (the web UI's next run has no model)."""
        for user_class in environment.user_classes:
            tasks = vars(user_class).get(_THINK_TIME_TASKS)
            if tasks is not None:
                user_class.tasks = tasks
                delattr(user_class, _THINK_TIME_TASKS)

    def slots(
        self, environment: Environment, pool: IdentityPool, shares: dict[str, Share]
    ) -> dict[str, Share]:
        """User classes as slots, weighted by the sessions expected; their shares."""
        self.populations = {role: pool.total[role] for role in ROLES}
        self.roles = {user_id: identity.role for user_id, identity in pool.by_id.items()}
        if self.searching:
            baseline = self.options.population or DEFAULT_BASELINE
            levels = self.levels
            if levels is None or (dict(levels.pool), levels.baseline) != (
                self.populations,
                baseline,
            ):
                levels = LoadLevels(self.model, CHATS_PER_REQUESTER, self.populations, baseline)
                self.levels = levels
            self.make_slots(environment, levels.sizing.slots_for(self.populations))
            return self._weighted(environment, shares)
        needed = self.sizing.slots_for(self.populations)
        self.make_slots(environment, needed)
        users = getattr(environment.parsed_options, "num_users", None)
        # Rounded: a population sized for -u (people_for) may need a fraction more.
        slots_needed = round(sum(needed.values()))
        if users and slots_needed > users and self._warned_for != (slots_needed, users):
            self._warned_for = (slots_needed, users)  # the start asks again: said once
            log.warning(
                "the model's busiest hour needs about %d sessions at once for these %d "
                "people (-u is %d): sessions past -u are dropped and counted; raise -u "
                "or lower --population",
                slots_needed,
                sum(self.populations.values()),
                users,
            )
        return self._weighted(environment, shares)

    @staticmethod
    def _weighted(environment: Environment, shares: dict[str, Share]) -> dict[str, Share]:
        weight_of = {c.__name__: c.weight for c in environment.user_classes}
        return {
            name: Share(share.role, weight_of.get(name, share.weight), share.fixed_count)
            for name, share in shares.items()
        }

    def at_level(self, users: int, connects_per_s: float = 0.0) -> float | None:
        """A search's level of ``users`` slots: its arrivals from now, the sessions its
        past has open given out ``connects_per_s`` (0: at once); its multiplier (None:
        not a model search)."""
        if self.levels is None:
            return None
        before, self._scale = self._scale, self.levels.scale(users)
        self._pace = connects_per_s
        if self.source is not None:
            self.source.scale_to(self._scale, self._open_now(), connects_per_s)
        if self._tell is not None:
            keep = min(1.0, self._scale / before) if before > 0 else 1.0
            self._tell(self._level_told(keep))
        return self.levels.multiplier(users)

    def _level_told(self, keep: float) -> tuple[float, float, float, float, float]:
        """What every generator process is told of a level (``TrafficEngine.at_level``):
        the share of turns kept, the people on each identity, the chats busy in the
        steady state and each role's bursts that send (-1: not known)."""
        assert self.levels is not None
        peak = self.levels.peak
        owner, requester = (peak.burst_success.get(role, -1.0) for role in ROLES)
        return keep, self._scale, peak.busy_chats, owner, requester

    def ramped(self) -> bool:
        """The level's carried sessions have all been given out (``at_level``)."""
        return self.source is None or self.source.ramped

    def _open_now(self) -> float | None:
        """The sessions open as the last interval was taken (None: not known yet)."""
        return self._live.last_open_sessions if self._live is not None else None

    def model_peak(self) -> dict[str, Any] | None:
        """A search's 1x: the model's busiest hour for its baseline people."""
        if self.levels is None:
            return None
        expected = {name: round(v, 4) for name, v in self.levels.expected(1.0).items()}
        return {"hour": self.levels.hour, "people": self.levels.baseline, **expected}

    def most_users(self) -> int | None:
        return self.levels.most_users() if self.levels is not None else None

    def take(self) -> TrafficBatch | None:
        """What this process's people did since the last interval."""
        return self.engine.take() if self.engine is not None else None

    @staticmethod
    def on_worker(runner: Any, current: Callable[[], TrafficSetup | None]) -> None:
        """A worker: the master's arrivals, and turns forwarded through it."""

        def to_engine(act: Callable[[TrafficEngine, Any], None]) -> Callable[[Any, str], None]:
            def handle(value: Any, _: str) -> None:
                setup = current()
                if setup is not None and setup.engine is not None:
                    act(setup.engine, value)

            return handle

        messages.on(runner, messages.LEVEL, to_engine(lambda e, told: e.at_level(*told)))
        messages.on(runner, messages.ARRIVAL, to_engine(TrafficEngine.arrive))
        messages.on(runner, messages.CARRIED, to_engine(lambda e, owed: e.carry_over(*owed)))
        messages.on(runner, messages.TURN_DUE, to_engine(TrafficEngine.receive_turn))

    def start_process(self, environment: Environment, runtime: ChatRuntime, lender: Lender) -> None:
        """This process's engine, on the runtime (every process with users)."""
        runner = running(environment)
        forward = None
        if isinstance(runner, WorkerRunner):

            def forward(turn: TurnDue) -> None:
                messages.send(runner, messages.TURN_DUE, turn)

        self.engine = TrafficEngine(
            self.model,
            self.options.time_scale,
            lender,
            runtime.rng,
            start_wall=time.time(),
            start_hour=self.options.traffic_start_hour,
            forward=forward,
        )
        self.engine.quiet = lambda: runtime.quiet
        runtime.traffic = self.engine
        self.engine.start()

    def start_source(self, environment: Environment, pipeline: IntervalPipeline | None) -> None:
        """The run's arrivals (master or alone), and the proof's feed."""
        runner = running(environment)
        start = time.time()
        deliver, carry = self._deliveries(runner)
        self._live = pipeline.live if pipeline is not None else None
        if isinstance(runner, MasterRunner):
            self._tell = lambda level: messages.send(runner, messages.LEVEL, level)
        else:
            self._tell = lambda level: self.engine.at_level(*level) if self.engine else None
        levels = self.levels
        carried = None
        if levels is not None:
            scaled = self.model.time_scaled(self.options.time_scale)
            streams = levels.peak.turn_streams(scaled, self.populations)
            carried = (CarriedTurns(streams, levels.open_at_once()), carry)
        self.source = source = ArrivalSource(
            self.model,
            self.populations,
            deliver,
            time_scale=self.options.time_scale,
            start_hour=self.start_hour,
            start_wall=start,
            frozen=levels is not None,
            scale=self._scale if levels is None else 0.0,  # a search's level: below
            carried=carried,
        )
        if pipeline is not None and pipeline.traffic is None:
            # The model's clock runs from --traffic-start-hour in every process (a
            # search's arrivals hold their busiest hour, not the clock).
            scale, origin = self.options.time_scale, self.options.traffic_start_hour * 3600

            def to_model(wall: float) -> float:
                return origin + (wall - start) * scale

            def cumulative(role: Role, model_time: float) -> float:
                return source.expected(start, start + (model_time - origin) / scale)[role]

            pipeline.follow_traffic(
                TrafficFeed(
                    self.model,
                    self.populations,
                    self.roles,
                    to_model,
                    source.expected,
                    cumulative=cumulative if levels is not None else None,
                )
            )
        self.source.start()
        if levels is not None:
            # With the sessions its past has open.
            self.source.scale_to(self._scale, 0.0, self._pace)
            self._tell(self._level_told(1.0))

    def _deliveries(
        self, runner: Any
    ) -> tuple[Callable[[Role], None], Callable[[Role, str], None]]:
        """Where arrivals and what the past owes go: the workers in turn, or here."""
        if isinstance(runner, MasterRunner):
            workers = itertools.cycle(range(1 << 30))

            def to_worker(kind: messages.Kind[Any], value: object) -> None:
                clients = list(runner.clients)
                if clients:
                    worker = clients[next(workers) % len(clients)]
                    messages.send(runner, kind, value, client_id=worker)

            return (
                lambda role: to_worker(messages.ARRIVAL, role),
                lambda role, what: to_worker(messages.CARRIED, (role, what)),
            )

        def arrive(role: Role) -> None:
            if self.engine is not None:
                self.engine.arrive(role)

        def carry(role: Role, what: str) -> None:
            if self.engine is not None:
                self.engine.carry_over(role, what)

        return arrive, carry

    @staticmethod
    def on_master(runner: MasterRunner) -> None:
        """The master: a turn for someone online elsewhere goes to every worker."""
        messages.on(
            runner,
            messages.TURN_DUE,
            lambda turn, _: messages.send(runner, messages.TURN_DUE, turn),
        )

    def stop_arrivals(self) -> None:
        """No more people come: the run winds down (its sessions end by themselves)."""
        if self.source is not None:
            self.source.stop()

    def stop(self) -> None:
        if self.source is not None:
            self.source.stop()
            self.source = None
        if self.engine is not None:
            self.engine.stop()
            self.engine = None
