"""GET /metrics on the chat port: the reference server's own resources."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import ServerThread


def _scrape(server: ServerThread) -> dict[str, float]:
    url = server.url.replace("ws://", "http://") + "metrics"
    with urllib.request.urlopen(url, timeout=5) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=")
        text = answer.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_server_serves_its_process_and_chat_metrics(server: ServerThread) -> None:
    metrics = _scrape(server)
    for name in (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "chatload_server_connections",
        "chatload_server_writes_total",
        "chatload_server_commit_seconds_total",
    ):
        assert name in metrics, name
    assert metrics["process_resident_memory_bytes"] > 1 << 20


def test_other_paths_still_need_a_token(server: ServerThread) -> None:
    url = server.url.replace("ws://", "http://") + "other"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=5)
    refused.value.close()
    assert refused.value.code == 401


def test_the_leak_mode_grows_the_resident_memory(
    start_server: Callable[..., ServerThread],
) -> None:
    server = start_server(test_leak_kib_per_s=8192)  # 8 MiB a second
    before = _scrape(server)["process_resident_memory_bytes"]
    deadline = time.monotonic() + 20
    grown = 0.0
    while time.monotonic() < deadline and grown < 12 << 20:
        time.sleep(0.2)
        grown = _scrape(server)["process_resident_memory_bytes"] - before
    assert grown >= 12 << 20
    leak = server.server.leak if server.server is not None else None
    assert leak is not None and leak.size > 0
