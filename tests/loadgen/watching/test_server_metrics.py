"""--server-metrics: a Prometheus endpoint read into samples; a failing one counted."""

from __future__ import annotations

import logging
import re
import socket

import pytest

from chatload.loadgen.watching.server_metrics import ServerMetricsScraper, parse_metrics
from chatload.records.files import ServerSample
from tests.support import ServerThread

EXPOSITION = """\
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2e+08
# TYPE http_requests counter
http_requests_total{code="200",path="/chat"} 42
http_requests_created{code="200",path="/chat"} 1.7e+09
# TYPE nodejs_heap_size_used_bytes gauge
nodejs_heap_size_used_bytes 3.4e+07
jvm_gc_pause_total 3
"""


def test_a_text_exposition_becomes_samples() -> None:
    samples = parse_metrics(EXPOSITION)
    assert samples == [
        ServerSample("process_cpu_seconds_total", "", 12.5),
        ServerSample("process_resident_memory_bytes", "", 1.2e8),
        ServerSample("http_requests_total", '{code="200",path="/chat"}', 42.0),
        ServerSample("http_requests_created", '{code="200",path="/chat"}', 1.7e9),
        ServerSample("nodejs_heap_size_used_bytes", "", 3.4e7),
        ServerSample("jvm_gc_pause_total", "", 3.0),
    ]
    kept = parse_metrics(EXPOSITION, re.compile(r"^process_"))
    assert [s.name for s in kept] == [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ]


def test_the_reference_server_is_scraped(server: ServerThread) -> None:
    got: list[tuple[str, list[ServerSample]]] = []
    url = server.url.replace("ws://", "http://") + "metrics"
    scraper = ServerMetricsScraper(
        [url], 5.0, lambda wall, u, samples: got.append((u, samples)), match="^process_"
    )
    scraper.scrape()
    [(scraped_url, samples)] = got
    assert scraped_url == url
    names = {sample.name for sample in samples}
    assert {"process_resident_memory_bytes", "process_open_fds"} <= names
    assert all(name.startswith("process_") for name in names)
    assert scraper.failures == {}


def test_a_failing_scrape_is_counted_and_said_once(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/metrics"
    scraper = ServerMetricsScraper([url], 1.0, lambda *_: pytest.fail("nothing to sink"))
    with caplog.at_level(logging.WARNING, logger="chatload.loadgen"):
        for _ in range(3):
            scraper.scrape()
    assert scraper.failures == {url: 3}
    said = [r.getMessage() for r in caplog.records if "server metrics" in r.getMessage()]
    assert len(said) == 1 and url in said[0] and "the run goes on" in said[0]
