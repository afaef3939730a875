"""``--prometheus-port``: the run so far as OpenMetrics, for Prometheus to scrape.

Served by ``prometheus_client`` on the master (or the only process), from the
same :class:`~chatload.loadgen.watching.live.LiveView` as the web UI's Chat tab. Every
series has a ``run_id`` label. Latencies are in seconds, as Prometheus prefers:
the percentiles of the last merged interval (µs-resolution HDR histograms), so a
dashboard's line is the report's line. ``dashboards/chatload.json`` is a Grafana
dashboard on these names.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from chatload.errors import ConfigError
from chatload.loadgen.watching.live import QUANTILES, LiveView, Quantiles
from chatload.tracking.invariants import BREACH_KINDS, INVARIANT
from chatload.tracking.metrics import CONNECTION, FAILURE_KINDS, METRICS

__all__ = ["SERIES", "ChatSeries", "serve_metrics"]

log = logging.getLogger("chatload.loadgen")

# Every series the endpoint serves, with its type (the dashboard test reads this).
SERIES = {
    "chatload_samples_total": "counter",
    "chatload_failures_total": "counter",
    "chatload_breaches_total": "counter",
    "chatload_users": "gauge",
    "chatload_latency_seconds": "gauge",
    "chatload_generator_cpu_ratio": "gauge",
    "chatload_generator_loop_lag_seconds": "gauge",
    "chatload_generator_saturated": "gauge",
    "chatload_clock_offset_seconds": "gauge",
    "chatload_slo_passing": "gauge",
}


# Breaches are their own series (chatload_breaches_total), not a failure kind here.
_FAILURE_KINDS = tuple(kind for kind in FAILURE_KINDS if kind != INVARIANT)


class ChatSeries(Collector):
    def __init__(self, view: LiveView, run_id: str) -> None:
        self.view = view
        self.run_id = run_id

    def collect(self) -> Iterator[Metric]:
        run = self.run_id
        samples = CounterMetricFamily(
            "chatload_samples",
            "Chat samples per metric (failures included)",
            labels=["run_id", "metric"],
        )
        latency = GaugeMetricFamily(
            "chatload_latency_seconds",
            "Percentiles of the last merged reporting interval",
            labels=["run_id", "metric", "quantile"],
        )
        seen = {name for name, _, _ in self.view.metrics()}
        for name in METRICS:
            if name not in seen:  # a series exists from the first scrape, at 0
                samples.add_metric([run, name], 0)
        for name, last, whole in self.view.metrics():
            samples.add_metric([run, name], whole.operations if whole else 0)
            figures = Quantiles.of(last)
            if figures is not None:
                for label, share in QUANTILES:
                    value = getattr(figures, f"{label}_ms") / 1000
                    latency.add_metric([run, name, str(share)], value)
        yield samples
        yield latency
        failures = CounterMetricFamily(
            "chatload_failures",
            "Chat failures per metric and kind",
            labels=["run_id", "metric", "kind"],
        )
        # Every metric and kind from the first scrape, at 0 until counted: a missing
        # series has no start for rate(), and a dashboard shows "No data".
        counted = dict.fromkeys(
            ((name, kind) for name in (*METRICS, CONNECTION) for kind in _FAILURE_KINDS), 0
        )
        counted.update(self.view.failure_kinds())
        for (name, kind), count in sorted(counted.items()):
            failures.add_metric([run, name, kind], count)
        yield failures
        breaches = CounterMetricFamily(
            "chatload_breaches",
            "Breaches of the chat's guarantees per kind",
            labels=["run_id", "kind"],
        )
        found = {**dict.fromkeys(BREACH_KINDS, 0), **self.view.breach_counts()}
        for kind, count in sorted(found.items()):
            breaches.add_metric([run, kind], count)
        yield breaches
        yield _single("chatload_users", "Locust users running", run, self.view.users())
        yield from self._health(run)
        slo = GaugeMetricFamily(
            "chatload_slo_passing",
            "1 while the SLO threshold holds over the run so far, else 0",
            labels=["run_id", "threshold"],
        )
        verdicts, _ = self.view.verdicts()
        for verdict in verdicts:
            slo.add_metric([run, verdict.threshold.text], 1.0 if verdict.passed else 0.0)
        yield slo

    def _health(self, run: str) -> Iterator[Metric]:
        labels = ["run_id", "process"]
        cpu = GaugeMetricFamily(
            "chatload_generator_cpu_ratio", "Generator CPU, share of a core", labels=labels
        )
        lag = GaugeMetricFamily(
            "chatload_generator_loop_lag_seconds",
            "Generator event-loop lag in the last interval",
            labels=[*labels, "quantile"],
        )
        saturated = GaugeMetricFamily(
            "chatload_generator_saturated", "1 when the last interval was saturated", labels=labels
        )
        offset = GaugeMetricFamily(
            "chatload_clock_offset_seconds",
            "Wall clock minus the master's, as estimated",
            labels=labels,
        )
        for p in self.view.health():
            cpu.add_metric([run, p.process], p.health.cpu_percent / 100)
            lag.add_metric([run, p.process, "0.99"], p.health.loop_lag_p99_ms / 1000)
            lag.add_metric([run, p.process, "1.0"], p.health.loop_lag_max_ms / 1000)
            saturated.add_metric([run, p.process], 1.0 if p.saturated else 0.0)
            offset.add_metric([run, p.process], p.health.clock_offset_ms / 1000)
        yield from (cpu, lag, saturated, offset)


def _single(name: str, documentation: str, run: str, value: float) -> Metric:
    gauge = GaugeMetricFamily(name, documentation, labels=["run_id"])
    gauge.add_metric([run], value)
    return gauge


def serve_metrics(view: LiveView, port: int, run_id: str) -> Any:
    """Start the endpoint on ``port`` (all interfaces); one line if it cannot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ChatSeries(view, run_id))
    try:
        server, _ = start_http_server(port, registry=registry)
    except OSError as exc:
        raise ConfigError(
            f"--prometheus-port {port}: {exc.strerror or exc}: choose a free port"
        ) from None
    log.info("Prometheus metrics on port %d (run_id %s)", server.server_port, run_id)
    return server
