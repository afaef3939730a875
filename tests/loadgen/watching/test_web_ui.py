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
