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
- ``test_stop`` / ``quitting``: stop the runtime; at quitting, the master (or only
  process) writes the last records and the SLO verdicts (``loadgen.gates``), then
  stops the embedded server.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from locust.dispatch import UsersDispatcher
from locust.env import Environment
from locust.event import Events
from locust.rpc.protocol import Message
from locust.runners import LocalRunner, MasterRunner, WorkerRunner
from locust.stats import CSV_STATS_INTERVAL_SEC

from chatload.errors import ConfigError
from chatload.limits import (
    Capacity,
    raise_open_file_limit,
)
from chatload.loadgen.people.identities import (
    IdentityPool,
    LocalLender,
    RemoteLender,
    serve_identities,
)
from chatload.loadgen.people.user import ChatUser, set_runtime
from chatload.loadgen.watching import clocksync
from chatload.loadgen.watching.clocksync import serve_clock
from chatload.loadgen.watching.gates import SloGate
from chatload.loadgen.watching.live import LiveView
from chatload.loadgen.watching.observability import (
    BREACHES,
    INTERVALS,
    SUMMARIES,
    WIND_DOWN,
    Observer,
    RunRecords,
    breaches_from_wire,
)
from chatload.loadgen.watching.prometheus import serve_metrics
from chatload.loadgen.watching.server_metrics import ServerMetricsScraper
from chatload.loadgen.watching.webui import install_tabs
from chatload.loadgen.wiring import options as chat_options
from chatload.loadgen.wiring.dispatch import ChatDispatcher, check_dispatcher
from chatload.loadgen.wiring.embedded import EmbeddedServer, Share, roles_wanted
from chatload.loadgen.wiring.locust_csv import check_csv_writer, stop_csv_writers
from chatload.loadgen.wiring.preflight import (
    CAPACITY,
    check_capacity,
    check_worker_capacity,
    preflight,
    report_capacity,
)
from chatload.loadgen.wiring.runtime import FATAL, READS, ChatRuntime, Lender, report_fatal, running
from chatload.loadgen.wiring.search_shape import SearchShape, search_max_users, write_outcome
from chatload.loadgen.wiring.shapes import choose_shape, run_peak_users
from chatload.records.export import Saturation
from chatload.records.hdr import IntervalSnapshot
from chatload.tracking.invariants import ChatSummary
from chatload.tracking.metrics import DELIVERY, REQUEST_TYPE, SEND_ACK
from chatload.users_file import read_users

__all__ = ["install"]

log = logging.getLogger("chatload.loadgen")


class _Plugin:
    """chatload's state in one Locust process."""

    def __init__(self) -> None:
        self.embedded: EmbeddedServer | None = None
        self.pool: IdentityPool | None = None
        self.lender: Lender | None = None
        self.runtime: ChatRuntime | None = None
        self.target: tuple[str, Path | None] | None = None  # (host, users file) checked
        self.checked = False
        self.records: RunRecords | None = None
        self.observer: Observer | None = None
        self._winding: gevent.Greenlet | None = None
        self.gate: SloGate | None = None
        self.worker_capacity: dict[str, Capacity] = {}
        self.clock_offsets: dict[str, tuple[float, float]] = {}  # on the master, by origin
        self.shares: dict[str, Share] = {}  # each persona's role, weight and fixed count
        self.metrics_server: Any = None  # --prometheus-port
        self.scraper: ServerMetricsScraper | None = None  # --server-metrics
        self._searched = False  # the capacity search's answer was written

    def on_init(self, environment: Environment, **_: Any) -> None:
        runner = environment.runner
        raise_open_file_limit()
        try:
            check_csv_writer()
            if isinstance(runner, MasterRunner):
                check_dispatcher()
        except ConfigError as exc:
            _fail_at_start(environment, str(exc))
            return
        if getattr(environment.parsed_options, "csv_prefix", None):
            environment.events.quit.add_listener(stop_csv_writers)
        if isinstance(runner, WorkerRunner):
            self.lender = RemoteLender(runner)
            runner.register_message(READS, self._reads_from_master)
            runner.register_message(WIND_DOWN, self._wind_down_from_master)
            runner.register_message(clocksync.PONG, self._clock_pong)
            runner.register_message(clocksync.OFFSETS, self._clock_offsets)
            report_capacity(environment)
            return
        try:
            options = chat_options.ChatOptions.from_parsed(environment.parsed_options)
            choose_shape(environment, options)
            self.shares = self._shares(environment, options)
            self.records = RunRecords(
                environment,
                Saturation(options.saturation_cpu, options.saturation_lag_ms),
                options.soak_horizon,
            )
            self.gate = SloGate(environment, self.records.exporter, options)
            searching = options.shape == "search"
            peak = (
                search_max_users(options, isinstance(runner, LocalRunner))
                if searching
                else run_peak_users(environment)
            )
            check_capacity(environment, options, peak)
            if not environment.host:
                self.embedded = EmbeddedServer(
                    options, peak, _expected_workers(environment), self.shares
                )
                environment.host = self.embedded.url
            self._scrape_server(options)
            self._resolve(environment, options)
            if isinstance(runner, MasterRunner):
                self._serve_workers(environment, runner)
            parsed = environment.parsed_options
            if searching:
                peak = self._search(environment, options, peak)
            if parsed is not None and parsed.headless:
                self._check(environment, options, peak if searching else parsed.num_users)
            self._watch_live(environment, options, self.gate)  # last: the UI is ready then
        except ConfigError as exc:
            self.on_quitting()
            _fail_at_start(environment, str(exc))

    def _serve_workers(self, environment: Environment, runner: MasterRunner) -> None:
        if environment.dispatcher_class is UsersDispatcher:
            environment.dispatcher_class = ChatDispatcher
        serve_identities(runner, self._current_pool)
        serve_clock(runner, self.clock_offsets)
        runner.register_message(CAPACITY, self._capacity_from_worker)
        runner.register_message(READS, self._relay_reads)
        runner.register_message(FATAL, self._fatal_from_worker)
        runner.register_message(INTERVALS, self._interval_from_worker)
        runner.register_message(BREACHES, self._breaches_from_worker)
        runner.register_message(SUMMARIES, self._summaries_from_worker)

    def _search(
        self, environment: Environment, options: chat_options.ChatOptions, peak: int | None
    ) -> int:
        """--shape search: the search shape, up to what the identities allow."""
        assert self.records is not None and self.gate is not None and self.pool is not None
        pool, workers = self.pool, _expected_workers(environment)

        def fits(users: int) -> bool:
            wanted = roles_wanted(users, options, workers, self.shares)
            return all(pool.total[role] >= count for role, count in wanted.items())

        max_users = peak or _largest(fits, sum(pool.total.values()))
        # The search judges its SLOs level by level; over the whole run they mean nothing.
        self.gate.per_level = True
        parsed = environment.parsed_options
        asked = float(getattr(parsed, "spawn_rate", None) or 0)
        shape = SearchShape(
            options,
            self.records.exporter,
            self.gate.thresholds,
            max_users,
            spawn_rate=max(asked, 20.0),
        )
        shape.runner = environment.runner
        environment.shape_class = shape
        return max_users

    def _scrape_server(self, options: chat_options.ChatOptions) -> None:
        """The server's own metrics (--server-metrics; the embedded server's always)."""
        assert self.records is not None
        exporter = self.records.exporter
        urls = list(options.server_metrics)
        if self.embedded is not None:
            urls.append(self.embedded.metrics_url)
        self.scraper = ServerMetricsScraper(
            urls,
            options.chat_interval,
            exporter.add_server_metrics,
            match=options.server_metrics_match,
            failures=exporter.server_scrape_failures,
        )
        self.scraper.start()

    def _capacity_from_worker(self, environment: Environment, msg: Message) -> None:
        self.worker_capacity[msg.node_id] = Capacity(*map(int, msg.data))

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

    def _current_pool(self) -> IdentityPool:
        assert self.pool is not None
        return self.pool

    def _resolve(self, environment: Environment, options: chat_options.ChatOptions) -> None:
        """The identities of the target; again whenever the web UI changed the target."""
        if not environment.host and self.embedded is not None:
            environment.host = self.embedded.url  # an emptied host field in the web UI
        host = environment.host or ""
        target = (host, options.users_file)
        if target == self.target:
            return
        if self.embedded is not None and environment.host == self.embedded.url:
            identities = self.embedded.identities()
        elif options.users_file is None:
            raise ConfigError(
                f"--host {environment.host} needs --users-file with that server's users "
                "(user_id,token,role)"
            )
        else:
            identities = read_users(options.users_file)
        self.pool = IdentityPool(identities)
        self.lender = LocalLender(self.pool)
        self.target, self.checked = target, False

    def _check(
        self, environment: Environment, options: chat_options.ChatOptions, users: int | None
    ) -> None:
        assert self.pool is not None
        if users:
            wanted = roles_wanted(users, options, _expected_workers(environment), self.shares)
            self.pool.check_enough(wanted)
        if not self.checked:
            owners = list(self.pool.free["owner"]) or list(self.pool.free["requester"])
            preflight(environment.host or "", owners, options)
            self.checked = True

    def _watch_live(
        self, environment: Environment, options: chat_options.ChatOptions, gate: SloGate
    ) -> None:
        """The Chat tabs of the web UI and, when asked for, the Prometheus endpoint."""
        assert self.records is not None
        runner = running(environment)
        view = LiveView(self.records.exporter, gate.current, lambda: runner.user_count)
        install_tabs(environment, view)
        if options.prometheus_port:
            prefix = getattr(environment.parsed_options, "csv_prefix", None)
            run_id = f"{Path(prefix).name if prefix else 'run'}-{time.strftime('%Y%m%dT%H%M%S')}"
            self.metrics_server = serve_metrics(view, options.prometheus_port, run_id)

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        runner = environment.runner
        try:
            options = chat_options.ChatOptions.from_parsed(environment.parsed_options)
            self.shares = self._shares(environment, options)  # the web UI may change weights
            if not isinstance(runner, WorkerRunner):
                self._resolve(environment, options)
                users = getattr(runner, "target_user_count", None)
                self._check(environment, options, users)
                if isinstance(runner, MasterRunner):
                    check_worker_capacity(environment, self.worker_capacity)
                elif users and not _headless(environment):
                    check_capacity(environment, options, users)
                if self.gate is not None:
                    self.gate.start(options)  # the thresholds this test starts with
        except ConfigError as exc:
            self._fail(environment, str(exc))
            return
        assert self.lender is not None
        self._winding = None
        self.runtime = ChatRuntime(environment, options, self.lender)
        set_runtime(environment, self.runtime)
        self.runtime.start()  # before the observer: its start-up work is no load
        if not isinstance(runner, MasterRunner):
            self.observer = Observer(
                environment,
                interval=options.chat_interval,
                records=self.records,
                samples=options.chat_samples,
                phase=self.runtime.phase,
                clock=self.runtime.own_clock,
            )
            self.observer.start()
            self.runtime.observer = self.observer

    def on_spawning_complete(self, **_: Any) -> None:
        if self.runtime is not None:
            self.runtime.settle()

    def on_test_stopping(self, environment: Environment, **_: Any) -> None:
        """The end of a run: every generator process winds down (quiescence, checks,
        last records) while its users are still connected."""
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            # A headless run ends with quit(), which stops no worker before it ends
            # the master; ask them to wind down now, while there is time to hear back.
            if runner.worker_count:
                runner.send_message(WIND_DOWN, None)
            return
        if self._winding is None:
            self._winding = gevent.spawn(self._wind_down, environment)
        self._winding.join()

    def _wind_down_from_master(self, environment: Environment, msg: Message) -> None:
        if self._winding is None:
            self._winding = gevent.spawn(self._wind_down, environment)

    def _wind_down(self, environment: Environment) -> None:
        """Quiescence, then the unread checks, then the last interval: once per run."""
        runtime = self.runtime
        if runtime is None:
            return
        outcome = runtime.quiesce(runtime.options.quiesce_seconds)
        wall = time.time()
        summaries = []
        unsettled: set[str] = set()
        for client in list(runtime.clients):
            if client.tracker is not None:
                settlement = client.tracker.settle(wall, nothing_more_coming=outcome != "bound")
                for breach in settlement.breaches:
                    runtime.report_breach(breach)
                summaries.extend(settlement.summaries)
                unsettled.update(settlement.unsettled)
        if self.observer is not None:
            self.observer.unsettled = len(unsettled)
        if self.records is not None:
            self.records.chat_summaries(summaries)
            self.records.compare()
        else:
            running(environment).send_message(SUMMARIES, [s.to_wire() for s in summaries])
        if self.observer is not None:
            self.observer.stop()
            self.observer = None
        # Samples and breaches of the quiescence phase must reach Locust's CSV too.
        _let_locust_write_its_csv(environment)

    def _fail(self, environment: Environment, message: str) -> None:
        runner = environment.runner
        if environment.web_ui is not None:
            log.error("%s", message)  # the web UI's log tab shows it
        if isinstance(runner, WorkerRunner):
            runner.send_message(FATAL, {"message": message})
        else:
            report_fatal(environment, message)

    def _search_outcome(self, environment: Environment | None) -> None:
        """The search's answer, once, when the run it steered ends."""
        if environment is None:
            return
        shape = environment.shape_class
        if isinstance(shape, SearchShape) and not self._searched:
            self._searched = True
            prefix = getattr(environment.parsed_options, "csv_prefix", None)
            write_outcome(environment, shape, prefix, shape.options.capacity_at_least)

    def on_test_stop(self, environment: Environment, **_: Any) -> None:
        if self.runtime is not None:
            self.runtime.stop()
            self.runtime.quiet = False
        if self.observer is not None:
            self.observer.stop()
            self.observer = None
        runner = environment.runner
        if isinstance(runner, MasterRunner) and self.records is not None:
            self.records.wait_for_workers(runner.worker_count, timeout=5.0)
            if self.records.compare():
                _let_locust_write_its_csv(environment)
        if not isinstance(environment.runner, WorkerRunner):
            _hint_about_offline_interlocutors(environment)
            if not _headless(environment):
                self._search_outcome(environment)
            if self.gate is not None and self.gate.pending and not _headless(environment):
                self.gate.judge()  # each test started from the web UI, with its thresholds

    def on_quitting(self, environment: Environment | None = None, **_: Any) -> None:
        if self.runtime is not None:
            self.runtime.stop()
        if self.observer is not None:
            self.observer.stop()
            self.observer = None
        if self.scraper is not None:
            self.scraper.stop()
            for url, failed in self.scraper.failures.items():
                log.warning("server metrics: %d scrape(s) of %s failed", failed, url)
            self.scraper = None
        if self.records is not None:
            self.records.exporter.finish()
            self._search_outcome(environment)
            if self.gate is not None and (
                (environment is not None and _headless(environment)) or self.gate.pending
            ):
                self.gate.judge()
            self.records.close()
        # Here rather than at exit: stopping it yields to gevent, and after quitting
        # Locust's CSV writer would wake up to files it has closed.
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None

    def _interval_from_worker(self, environment: Environment, msg: Message) -> None:
        if self.records is not None:
            self.records.interval(IntervalSnapshot.from_wire(msg.data))

    def _breaches_from_worker(self, environment: Environment, msg: Message) -> None:
        if self.records is not None:
            self.records.breaches(breaches_from_wire(msg.data), fire=False)

    def _summaries_from_worker(self, environment: Environment, msg: Message) -> None:
        if self.records is not None:
            self.records.chat_summaries([ChatSummary.from_wire(item) for item in msg.data])

    def _relay_reads(self, environment: Environment, msg: Message) -> None:
        running(environment).send_message(READS, msg.data)

    def _clock_pong(self, environment: Environment, msg: Message) -> None:
        if self.runtime is not None and self.runtime.clock is not None:
            self.runtime.clock.on_pong(environment, msg)

    def _clock_offsets(self, environment: Environment, msg: Message) -> None:
        if self.runtime is not None and self.runtime.clock is not None:
            self.runtime.clock.on_offsets(environment, msg)

    def _reads_from_master(self, environment: Environment, msg: Message) -> None:
        if self.runtime is not None:
            self.runtime.receive_reads(msg.data)

    def _fatal_from_worker(self, environment: Environment, msg: Message) -> None:
        report_fatal(environment, msg.data["message"])


def _fail_at_start(environment: Environment, message: str) -> None:
    """A problem found before any user starts: one line, exit code 2."""
    sys.stderr.write(f"Error: {message}\n")
    sys.exit(2)


def _headless(environment: Environment) -> bool:
    parsed = getattr(environment, "parsed_options", None)
    return bool(parsed is not None and parsed.headless)


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


def _expected_workers(environment: Environment) -> int:
    """The workers a master deals users to (the dispatcher deals a class per worker
    in a row, which changes the split of the first users a little)."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return 1
    parsed = environment.parsed_options
    expected = getattr(parsed, "expect_workers", 1) if parsed is not None else 1
    return max(1, runner.worker_count or int(expected or 1))


def _let_locust_write_its_csv(environment: Environment) -> None:
    """Locust rewrites PREFIX_stats.csv once a second; what is fired while the run
    stops would miss the last rewrite without one more second."""
    parsed = environment.parsed_options
    if parsed is not None and getattr(parsed, "csv_prefix", None):
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)


def _hint_about_offline_interlocutors(environment: Environment) -> None:
    """Messages were acknowledged but none delivered: the interlocutors were offline."""
    entries = running(environment).stats.entries
    sent = entries.get((SEND_ACK, REQUEST_TYPE))
    delivered = entries.get((DELIVERY, REQUEST_TYPE))
    if (
        sent is not None
        and sent.num_requests > 0
        and (delivered is None or not delivered.num_requests)
    ):
        log.warning(
            "%d messages were acknowledged and none was delivered to a connected user: the "
            "users' interlocutors were not connected. Identities are lent in users-file order; "
            "put first the owners and requesters that share chats, or run more users.",
            sent.num_requests,
        )


def install(events: Events) -> None:
    """Register chatload's options and listeners on Locust's ``events``."""
    plugin = _Plugin()
    events.init_command_line_parser.add_listener(chat_options.add_arguments)
    events.init.add_listener(plugin.on_init)
    events.test_start.add_listener(plugin.on_test_start)
    events.test_stopping.add_listener(plugin.on_test_stopping)
    events.test_stop.add_listener(plugin.on_test_stop)
    events.spawning_complete.add_listener(plugin.on_spawning_complete)
    events.quitting.add_listener(plugin.on_quitting)
