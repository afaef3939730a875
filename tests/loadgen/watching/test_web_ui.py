"""The README's first run: Locust's web UI, swarming from the form."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest

from tests.loadgen.support import METRICS, ROOT, locust_command, until


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_swarm_from_the_web_ui_with_chatload_options() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    locust = subprocess.Popen(
        locust_command("--web-host", "127.0.0.1", "--web-port", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/stats/requests")
                break
            except OSError:
                assert locust.poll() is None and time.monotonic() < deadline, "no web UI"
                time.sleep(0.3)
        # chatload's options are form fields like Locust's own.
        form = urllib.parse.urlencode(
            {
                "user_count": 8,
                "spawn_rate": 8,
                "think_min": "0.2",
                "think_max": "1.0",
                "text_locale": "en_US",
            }
        ).encode()
        with urllib.request.urlopen(f"{base}/swarm", data=form, timeout=10) as response:
            answer = json.loads(response.read())
        assert answer["success"], answer
        assert answer["host"].startswith("ws://127.0.0.1:"), "the embedded server is the default"

        # Polled until every metric has samples (the read metrics come last).
        def stats_now() -> dict[str, Any]:
            return {row["name"]: row for row in _get(f"{base}/stats/requests")["stats"]}

        stats = until(
            "samples of every metric",
            lambda: (
                (now := stats_now())
                and all(now.get(m, {}).get("num_requests") for m in METRICS)
                and now
            ),
            seen=lambda: sorted(stats_now()),
        )
        urllib.request.urlopen(f"{base}/stop", data=b"", timeout=10).close()
    finally:
        locust.send_signal(signal.SIGTERM)
        _, err = locust.communicate(timeout=30)
    for metric in METRICS:
        assert stats.get(metric, {}).get("num_requests", 0) > 0, (metric, sorted(stats))
        assert stats[metric]["num_failures"] == 0, stats[metric]
    assert "Traceback" not in err


@pytest.mark.slow
def test_the_swarm_form_switches_a_run_to_a_traffic_model_and_back(tmp_path: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    prefix = tmp_path / "run"
    locust = subprocess.Popen(
        locust_command("--web-host", "127.0.0.1", "--web-port", str(port), "--csv", str(prefix)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"

    def swarm(**fields: object) -> None:
        form = urllib.parse.urlencode({"user_count": 8, "spawn_rate": 8, **fields}).encode()
        with urllib.request.urlopen(f"{base}/swarm", data=form, timeout=10) as response:
            assert json.loads(response.read())["success"]

    def count(metric: str) -> int:
        stats = {row["name"]: row for row in _get(f"{base}/stats/requests")["stats"]}
        return int(stats.get(metric, {}).get("num_requests", 0))

    try:
        until("the web UI", lambda: _get(f"{base}/stats/requests"), process=locust)
        # An hour of the default model a second: sessions come and go at once.
        swarm(traffic_model="default", time_scale="3600", traffic_start_hour="18")
        until("sessions of the model", lambda: count("connect") >= 8, process=locust)
        urllib.request.urlopen(f"{base}/stop", data=b"", timeout=10).close()
        until("the stop", lambda: _get(f"{base}/stats/requests")["state"] == "stopped")
        # Back to think times: the users' own tasks again, every metric measured.
        swarm(traffic_model="none", think_min="0.2", think_max="1.0")
        until(
            "samples of every metric",
            lambda: all(count(metric) for metric in METRICS),
            process=locust,
            timeout=90,
            seen=lambda: {metric: count(metric) for metric in METRICS},
        )
        urllib.request.urlopen(f"{base}/stop", data=b"", timeout=10).close()
    finally:
        locust.send_signal(signal.SIGTERM)
        _, err = locust.communicate(timeout=60)
    assert "Traceback" not in err, err[-3000:]
    with open(f"{prefix}_traffic.csv", encoding="utf-8") as handle:
        assert len(handle.readlines()) > 1  # the model's run was judged
