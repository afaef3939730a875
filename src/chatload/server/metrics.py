"""``GET /metrics`` on the chat port: the reference server's own resources.

Prometheus text, as a server under test would serve it: the standard process
series (``process_cpu_seconds_total``, ``process_resident_memory_bytes``,
``process_open_fds``) and the chat's connections, writes and commit time. A run
against the embedded server scrapes it without asking (``--server-metrics``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "ServerMetrics", "is_metrics_request"]


class _Pipeline(Protocol):
    writes: int
    batches: int
    commit_seconds: float


class _ChatCollector(Collector):
    def __init__(self, connections: Callable[[], int], pipeline: _Pipeline) -> None:
        self._connections = connections
        self._pipeline = pipeline

    def collect(self) -> Iterator[Metric]:
        pipeline = self._pipeline
        yield GaugeMetricFamily(
            "chatload_server_connections", "open WebSocket connections", value=self._connections()
        )
        yield CounterMetricFamily(
            "chatload_server_writes", "writes committed (messages and reads)", value=pipeline.writes
        )
        yield CounterMetricFamily(
            "chatload_server_commit_batches",
            "SQLite commits (group commits)",
            value=pipeline.batches,
        )
        yield CounterMetricFamily(
            "chatload_server_commit_seconds",
            "time spent committing",
            value=pipeline.commit_seconds,
        )


class ServerMetrics:
    def __init__(self, connections: Callable[[], int], pipeline: _Pipeline) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.registry.register(_ChatCollector(connections, pipeline))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def is_metrics_request(path: str, upgrade: str | None) -> bool:
    """A plain HTTP GET of /metrics (not a WebSocket upgrade)."""
    return upgrade is None and path.split("?", 1)[0].rstrip("/") == "/metrics"
