"""``--shape search``: the capacity search as a Locust load shape.

The shape runs on the master (or the only process), so it steers workers the way
any shape does, from the web UI or headless. Each level: ask Locust for its users
(at ``CONNECTS_PER_S`` a generator process, or --spawn-rate when faster), wait until
they are in (and a model search's carried sessions are out, at the same pace), then
judge a window of whole reporting intervals from the next interval boundary on
(``records.windows.Window``, which the interval pipeline keeps while the level is
judged): after each interval the samples so far decide the level when they
can (``chatload.sequential``), and at ``--search-hold`` seconds the level ends
whatever they say (a threshold still undecided counts as holding, and says so).
What to try next is :class:`chatload.search.CapacitySearch`'s decision; the answer
is written at the end (:func:`write_outcome`), with the SLOs judged at the answer's
level.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from locust import LoadTestShape

from chatload.limits import RESERVED_FILES, open_file_limits
from chatload.loadgen.exits import COMPLETED, fail_verdict
from chatload.loadgen.people.identities import IdentityPool
from chatload.loadgen.people.shares import Share, roles_wanted
from chatload.loadgen.wiring.preflight import local_capacity
from chatload.records.hdr import MetricSnapshot
from chatload.records.pipeline import IntervalPipeline
from chatload.records.windows import Window
from chatload.search import (
    CapacitySearch,
    LevelResult,
    SearchOutcome,
    embedded_max_users,
    locust_users,
)
from chatload.sequential import Decision, decide_level
from chatload.slo import LATENCIES, RunFigures, Threshold, evaluate, run_figures

if TYPE_CHECKING:
    from locust.env import Environment

    from chatload.loadgen.engine.options import ChatOptions
    from chatload.loadgen.watching.gates import SloGate

__all__ = ["SearchShape", "install_search", "search_max_users", "write_outcome"]

log = logging.getLogger("chatload.loadgen")

_LONGEST_DRAIN: Final = 4.0  # times --search-hold at the draining level, at most
# A generator process connects this many users a second and stays unsaturated: a whole
# session (connect, initial_data, reads, close) costs about 3.2 ms of its CPU
# (docs/benchmarks.md, "Traffic models"), so 100 a second is a third of a core, and
# Locust itself warns above 100 a second.
CONNECTS_PER_S: Final = 100.0
# Whole intervals a level is held before it may hold: just over its capacity a server's
# queue grows slowly, so one interval can look calm where a few more would not. A
# failure needs no such wait: it is evidence already.
HOLDS_AFTER: Final = 2
# A model search: more than this share of a level's arrivals dropped for want of a
# slot (its slots with slack, ``search.SLOT_SLACK``, all busy) fails the level.
MOST_DROPPED: Final = 0.01
ARRIVALS_SERVED: Final = "arrivals dropped <= 1%"


def search_max_users(options: ChatOptions, local: bool) -> int | None:
    """The search's highest level: --search-max-users; else None with a users file
    (what its identities allow, known once they are read); else the embedded
    dataset's (``chatload.search``), within the embedded server's open files and, in
    a ``local`` run, this process's connections."""
    if options.search_max_users:
        return options.search_max_users
    if options.users_file:
        return None
    highest = embedded_max_users(
        open_file_limits()[1] - RESERVED_FILES,
        local_capacity(options).connections if local else None,
    )
    return max(options.search_start_users, highest)


class ModelLoad(Protocol):
    """A model search's levels (``traffic.levels``, played by the run's arrivals)."""

    def at_level(self, users: int, connects_per_s: float) -> float | None:
        """The arrivals of a level of ``users`` slots from now, the sessions its past
        has open given out ``connects_per_s``; its multiplier."""

    def ramped(self) -> bool:
        """The level's sessions have all been given out: it may be judged."""

    def model_peak(self) -> dict[str, Any] | None:
        """The 1x: the model's busiest hour for the baseline people."""

    def most_users(self) -> int | None:
        """The highest level the identities hold people for (None: no limit)."""


class SearchShape(LoadTestShape):
    abstract = True  # never picked by Locust from a locustfile: --shape search chooses it

    def __init__(
        self,
        options: ChatOptions,
        pipeline: IntervalPipeline,
        thresholds: list[Threshold],
        max_users: int,
        *,
        spawn_rate: float,
        processes: int = 1,
        run_time: float | None = None,
        model_load: ModelLoad | None = None,
    ) -> None:
        super().__init__()
        self.model_load = model_load  # a model search's levels as multipliers
        self._multiplier: float | None = None
        self.run_time = run_time  # -t, seconds
        self.options = options
        self.pipeline = pipeline
        self.thresholds = [t for t in thresholds if not t.drift]
        self._latencies = [t for t in self.thresholds if t.statistic in LATENCIES]
        self.search = CapacitySearch(
            min(options.search_start_users, max_users),
            max_users,
            options.search_resolution,
            confirm=options.search_confirm,
        )
        self.spawn_rate = max(spawn_rate, CONNECTS_PER_S * max(processes, 1))
        self._rate = self.spawn_rate
        self._users: int | None = None
        self._window: Window | None = None
        self._asked = 0.0
        self._after_drain: int | None = None  # the level to go on with once drained
        self._decided: tuple[int, Decision, dict[str, Decision]] | None = None
        # Each judged level's figures as the SLOs read them, and its thresholds' sequential
        # decisions, in the order of the search's levels (the answer's are judged at
        # the end).
        self.judged: list[tuple[RunFigures, dict[str, Decision]]] = []
        self.samples: list[tuple[dict[str, MetricSnapshot], float, dict[str, int]]] = []

    def tick(self) -> tuple[int, float] | None:
        if self.run_time and self.get_run_time() >= self.run_time:
            # Locust leaves a headless shape's -t to the shape: the search is cut short.
            self.search.stop_here()
            return self._level(None)
        if self._users is None:
            return self._level(self.search.next_users())
        if self._after_drain is not None:
            if not self._drained():
                return self._locust_users(), self._rate
            upcoming, self._after_drain = self._after_drain, None
            return self._level(upcoming)
        window = self._window
        if window is None:
            if self._ramped():
                self._open_window()
        elif not self._holding(window):
            return self._judged(self._judge(window))
        return self._locust_users(), self._rate

    def _ramped(self) -> bool:
        """The level's users are in (and a model search's carried sessions given out)."""
        if self.runner is None or self.runner.state != "running":
            return False
        return self.model_load is None or self.model_load.ramped()

    def _locust_users(self) -> int:
        """The users Locust runs for the level (a model search's: with slack)."""
        return locust_users(self._users or 0, self.model_load is not None)

    def _holding(self, window: Window) -> bool:
        """The level is held on: not one whole interval yet (``HOLDS_AFTER`` for it to
        hold), or its samples decide nothing yet and --search-hold seconds have not
        passed."""
        if window.end is None:
            return True
        decision, _ = self._decision(window)
        if decision is Decision.FAILS or (
            decision is Decision.HOLDS and window.intervals >= HOLDS_AFTER
        ):
            return False
        return window.end < window.start + self.options.search_hold

    def _decision(self, window: Window) -> tuple[Decision, dict[str, Decision]]:
        """The sequential verdict on the window's samples (worked out once an interval)."""
        if self._decided is None or self._decided[0] != window.intervals:
            figures = self._window_figures(window)
            decision, each = decide_level(self.thresholds, window.metrics, figures)
            self._decided = (window.intervals, decision, each)
        return self._decided[1], self._decided[2]

    def _window_figures(self, window: Window) -> RunFigures:
        breaches = window.breaches(self.pipeline.live.breaches)
        return run_figures(window.metrics, window.seconds, breaches)

    def _judged(self, level: LevelResult) -> tuple[int, float] | None:
        self.search.record(level)
        log.info(
            "search level %d users: %s (%.1f messages/s)",
            level.users,
            "holds" if level.holds else "fails",
            level.messages_per_s,
        )
        upcoming = self.search.next_users()
        if upcoming is not None and not level.holds:
            return self._drain(upcoming)
        return self._level(upcoming)

    def _level(self, users: int | None) -> tuple[int, float] | None:
        self.pipeline.close_window()
        self._window = None
        self._decided = None
        self._users = users
        self._asked = time.time()
        if users is not None and self.model_load is not None:
            self._multiplier = self.model_load.at_level(users, self._rate)
        return None if users is None else (self._locust_users(), self._rate)

    def _drain(self, upcoming: int) -> tuple[int, float] | None:
        """After a failing level the server has a backlog, and a next level still
        above its capacity would only add to it (each level after would be judged on
        the one before): first half the highest level that held below ``upcoming``,
        until the server has worked the backlog off."""
        holding = [lv.users for lv in self.search.levels if lv.holds and lv.users < upcoming]
        users = max(1, max(holding, default=upcoming) // 2)
        log.info("search: %d users until the server has worked off its backlog", users)
        self._after_drain = upcoming
        return self._level(users)

    def _drained(self) -> bool:
        """A whole interval at the draining level met every latency SLO, and in a
        model search dropped no more arrivals than a level may (or, if none does
        within _LONGEST_DRAIN holds, the next level goes on, said once)."""
        waited = time.time() - self._asked
        if waited > _LONGEST_DRAIN * self.options.search_hold:
            log.warning(
                "search: the server had not worked off its backlog after %.0f s at %d users; "
                "the next level is judged with what is left of it",
                waited,
                self._users or 0,
            )
            return True
        seconds = self.options.chat_interval
        if waited < 2 * seconds:  # the last interval may still be the failing level's
            return False
        live = self.pipeline.live
        figures = run_figures(live.last_interval, seconds, {})
        if self.model_load is not None and live.last_dropped_share > MOST_DROPPED:
            return False  # a model search's sessions still outlast its slots
        return bool(live.last_interval) and all(
            v.passed for v in evaluate(self._latencies, figures)
        )

    def _open_window(self) -> None:
        """From the first whole interval that starts after the users are in."""
        interval = self.options.chat_interval
        start = math.ceil((time.time() + 0.5) / interval) * interval
        self._window = self.pipeline.open_window(start)

    def _judge(self, window: Window) -> LevelResult:
        figures = self._window_figures(window)
        _, each = self._decision(window)
        self._decided = None
        self.judged.append((figures, each))
        self.samples.append((window.metrics, window.seconds, dict(figures.breaches)))
        verdicts = {}
        for verdict in evaluate(self.thresholds, figures):
            text = verdict.threshold.text
            verdicts[text] = (each[text] is not Decision.FAILS, verdict.measured())
        if self._multiplier is not None:
            verdicts[ARRIVALS_SERVED] = arrivals_served(window)
        acknowledged = window.acknowledged()
        cpu = window.server_cpu
        return LevelResult(
            self._users or 0,
            window.seconds,
            acknowledged / window.seconds if window.seconds > 0 else 0.0,
            verdicts,
            saturated=window.saturated > 0,
            breaches=sum(figures.breaches.values()),
            server_cpu_percent=sum(cpu) / len(cpu) if cpu else None,
            server_rss_bytes=window.server_rss,
            undecided=tuple(t for t, d in each.items() if d is Decision.UNDECIDED),
            load_share=load_share(self.thresholds, figures),
            multiplier=self._multiplier,
            sessions_per_s=window.sessions_begun / window.seconds
            if self._multiplier is not None and window.seconds > 0
            else None,
            concurrent_sessions=window.sessions_at_once() if self._multiplier is not None else None,
        )


def arrivals_served(window: Window) -> tuple[bool, str]:
    """A model search's level carries its multiplier only if its arrivals found free
    slots: its sessions outlasting the slots (a slowed server keeps people longer)
    fail it, as a latency would."""
    share = window.dropped_share()
    return share <= MOST_DROPPED, f"{share:.1%} dropped"


def load_share(thresholds: list[Threshold], figures: RunFigures) -> float:
    """The highest figure's share of its threshold, over the upper bounds (nan: none)."""
    shares = []
    for threshold in thresholds:
        value = figures.value(threshold)
        if threshold.op in ("<", "<=") and value is not None and threshold.limit > 0:
            shares.append(value / threshold.limit)
    return max(shares, default=math.nan)


def write_outcome(
    environment: Environment,
    shape: SearchShape,
    prefix: str | None,
    at_least: int,
    gate: SloGate | None = None,
) -> SearchOutcome:
    """The answer: one line on stderr, ``PREFIX_capacity.json``, the SLOs judged at the
    answer's level (``gate``: ``PREFIX_slo.csv``, JUnit), and the exit code: 1 on a
    breach or below ``at_least``, else 0 (the failing levels' timeouts are the
    search's means, not a failure of the run)."""
    outcome = shape.search.stop_here()
    if shape.model_load is not None:
        outcome.model_peak = shape.model_load.model_peak()
    sys.stderr.write(outcome.line() + "\n")
    if prefix:
        path = Path(f"{prefix}_capacity.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(outcome.to_json(), indent=2) + "\n", encoding="utf-8")
    answer = _answer_level(shape, outcome)
    if gate is not None and answer is not None:
        figures, each = answer
        undecided = [text for text, decision in each.items() if decision is Decision.UNDECIDED]
        gate.judge(figures, undecided=undecided, fail=False)
    below = bool(at_least) and outcome.users < at_least
    if below:
        cut = "" if outcome.complete else " (the search was cut short: at least this was shown)"
        sys.stderr.write(f"Capacity below --capacity-at-least {at_least}{cut}\n")
    if outcome.limited_by == "breach" or below:
        fail_verdict(environment)
    elif environment.process_exit_code is None:
        environment.process_exit_code = COMPLETED
    return outcome


def _answer_level(
    shape: SearchShape, outcome: SearchOutcome
) -> tuple[RunFigures, dict[str, Decision]] | None:
    """The figures the answer stands on: its level's holds (no level held: the
    lowest level's, which failed)."""
    levels = shape.search.levels[: len(shape.judged)]
    if not levels:
        return None
    if not outcome.users:
        return shape.judged[min(range(len(levels)), key=lambda i: levels[i].users)]
    held = [i for i, level in enumerate(levels) if level.holds and level.users == outcome.users]
    if len(held) == 1:
        return shape.judged[held[0]]
    # Held more than once (confirmed): the SLOs are judged on every hold's samples.
    merged: dict[str, MetricSnapshot] = {}
    seconds, breaches = 0.0, Counter[str]()
    for i in held:
        metrics, length, broken = shape.samples[i]
        for name, snapshot in metrics.items():
            if name in merged:
                merged[name].add(snapshot)
            else:
                merged[name] = MetricSnapshot.from_wire(snapshot.to_wire())
        seconds += length
        breaches.update(broken)
    figures = run_figures(merged, seconds, breaches)
    return figures, decide_level(shape.thresholds, merged, figures)[1]


def install_search(
    environment: Environment,
    *,
    options: ChatOptions,
    pipeline: IntervalPipeline,
    thresholds: list[Threshold],
    pool: IdentityPool,
    shares: dict[str, Share],
    highest: int | None,
    workers: int,
    model_load: ModelLoad | None = None,
) -> int:
    """--shape search: the search shape on ``environment``, up to ``highest`` users or,
    when None, as many as the identities of ``pool`` allow; the highest level."""

    def fits(users: int) -> bool:
        wanted = roles_wanted(users, options, workers, shares)
        return all(pool.total[role] >= count for role, count in wanted.items())

    max_users = highest or _largest(fits, sum(pool.total.values()))
    most = model_load.most_users() if model_load is not None else None
    max_users = min(max_users, most or max_users)
    parsed = environment.parsed_options
    asked = float(getattr(parsed, "spawn_rate", None) or 0)
    shape = SearchShape(
        options,
        pipeline,
        thresholds,
        max_users,
        spawn_rate=max(asked, 20.0),
        processes=workers,
        run_time=_seconds(getattr(parsed, "run_time", None)),
        model_load=model_load,
    )
    shape.runner = environment.runner
    environment.shape_class = shape
    return max_users


def _seconds(run_time: object) -> float | None:
    """-t as Locust parsed it (seconds), or as given (a timespan such as 9m)."""
    if not run_time:
        return None
    if isinstance(run_time, str):
        from locust.util.timespan import parse_timespan

        return float(parse_timespan(run_time))
    return float(run_time)  # type: ignore[arg-type]


def _largest(fits: Callable[[int], bool], most: int) -> int:
    """The largest n in 1..most that ``fits`` (fits is monotonic); at least 1."""
    low, high = 1, max(1, most)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low
