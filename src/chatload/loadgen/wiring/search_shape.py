"""``--shape search``: the capacity search as a Locust load shape.

The shape runs on the master (or the only process), so it steers workers the way
any shape does, from the web UI or headless. Each level: ask Locust for its users,
wait until they are in, then judge a window of whole reporting intervals from the
next interval boundary on (``records.export.Window``), held ``--search-hold``
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
from pathlib import Path
from typing import TYPE_CHECKING, Final

from locust import LoadTestShape

from chatload.records.export import RecordsExporter, Window
from chatload.search import CapacitySearch, LevelResult, SearchOutcome
from chatload.slo import LATENCIES, Threshold, evaluate, run_figures

if TYPE_CHECKING:
    from locust.env import Environment

    from chatload.loadgen.wiring.options import ChatOptions

__all__ = ["SearchShape", "write_outcome"]

log = logging.getLogger("chatload.loadgen")

_QUANTILES: Final = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}
_SAMPLES_ABOVE: Final = 10  # a percentile is bounded once this many samples lie above it
_LONGEST_HOLD: Final = 4.0  # times --search-hold, however few the samples
_EMBEDDED_MAX_USERS: Final = 2_000


def search_max_users(options: ChatOptions) -> int:
    """The highest level when the run does not say: what an embedded dataset is made for."""
    return options.search_max_users or _EMBEDDED_MAX_USERS


class SearchShape(LoadTestShape):
    abstract = True  # never picked by Locust from a locustfile: --shape search chooses it

    def __init__(
        self,
        options: ChatOptions,
        exporter: RecordsExporter,
        thresholds: list[Threshold],
        max_users: int,
        spawn_rate: float,
    ) -> None:
        super().__init__()
        self.options = options
        self.exporter = exporter
        self.thresholds = [t for t in thresholds if not t.drift]
        self.search = CapacitySearch(
            min(options.search_start_users, max_users),
            max_users,
            options.search_resolution,
        )
        self.spawn_rate = spawn_rate
        self._users: int | None = None
        self._window: Window | None = None
        self._hold_until = 0.0
        self._asked = 0.0

    def tick(self) -> tuple[int, float] | None:
        if self._users is None:
            return self._level(self.search.next_users())
        if self._window is None:
            if self.runner is not None and self.runner.state == "running" and self._recovered():
                self._open_window()
            return self._users, self.spawn_rate
        window = self._window
        if window.end is None or window.end < self._hold_until:
            return self._users, self.spawn_rate
        longest = window.start + _LONGEST_HOLD * self.options.search_hold
        if not self._bounded(window) and self._hold_until < longest:
            self._hold_until = min(longest, self._hold_until + self.options.search_hold / 2)
            return self._users, self.spawn_rate
        level = self._judge(window)
        self.search.record(level)
        log.info(
            "search level %d users: %s (%.1f messages/s)",
            level.users,
            "holds" if level.holds else "fails",
            level.messages_per_s,
        )
        return self._level(self.search.next_users())

    def _level(self, users: int | None) -> tuple[int, float] | None:
        self.exporter.window = self._window = None
        self._users = users
        self._asked = time.time()
        return None if users is None else (users, self.spawn_rate)

    def _recovered(self) -> bool:
        """After a failing level the server may still be working off its backlog: the
        next level is judged from the first interval whose latencies meet the SLOs
        (or, if none does, after twice --search-hold)."""
        levels = self.search.levels
        if not levels or levels[-1].holds:
            return True
        if time.time() - self._asked > 2 * self.options.search_hold:
            return True
        last = self.exporter.last_interval
        seconds = self.options.chat_interval
        latencies = [t for t in self.thresholds if t.statistic in LATENCIES]
        figures = run_figures(last, seconds, {})
        return bool(last) and all(v.passed for v in evaluate(latencies, figures))

    def _open_window(self) -> None:
        """From the first whole interval that starts after the users settled."""
        interval = self.options.chat_interval
        settled = time.time() + interval
        start = math.ceil(settled / interval) * interval
        self._window = self.exporter.open_window(start)
        self._hold_until = start + self.options.search_hold

    def _bounded(self, window: Window) -> bool:
        """Each latency SLO's percentile has enough samples above it."""
        for threshold in self.thresholds:
            quantile = _QUANTILES.get(threshold.statistic)
            if quantile is None or threshold.target in ("all", "invariant"):
                continue
            metric = window.metrics.get(threshold.target)
            answered = metric.histogram.get_total_count() if metric is not None else 0
            if answered * (1 - quantile) < _SAMPLES_ABOVE:
                return False
        return True

    def _judge(self, window: Window) -> LevelResult:
        breaches = window.breaches(self.exporter.breaches)
        figures = run_figures(window.metrics, window.seconds, breaches)
        verdicts = {
            verdict.threshold.text: (verdict.passed, verdict.measured())
            for verdict in evaluate(self.thresholds, figures)
        }
        sends = window.metrics.get("send_ack")
        acknowledged = (sends.operations - sends.failures) if sends is not None else 0
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
    failed = outcome.limited_by == "breach" or (at_least and outcome.users < at_least)
    if failed and environment.process_exit_code != 2:
        if at_least and outcome.users < at_least:
            sys.stderr.write(f"Capacity below --capacity-at-least {at_least}\n")
        environment.process_exit_code = 1
    return outcome
