"""``--server-metrics URL``: the server's own resources beside the latencies.

On the master (or the only process), every reporting interval, each URL is read
as Prometheus text (what prom-client, prometheus_client and Micrometer serve) and
its series go to ``PREFIX_server_metrics.csv`` and to the drift verdicts
(:mod:`chatload.drift`). A failing scrape is counted and said once per URL; it
never ends the run.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.request
from collections.abc import Callable, Iterable

import gevent
from prometheus_client.parser import text_string_to_metric_families

from chatload.loadgen.background import BackgroundJob
from chatload.records.files import ServerSample

__all__ = ["ServerMetricsScraper", "parse_metrics"]

log = logging.getLogger("chatload.loadgen")


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return "{" + inner + "}"


def parse_metrics(text: str, match: re.Pattern[str] | None = None) -> list[ServerSample]:
    """The samples of a Prometheus text exposition, those whose name ``match``es."""
    samples = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if match is None or match.search(sample.name):
                samples.append(
                    ServerSample(sample.name, _labels(sample.labels), float(sample.value))
                )
    return samples


class ServerMetricsScraper(BackgroundJob):
    """Scrapes ``urls`` every ``interval`` seconds into ``sink(wall, url, samples)``."""

    def __init__(
        self,
        urls: Iterable[str],
        interval: float,
        sink: Callable[[float, str, list[ServerSample]], None],
        *,
        match: str = "",
        failures: dict[str, int] | None = None,
    ) -> None:
        self.urls = list(dict.fromkeys(urls))
        self.interval = interval
        self.sink = sink
        self.match = re.compile(match) if match else None
        self.failures = failures if failures is not None else {}

    def start(self) -> None:
        if self.urls:
            super().start()

    def _run(self) -> None:
        while True:
            self.scrape()
            gevent.sleep(self.interval)

    def scrape(self) -> None:
        for url in self.urls:
            wall = time.time()
            try:
                with urllib.request.urlopen(url, timeout=min(self.interval, 5.0)) as answer:
                    text = answer.read().decode("utf-8", errors="replace")
                samples = parse_metrics(text, self.match)
            except (OSError, ValueError) as exc:
                self._failed(url, exc)
                continue
            self.sink(wall, url, samples)

    def _failed(self, url: str, exc: Exception) -> None:
        count = self.failures.get(url, 0) + 1
        self.failures[url] = count
        if count == 1:
            log.warning(
                "server metrics from %s could not be read (%s); counted, the run goes on", url, exc
            )
