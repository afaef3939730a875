"""``--shape search``: the capacity search as a Locust load shape.

The shape runs on the master (or the only process), so it steers workers the way
any shape does, from the web UI or headless. Each level: ask Locust for its users,
wait until they are in, then judge a window of whole reporting intervals from the
next interval boundary on (``records.windows.Window``, which the interval pipeline
keeps while the level is judged), held ``--search-hold``
seconds and longer while an SLO's percentile has too few samples to bound it. What
to try next is :class:`chatload.search.CapacitySearch`'s decision; the answer is
written at the end (:func:`write_outcome`).
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from locust import LoadTestShape

from chatload.limits import RESERVED_FILES, open_file_limits
from chatload.loadgen.exits import fail_verdict
from chatload.loadgen.people.identities import IdentityPool
from chatload.loadgen.people.shares import Share, roles_wanted
from chatload.loadgen.wiring.preflight import local_capacity
from chatload.records.hdr import PERCENTILE_SHARES
from chatload.records.pipeline import IntervalPipeline
from chatload.records.windows import Window
from chatload.search import CapacitySearch, LevelResult, SearchOutcome, embedded_max_users
from chatload.slo import LATENCIES, Threshold, evaluate, run_figures

if TYPE_CHECKING:
    from locust.env import Environment

    from chatload.loadgen.engine.options import ChatOptions

__all__ = ["SearchShape", "install_search", "search_max_users", "write_outcome"]

log = logging.getLogger("chatload.loadgen")

_SAMPLES_ABOVE: Final = 10  # a percentile is bounded once this many samples lie above it
_LONGEST_HOLD: Final = 4.0  # times --search-hold, however few the samples
_LONGEST_DRAIN: Final = 4.0  # times --search-hold at the draining level, at most
_RAMP_S: Final = 10.0  # a level's new users come in within this, at --spawn-rate or faster


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


class SearchShape(LoadTestShape):
    abstract = True  # never picked by Locust from a locustfile: --shape search chooses it

    def __init__(
        self,
        options: ChatOptions,
        pipeline: IntervalPipeline,
        thresholds: list[Threshold],
        max_users: int,
        spawn_rate: float,
    ) -> None:
        super().__init__()
        self.options = options
        self.pipeline = pipeline
        self.thresholds = [t for t in thresholds if not t.drift]
        self._latencies = [t for t in self.thresholds if t.statistic in LATENCIES]
        self.search = CapacitySearch(
            min(options.search_start_users, max_users),
            max_users,
            options.search_resolution,
        )
        self.spawn_rate = spawn_rate
        self._rate = spawn_rate
        self._users: int | None = None
        self._window: Window | None = None
        self._hold_until = 0.0
        self._asked = 0.0
        self._after_drain: int | None = None  # the level to go on with once drained

    def tick(self) -> tuple[int, float] | None:
        if self._users is None:
            return self._level(self.search.next_users())
        if self._after_drain is not None:
            if not self._drained():
                return self._users, self._rate
            upcoming, self._after_drain = self._after_drain, None
            return self._level(upcoming)
        window = self._window
        if window is None:
            if self.runner is not None and self.runner.state == "running":
                self._open_window()
        elif not self._holding(window):
            return self._judged(self._judge(window))
        return self._users, self._rate

    def _holding(self, window: Window) -> bool:
        """The level is held on: its window is not over, or an SLO's percentile is
        not bounded yet and the hold can still be extended."""
        if window.end is None or window.end < self._hold_until:
            return True
        longest = window.start + _LONGEST_HOLD * self.options.search_hold
        if not self._bounded(window) and self._hold_until < longest:
            self._hold_until = min(longest, self._hold_until + self.options.search_hold / 2)
            return True
        return False

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
        if users is not None:
            # A level of 10,000 more users at 20 a second would ramp for 8 minutes.
            self._rate = max(self.spawn_rate, abs(users - (self._users or 0)) / _RAMP_S)
        self._users = users
        self._asked = time.time()
        return None if users is None else (users, self._rate)

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
        """A whole interval at the draining level met every latency SLO (or, if none
        does within _LONGEST_DRAIN holds, the next level goes on, said once)."""
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
        last = self.pipeline.live.last_interval
        figures = run_figures(last, seconds, {})
        return bool(last) and all(v.passed for v in evaluate(self._latencies, figures))

    def _open_window(self) -> None:
        """From the first whole interval that starts after the users settled."""
        interval = self.options.chat_interval
        settled = time.time() + interval
        start = math.ceil(settled / interval) * interval
        self._window = self.pipeline.open_window(start)
        self._hold_until = start + self.options.search_hold

    def _bounded(self, window: Window) -> bool:
        """Each latency SLO's percentile has enough samples above it."""
        for threshold in self.thresholds:
            quantile = PERCENTILE_SHARES.get(threshold.statistic)
            if quantile is None or threshold.target in ("all", "invariant"):
                continue
            metric = window.metrics.get(threshold.target)
            answered = metric.histogram.get_total_count() if metric is not None else 0
            if answered * (1 - quantile) < _SAMPLES_ABOVE:
                return False
        return True

    def _judge(self, window: Window) -> LevelResult:
        breaches = window.breaches(self.pipeline.live.breaches)
        figures = run_figures(window.metrics, window.seconds, breaches)
        verdicts = {
            verdict.threshold.text: (verdict.passed, verdict.measured())
            for verdict in evaluate(self.thresholds, figures)
        }
        acknowledged = window.acknowledged()
        cpu = window.server_cpu
        return LevelResult(
            self._users or 0,
            window.seconds,
            acknowledged / window.seconds if window.seconds > 0 else 0.0,
            verdicts,
            saturated=window.saturated > 0,
            breaches=sum(breaches.values()),
            server_cpu_percent=sum(cpu) / len(cpu) if cpu else None,
            server_rss_bytes=window.server_rss,
        )


def write_outcome(
    environment: Environment, shape: SearchShape, prefix: str | None, at_least: int
) -> SearchOutcome:
    """The answer: one line on stderr, ``PREFIX_capacity.json``, and the exit code
    (1 on a breach, or below ``--capacity-at-least``)."""
    outcome = shape.search.stop_here()
    sys.stderr.write(outcome.line() + "\n")
    if prefix:
        path = Path(f"{prefix}_capacity.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(outcome.to_json(), indent=2) + "\n", encoding="utf-8")
    below = bool(at_least) and outcome.users < at_least
    if below:
        sys.stderr.write(f"Capacity below --capacity-at-least {at_least}\n")
    if outcome.limited_by == "breach" or below:
        fail_verdict(environment)
    return outcome


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
) -> int:
    """--shape search: the search shape on ``environment``, up to ``highest`` users or,
    when None, as many as the identities of ``pool`` allow; the highest level."""

    def fits(users: int) -> bool:
        wanted = roles_wanted(users, options, workers, shares)
        return all(pool.total[role] >= count for role, count in wanted.items())

    max_users = highest or _largest(fits, sum(pool.total.values()))
    parsed = environment.parsed_options
    asked = float(getattr(parsed, "spawn_rate", None) or 0)
    shape = SearchShape(options, pipeline, thresholds, max_users, spawn_rate=max(asked, 20.0))
    shape.runner = environment.runner
    environment.shape_class = shape
    return max_users


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
