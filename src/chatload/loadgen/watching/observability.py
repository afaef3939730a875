"""What a run records beside Locust's own stats, and where it goes.

In every generator process, an :class:`Observer` keeps:
- the microsecond interval records (HDR histograms per metric);
- the generator's health: CPU, and how late a 20 ms timer fires (event-loop lag);
- the optional raw samples;
- the breaches found.

Workers ship intervals and breaches to the master with Locust messages. The
master (or the only process of a local run) puts them through the interval
pipeline of :mod:`chatload.records.pipeline`. The master also runs the cross-side comparison of
the quiescence phase, from every process's chat summaries.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import gevent
import psutil
from locust.env import Environment
from locust.runners import MasterRunner, Runner, WorkerRunner

from chatload.loadgen.background import BackgroundJob
from chatload.loadgen.engine.runtime import fire_breach
from chatload.loadgen.messages import BREACHES, INTERVALS, send
from chatload.records.files import SampleWriter
from chatload.records.hdr import IntervalRecorder, IntervalSnapshot, percentiles
from chatload.records.health import PHASES, Health, Phase, Saturation
from chatload.records.pipeline import IntervalPipeline
from chatload.tracking.clocks import Offset
from chatload.tracking.invariants import Breach, ChatSummary, compare_sides
from chatload.tracking.metrics import DELIVERY, Sample, failure_kind
from chatload.traffic.batch import TrafficBatch

__all__ = ["HealthMonitor", "Observer", "RunRecords"]

log = logging.getLogger("chatload.loadgen")

_LAG_PROBE: Final = 0.02
_TICK: Final = 0.25


def process_name(runner: Runner | None) -> str:
    if isinstance(runner, WorkerRunner):
        return f"worker-{runner.worker_index}"
    if isinstance(runner, MasterRunner):
        return "master"
    return "local"


class HealthMonitor(BackgroundJob):
    """CPU share and event-loop lag of this process, per interval."""

    def __init__(self) -> None:
        self._lags: list[float] = []
        self._cpu, self._wall = self._clocks()
        self._process = psutil.Process()

    @staticmethod
    def _clocks() -> tuple[float, float]:
        times = os.times()
        return times.user + times.system, time.perf_counter()

    def _run(self) -> None:
        while True:
            started = time.perf_counter()
            gevent.sleep(_LAG_PROBE)
            self._lags.append(max(time.perf_counter() - started - _LAG_PROBE, 0.0))

    def take(self, clock: Offset, unsettled_chats: int = 0) -> Health:
        cpu, wall = self._clocks()
        elapsed = max(wall - self._wall, 1e-9)
        lags, self._lags = sorted(self._lags), []
        share = (cpu - self._cpu) / elapsed * 100
        self._cpu, self._wall = cpu, wall

        def at(fraction: float) -> float:
            return lags[min(len(lags) - 1, int(fraction * len(lags)))] * 1000 if lags else 0.0

        return Health.with_rss_bytes(
            float(self._process.memory_info().rss),
            cpu_percent=share,
            loop_lag_p50_ms=at(0.5),
            loop_lag_p99_ms=at(0.99),
            loop_lag_max_ms=lags[-1] * 1000 if lags else 0.0,
            clock_offset_ms=clock.offset * 1000,
            clock_uncertainty_ms=clock.uncertainty * 1000,
            unsettled_chats=unsettled_chats,
        )


class RunRecords:
    """On the master or a local runner: everything merged and written."""

    def __init__(
        self, environment: Environment, saturation: Saturation, horizon_hours: float = 24.0
    ) -> None:
        self.environment = environment
        parsed = environment.parsed_options
        prefix = getattr(parsed, "csv_prefix", None) if parsed is not None else None
        runner = environment.runner
        self.pipeline = IntervalPipeline(
            prefix,
            processes=lambda: runner.worker_count if isinstance(runner, MasterRunner) else 1,
            saturation=saturation,
            horizon_hours=horizon_hours,
        )
        self.summaries: list[ChatSummary] = []
        self.summary_reports = 0
        self.finals: set[str] = set()
        self.closed = False

    def interval(self, snapshot: IntervalSnapshot) -> None:
        if not self.closed:
            self.pipeline.add_interval(snapshot)
            if snapshot.final:
                self.finals.add(snapshot.process)

    def wait_for_workers(self, workers: int, timeout: float) -> None:
        """At the end of a distributed run: every worker's last interval, or the timeout."""
        deadline = time.monotonic() + timeout
        while len(self.finals) < workers and time.monotonic() < deadline:
            gevent.sleep(0.05)
        self.finals.clear()

    def breaches(self, breaches: list[Breach], *, fire: bool) -> None:
        """Write breaches; ``fire`` them as Locust failures too (found here, not on a worker)."""
        if self.closed:
            return
        self.pipeline.add_breaches(breaches)
        if fire:
            for breach in breaches:
                fire_breach(self.environment, breach)

    def chat_summaries(self, summaries: list[ChatSummary]) -> None:
        self.summaries.extend(summaries)
        self.summary_reports += 1

    def compare(self) -> int:
        """The cross-side comparison of the quiescence phase, once per stop; the
        number of breaches found."""
        summaries, self.summaries, self.summary_reports = self.summaries, [], 0
        breaches = compare_sides(summaries, time.time()) if summaries else []
        self.breaches(breaches, fire=True)
        return len(breaches)

    def close(self) -> None:
        if self.closed:
            return
        pipeline = self.pipeline
        pipeline.close()
        self.closed = True
        saturated = pipeline.trust.saturated_by_process
        if saturated:
            where = ", ".join(f"{process}: {count}" for process, count in sorted(saturated.items()))
            log.warning(
                "the generator was saturated in %d of %d intervals (%s): latencies measured then "
                "are the generator's, not the server's; add workers or lower the load",
                max(saturated.values()),
                pipeline.trust.intervals,
                where,
            )
        spawning = pipeline.trust.saturated_by_phase["spawning"]
        if spawning:
            log.warning(
                "the generator was saturated in %d intervals while users were spawning (marked "
                "in the generator-health export): latencies measured then are the generator's; "
                "a lower --spawn-rate spreads the start-up work",
                spawning,
            )
        breaches = pipeline.live.breaches
        if breaches:
            found = ", ".join(f"{kind}: {n}" for kind, n in sorted(breaches.items()))
            log.warning("the server broke its guarantees: %s", found)
        trust = pipeline.trust.trust
        delivery = pipeline.run.metrics.get(DELIVERY)
        warning = trust.clock_warning(
            percentiles(delivery.histogram).p50_ms if delivery is not None else 0.0
        )
        if warning:
            log.warning("%s", warning)
        sys.stderr.write(trust.line() + "\n")
        sys.stderr.flush()
        if getattr(self.environment.parsed_options, "history_store", None):
            # Recording reads the run's exports back with the analysis (SciPy among
            # it): imported by a run that records itself only, not by every generator
            # process (60 MiB more RSS before the first user, measured).
            from chatload.history.record import record_into_history

            record_into_history(self.environment.parsed_options)


class Observer:
    """One generator process's records; ``record`` is on the hot path."""

    def __init__(
        self,
        environment: Environment,
        *,
        interval: float,
        records: RunRecords | None,
        samples: Path | None,
        phase: Callable[[], Phase] = lambda: "running",
        clock: Callable[[], Offset] = Offset,
        traffic: Callable[[], TrafficBatch | None] = lambda: None,
    ) -> None:
        self.environment = environment
        self.runner = environment.runner
        self.records = records
        self.process = process_name(self.runner)
        # The phase of the interval so far: stopping outranks spawning, which
        # outranks running (an interval that saw any start-up work is marked so).
        self._phase_now = phase
        self._phase = phase()
        self._clock = clock
        self._traffic = traffic  # a model run's people: what they did this interval
        self.recorder = IntervalRecorder(interval, self.process, time.time())
        self.health = HealthMonitor()
        self.samples = (
            SampleWriter(samples.with_name(f"{samples.name}.{self.process}.csv"))
            if samples
            else None
        )
        self._breaches: list[Breach] = []
        self._greenlet: gevent.Greenlet | None = None
        self.unsettled = 0  # chats still owed answers when settling ran out of time

    def start(self) -> None:
        self.health.start()
        self._greenlet = gevent.spawn(self._tick)

    def record(self, sample: Sample) -> None:
        if sample.late:
            self.recorder.late(sample.metric, sample.seconds, sample.cross_process)
            return
        error = sample.error
        kind = failure_kind(error) if error is not None else None
        self.recorder.record(
            sample.metric,
            sample.seconds,
            kind,
            sample.cross_process,
            measured=kind != "timeout",
        )
        if self.samples is not None:
            self.samples.add(time.time(), sample, kind or "")

    def breach(self, breach: Breach) -> None:
        self._breaches.append(breach)

    def _note_phase(self) -> Phase:
        now = self._phase_now()
        if PHASES.index(now) > PHASES.index(self._phase):
            self._phase = now
        return now

    def _roll(self, wall: float, phase: Phase, unsettled_chats: int = 0) -> IntervalSnapshot:
        health = self.health.take(self._clock(), unsettled_chats)
        snapshot = self.recorder.roll(wall, health)
        snapshot.phase = self._phase
        snapshot.traffic = self._traffic()
        self._phase = phase
        return snapshot

    def _tick(self) -> None:
        while True:
            gevent.sleep(_TICK)
            wall = time.time()
            now = self._note_phase()
            if self.recorder.due(wall):
                self._ship(self._roll(wall, now))
            self._ship_breaches()

    def _runner(self) -> Runner:
        runner = self.runner
        assert runner is not None, "an observer runs in a process Locust started"
        return runner

    def _ship(self, snapshot: IntervalSnapshot) -> None:
        if self.records is not None:
            self.records.interval(snapshot)
        else:
            send(self._runner(), INTERVALS, snapshot)

    def _ship_breaches(self) -> None:
        if not self._breaches:
            return
        breaches, self._breaches = self._breaches, []
        if self.records is not None:
            self.records.breaches(breaches, fire=False)
        else:
            send(self._runner(), BREACHES, breaches)

    def stop(self) -> None:
        """Ship the last, partial interval and whatever is pending."""
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        self.health.stop()
        self._phase = "stopping"
        last = self._roll(time.time(), "stopping", self.unsettled)
        last.final = True
        self._ship(last)
        self._ship_breaches()
        if self.samples is not None:
            self.samples.close()
