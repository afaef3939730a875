"""chatload inside Locust: ``install(events)`` from a locustfile wires it all.

- ``init`` (master or local process): the target. With ``--host`` the users file
  is read; without it, the embedded reference server is provisioned and started.
  A headless run checks the target before any user starts (server reachable, a
  token accepted, ``initial_data`` first, enough identities) and exits with one
  line and status 2 when something is wrong. The master also lends identities to
  workers, relays read notices between them and ends the run on a worker's fatal
  error.
- ``test_start`` (every process): a fresh :class:`ChatRuntime` with the options
  as the run starts with them (the web UI may have changed them), and the
  persona weights; a web UI run does its checks here.
- ``test_stopping``: every generator process winds down (quiescence, the end-of-run
  verdicts, the last records) while its users are still connected.
- ``test_stop`` / ``quitting``: the process side stops; at quitting, the master (or
  only process) writes the last records and the SLO verdicts
  (``loadgen.watching.gates``), then stops the embedded server.

What each piece does lives in its own room; this module only connects them.
"""

from __future__ import annotations

import logging
from typing import Any

import gevent
from locust.dispatch import UsersDispatcher
from locust.env import Environment
from locust.event import Events
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from chatload.errors import ConfigError
from chatload.limits import Capacity, raise_open_file_limit
from chatload.loadgen import messages
from chatload.loadgen.engine import options as chat_options
from chatload.loadgen.engine.arguments import add_arguments
from chatload.loadgen.engine.runtime import ChatRuntime, Lender, running
from chatload.loadgen.exits import fail_at_start, fail_run, is_headless
from chatload.loadgen.people.identities import (
    RemoteLender,
    serve_identities,
)
from chatload.loadgen.people.shares import Share
from chatload.loadgen.people.user import ChatUser, set_runtime
from chatload.loadgen.watching.clocksync import ClockSync, serve_clock
from chatload.loadgen.watching.gates import SloGate
from chatload.loadgen.watching.live import LiveView
from chatload.loadgen.watching.observability import Observer, RunRecords
from chatload.loadgen.watching.server_metrics import ServerMetricsScraper
from chatload.loadgen.watching.webui import watch_live
from chatload.loadgen.wiring.dispatch import ChatDispatcher, check_dispatcher
from chatload.loadgen.wiring.locust_csv import (
    check_csv_writer,
    let_locust_write_its_csv,
    stop_csv_writers,
)
from chatload.loadgen.wiring.preflight import (
    check_capacity,
    check_worker_capacity,
    report_capacity,
)
from chatload.loadgen.wiring.search_shape import (
    SearchShape,
    install_search,
    search_max_users,
    write_outcome,
)
from chatload.loadgen.wiring.shapes import choose_shape, run_peak_users
from chatload.loadgen.wiring.target import (
    Target,
    expected_workers,
    hint_about_offline_interlocutors,
)
from chatload.loadgen.wiring.traffic_setup import TrafficSetup
from chatload.records.health import Saturation
from chatload.tracking.clocks import Offset
from chatload.tracking.invariants import Breach, ChatSummary

__all__ = ["install"]

log = logging.getLogger("chatload.loadgen")


class _Plugin:
    """chatload's state in one Locust process."""

    def __init__(self) -> None:
        self.target = Target()
        self.lender: Lender | None = None  # a worker's; else the target's
        self.runtime: ChatRuntime | None = None
        self.clock: ClockSync | None = None  # a worker's, while a test runs
        self.records: RunRecords | None = None
        self.observer: Observer | None = None
        self._winding: gevent.Greenlet | None = None
        self.gate: SloGate | None = None
        self.worker_capacity: dict[str, Capacity] = {}
        self.shares: dict[str, Share] = {}  # each persona's role, weight and fixed count
        self.metrics_server: Any = None  # --prometheus-port
        self.scraper: ServerMetricsScraper | None = None  # --server-metrics
        self.traffic: TrafficSetup | None = None  # a model run (--traffic-model)
        self._searched = False  # the capacity search's answer was written

    def on_init(self, environment: Environment, **_: Any) -> None:
        runner = environment.runner
        raise_open_file_limit()
        try:
            check_csv_writer()
            if isinstance(runner, MasterRunner):
                check_dispatcher()
        except ConfigError as exc:
            fail_at_start(str(exc))
        if getattr(environment.parsed_options, "csv_prefix", None):
            environment.events.quit.add_listener(stop_csv_writers)
        if isinstance(runner, WorkerRunner):
            self.lender = RemoteLender(runner)
            messages.on(runner, messages.READS, self._reads_from_master)
            messages.on(runner, messages.WIND_DOWN, self._wind_down_from_master)
            messages.on(runner, messages.CLOCK_PONG, self._clock_pong)
            messages.on(runner, messages.CLOCK_OFFSETS, self._clock_offsets)
            TrafficSetup.on_worker(runner, lambda: self.traffic)
            report_capacity(environment)
            return
        try:
            self._init_target(environment)
        except ConfigError as exc:
            self.on_quitting()
            fail_at_start(str(exc))

    def _init_target(self, environment: Environment) -> None:
        """The master's (or only process's) records, gate, target, search and views."""
        runner = running(environment)
        options = chat_options.ChatOptions.from_parsed(environment.parsed_options)
        choose_shape(environment, options)
        self.shares = self._shares(environment, options)
        self.traffic = TrafficSetup.of(options)
        self.records = RunRecords(
            environment,
            Saturation(options.saturation_cpu, options.saturation_lag_ms),
            options.soak_horizon,
        )
        self.gate = SloGate(environment, self.records.pipeline, options)
        searching = options.shape == "search"
        peak = (
            search_max_users(options, isinstance(runner, LocalRunner))
            if searching
            else run_peak_users(environment)
        )
        check_capacity(environment, options, peak)
        workers = expected_workers(environment)
        if not environment.host:
            people = peak if self.traffic is None else self.traffic.people_to_provision(peak)
            self.target.embed(environment, options, people, workers, self.shares)
        self._scrape_server(options)
        self.target.resolve(environment, options)
        if self.traffic is not None:
            self.shares = self.traffic.slots(environment, self.target.current_pool(), self.shares)
        if isinstance(runner, MasterRunner):
            self._serve_workers(environment, runner)
        if searching:
            # The search judges its SLOs level by level; over the whole run they mean nothing.
            self.gate.per_level = True
            peak = install_search(
                environment,
                options=options,
                pipeline=self.records.pipeline,
                thresholds=self.gate.thresholds,
                pool=self.target.current_pool(),
                shares=self.shares,
                highest=peak,
                workers=workers,
                model_load=self.traffic if self.traffic and self.traffic.levels else None,
            )
        if is_headless(environment):
            users = peak if searching else getattr(environment.parsed_options, "num_users", None)
            self.target.check(environment, options, users, workers, self.shares)
        # Last: the UI is ready then.
        view = LiveView(self.records.pipeline, self.gate.current, lambda: runner.user_count)
        self.metrics_server = watch_live(environment, view, options.prometheus_port)

    def _serve_workers(self, environment: Environment, runner: MasterRunner) -> None:
        if environment.dispatcher_class is UsersDispatcher:
            environment.dispatcher_class = ChatDispatcher
        serve_identities(runner, self.target.current_pool)
        serve_clock(runner)
        messages.on(runner, messages.CAPACITY, self._capacity_from_worker)
        messages.on(runner, messages.READS, self._relay_reads)
        messages.on(runner, messages.FATAL, self._fatal_from_worker)
        messages.on(runner, messages.INTERVALS, self._interval_from_worker)
        messages.on(runner, messages.BREACHES, self._breaches_from_worker)
        messages.on(runner, messages.SUMMARIES, self._summaries_from_worker)
        TrafficSetup.on_master(runner)

    def _scrape_server(self, options: chat_options.ChatOptions) -> None:
        """The server's own metrics (--server-metrics; the embedded server's always)."""
        assert self.records is not None
        pipeline = self.records.pipeline
        urls = list(options.server_metrics)
        if self.target.embedded is not None:
            urls.append(self.target.embedded.metrics_url)
        self.scraper = ServerMetricsScraper(
            urls,
            options.chat_interval,
            pipeline.add_server_metrics,
            match=options.server_metrics_match,
            failures=pipeline.server_scrape_failures,
        )
        self.scraper.start()

    @staticmethod
    def _shares(environment: Environment, options: chat_options.ChatOptions) -> dict[str, Share]:
        """Each persona's weight and fixed count for this run; a class with neither
        (the access probes without --probes) is taken out, as a weight of 0 would
        break Locust's dispatcher."""
        shares: dict[str, Share] = {}
        for user_class in list(environment.user_classes):
            if not issubclass(user_class, ChatUser):
                continue
            share = user_class.share(options)
            if not share.weight and not share.fixed_count:
                environment.user_classes.remove(user_class)
                continue
            user_class.weight, user_class.fixed_count = share.weight or 1, share.fixed_count
            shares[user_class.__name__] = share
        return shares

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        runner = environment.runner
        try:
            options = chat_options.ChatOptions.from_parsed(environment.parsed_options)
            self.shares = self._shares(environment, options)  # the web UI may change weights
            if isinstance(runner, WorkerRunner):
                self.traffic = TrafficSetup.for_worker(environment, options)
            else:
                self.target.current_pool().rewind()
                self.traffic = TrafficSetup.again(self.traffic, options)  # the web UI's form
                if self.traffic is None:
                    TrafficSetup.unmake_slots(environment)
                else:
                    pool = self.target.current_pool()
                    self.shares = self.traffic.slots(environment, pool, self.shares)
                self._check_start(environment, options)
        except ConfigError as exc:
            self._fail(environment, str(exc))
            return
        lender = self.lender if isinstance(runner, WorkerRunner) else self.target.lender
        assert lender is not None
        self._winding = None
        self.runtime = ChatRuntime(environment, options, lender)
        set_runtime(environment, self.runtime)
        self.runtime.start()  # before the observer: its start-up work is no load
        if self.traffic is not None:
            if not isinstance(runner, MasterRunner):
                self.traffic.start_process(environment, self.runtime, lender)
            if not isinstance(runner, WorkerRunner):
                pipeline = self.records.pipeline if self.records is not None else None
                self.traffic.start_source(environment, pipeline)
        if isinstance(runner, WorkerRunner):
            self.clock = ClockSync(runner, self.runtime.ledger.offsets)
            self.clock.start()
        if not isinstance(runner, MasterRunner):
            self.observer = Observer(
                environment,
                interval=options.chat_interval,
                records=self.records,
                samples=options.chat_samples,
                phase=self.runtime.phase,
                clock=self.runtime.own_clock,
                traffic=lambda: self.traffic.take() if self.traffic is not None else None,
            )
            self.observer.start()
            self.runtime.observer = self.observer

    def _check_start(self, environment: Environment, options: chat_options.ChatOptions) -> None:
        """On the master or alone, as a test starts: the target, the identities and
        the limits for the users asked for; the thresholds this test starts with."""
        runner = running(environment)
        self.target.resolve(environment, options)
        users = getattr(runner, "target_user_count", None)
        workers = expected_workers(environment)
        self.target.check(environment, options, users, workers, self.shares)
        if isinstance(runner, MasterRunner):
            check_worker_capacity(environment, self.worker_capacity)
        elif users and not is_headless(environment):
            check_capacity(environment, options, users)
        if self.gate is not None:
            self.gate.start(options)

    def on_spawning_complete(self, **_: Any) -> None:
        if self.runtime is not None:
            self.runtime.spawned()

    def on_test_stopping(self, environment: Environment, **_: Any) -> None:
        """The end of a run: every generator process winds down (quiescence, checks,
        last records) while its users are still connected."""
        runner = environment.runner
        if self.traffic is not None and not isinstance(runner, WorkerRunner):
            self.traffic.stop_arrivals()
        if isinstance(runner, MasterRunner):
            # A headless run ends with quit(), which stops no worker before it ends
            # the master; ask them to wind down now, while there is time to hear back.
            if runner.worker_count:
                messages.send(runner, messages.WIND_DOWN, None)
            return
        if self._winding is None:
            self._winding = gevent.spawn(self._wind_down, environment)
        self._winding.join()

    def _wind_down_from_master(self, _: None, __: str) -> None:
        if self._winding is None:
            assert self.runtime is not None
            self._winding = gevent.spawn(self._wind_down, self.runtime.environment)

    def _wind_down(self, environment: Environment) -> None:
        """Quiescence, then the end-of-run verdicts, then the last interval: once per run."""
        runtime = self.runtime
        if runtime is None:
            return
        summaries, unsettled = runtime.conclude()
        if self.observer is not None:
            self.observer.unsettled = unsettled
        if self.records is not None:
            self.records.chat_summaries(summaries)
            self.records.compare()
        else:
            messages.send(running(environment), messages.SUMMARIES, summaries)
        self._stop_observer()
        # Samples and breaches of the quiescence phase must reach Locust's CSV too.
        let_locust_write_its_csv(environment)

    def _fail(self, environment: Environment, message: str) -> None:
        runner = environment.runner
        if environment.web_ui is not None:
            log.error("%s", message)  # the web UI's log tab shows it
        if isinstance(runner, WorkerRunner):
            messages.send(runner, messages.FATAL, message)
        else:
            fail_run(environment, message)

    def _stop_observer(self) -> None:
        """Ship this process's last interval (once)."""
        if self.observer is not None:
            self.observer.stop()
            self.observer = None

    def _stop_process_side(self) -> None:
        """What a test started in this process: the runtime, the clock, the observer,
        a model run's arrivals and engine."""
        if self.traffic is not None:
            self.traffic.stop()
        if self.runtime is not None:
            self.runtime.stop()
        if self.clock is not None:
            self.clock.stop()
            self.clock = None
        self._stop_observer()

    def _search_outcome(self, environment: Environment | None) -> None:
        """The search's answer, once, when the run it steered ends."""
        if environment is None:
            return
        shape = environment.shape_class
        if isinstance(shape, SearchShape) and not self._searched:
            self._searched = True
            prefix = getattr(environment.parsed_options, "csv_prefix", None)
            at_least = shape.options.capacity_at_least
            write_outcome(environment, shape, prefix, at_least, self.gate)

    def on_test_stop(self, environment: Environment, **_: Any) -> None:
        self._stop_process_side()
        if self.runtime is not None:
            self.runtime.quiet = False
        runner = environment.runner
        if isinstance(runner, MasterRunner) and self.records is not None:
            self.records.wait_for_workers(runner.worker_count, timeout=5.0)
            if self.records.compare():
                let_locust_write_its_csv(environment)
        if isinstance(runner, WorkerRunner):
            return
        hint_about_offline_interlocutors(environment)
        if is_headless(environment):
            return  # the answer and the verdicts come at quitting
        self._search_outcome(environment)
        if self.gate is not None and self.gate.pending:
            self.gate.judge()  # each test started from the web UI, with its thresholds

    def on_quitting(self, environment: Environment | None = None, **_: Any) -> None:
        self._stop_process_side()
        if self.scraper is not None:
            self.scraper.stop()
            for url, failed in self.scraper.failures.items():
                log.warning("server metrics: %d scrape(s) of %s failed", failed, url)
            self.scraper = None
        if self.records is not None:
            self.records.pipeline.finish()
            self._search_outcome(environment)
            headless = environment is not None and is_headless(environment)
            if self.gate is not None and (headless or self.gate.pending):
                self.gate.judge()
            self.records.close()
        # Here rather than at exit: stopping it yields to gevent, and after quitting
        # Locust's CSV writer would wake up to files it has closed.
        self.target.stop()

    def _capacity_from_worker(self, capacity: Capacity, worker: str) -> None:
        self.worker_capacity[worker] = capacity

    def _interval_from_worker(self, snapshot: Any, _: str) -> None:
        if self.records is not None:
            self.records.interval(snapshot)

    def _breaches_from_worker(self, breaches: list[Breach], _: str) -> None:
        if self.records is not None:
            self.records.breaches(breaches, fire=False)

    def _summaries_from_worker(self, summaries: list[ChatSummary], _: str) -> None:
        if self.records is not None:
            self.records.chat_summaries(summaries)

    def _relay_reads(self, notices: list[list[Any]], _: str) -> None:
        assert self.records is not None
        messages.send(running(self.records.environment), messages.READS, notices)

    def _reads_from_master(self, notices: list[list[Any]], _: str) -> None:
        if self.runtime is not None:
            self.runtime.receive_reads(notices)

    def _clock_pong(self, exchange: tuple[int, float], _: str) -> None:
        if self.clock is not None:
            self.clock.on_pong(exchange)

    def _clock_offsets(self, known: dict[str, Offset], _: str) -> None:
        if self.clock is not None:
            self.clock.on_offsets(known)

    def _fatal_from_worker(self, message: str, _: str) -> None:
        assert self.records is not None
        fail_run(self.records.environment, message)


def install(events: Events) -> None:
    """Register chatload's options and listeners on Locust's ``events``."""
    plugin = _Plugin()
    events.init_command_line_parser.add_listener(add_arguments)
    events.init.add_listener(plugin.on_init)
    events.test_start.add_listener(plugin.on_test_start)
    events.test_stopping.add_listener(plugin.on_test_stopping)
    events.test_stop.add_listener(plugin.on_test_stop)
    events.spawning_complete.add_listener(plugin.on_spawning_complete)
    events.quitting.add_listener(plugin.on_quitting)
