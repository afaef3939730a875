"""Watching a run live: the Chat tabs of Locust's web UI (rendered in headless
Chromium), an SLO typed in the web UI and judged, and the Prometheus endpoint
scraped by a real Prometheus."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from chatload.loadgen.watching.prometheus import SERIES
from tests.analysis.browser import chromium, open_page, visible_text
from tests.loadgen.support import ROOT, headless, locust_command, until
from tests.support import system_program

DASHBOARD = ROOT / "dashboards" / "chatload.json"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _tables(base: str) -> dict[str, list[dict[str, Any]]]:
    stats = _get(f"{base}/stats/requests")
    return {table["key"]: table["data"] for table in stats.get("extended_stats", [])}


def _swarm(base: str, **fields: Any) -> dict[str, Any]:
    form = urllib.parse.urlencode(
        {"user_count": 8, "spawn_rate": 8, "think_min": "0.2", "think_max": "1.0", **fields}
    ).encode()
    with urllib.request.urlopen(f"{base}/swarm", data=form, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def _delivery_samples(text: str) -> int | None:
    """The Samples cell of the delivery row of the rendered Chat tab."""
    found = re.search(r"^delivery\t(\d+)\t", text, re.M)
    return int(found.group(1)) if found else None


@pytest.mark.slow
def test_the_chat_tabs_live_and_an_slo_typed_in_the_web_ui(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    locust = subprocess.Popen(
        locust_command(
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(port),
            "--csv",
            str(tmp_path / "run"),
            "--chat-interval",
            "1",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        # Ready once chatload's init is done (the embedded server up, the tabs in).
        until("the web UI", lambda: _answers(f"{base}/"))
        # An SLO that must fail, typed in the form.
        assert _swarm(base, slo="delivery p99 < 1us")["success"]
        until("chat samples", lambda: _tables(base).get("chat"))
        # Locust caches /stats/requests for 2 s or more: a page that polls a cached
        # "ready" from before the start shows the start form and stops polling.
        until("the run's state", lambda: _get(f"{base}/stats/requests")["state"] == "running")
        with chromium() as tools:
            open_page(tools, f"{base}/?tab=chat")
            first = until(
                "the delivery row in the Chat tab",
                lambda: _delivery_samples(visible_text(tools)),
                seen=lambda: visible_text(tools)[:1200],
            )
            text = visible_text(tools)
            for heading in ("Metric", "interval p99 ms", "run p99.9 ms"):
                assert heading in text, text[:2000]
            until(
                "the Chat tab to change",
                lambda: (_delivery_samples(visible_text(tools)) or 0) > first,
                timeout=30,
            )
            open_page(tools, f"{base}/?tab=chat-slo")
            until(
                "the SLO verdict",
                lambda: re.search(
                    r"^delivery p99 < 1us\t[\d.]+ ms\tFAIL$", visible_text(tools), re.M
                ),
                seen=lambda: visible_text(tools)[-600:],
            )
            open_page(tools, f"{base}/?tab=chat-generator")
            until(
                "generator health",
                lambda: re.search(r"^local\trunning\t", visible_text(tools), re.M),
            )
            # The embedded server's own CPU and RSS, scraped without asking.
            until(
                "the server's resources",
                lambda: re.search(
                    r"^server http://127\.0\.0\.1:\d+/metrics\t.*\d\.\d",
                    visible_text(tools),
                    re.M,
                ),
                seen=lambda: visible_text(tools)[-600:],
            )
            open_page(tools, f"{base}/?tab=chat-drift")
            until(
                "the drift so far",
                lambda: re.search(r"^delivery p50\t", visible_text(tools), re.M),
                seen=lambda: visible_text(tools)[-600:],
            )
        # The report of the run so far, from the Download Data tab's link.
        with urllib.request.urlopen(f"{base}/chatload/report/", timeout=120) as response:
            page = response.read().decode()
            assert response.url.endswith("/chatload/report/index.html"), response.url
        assert "delivery" in page
        assert "<h2>Drift</h2>" in page and "The server&#x27;s resources" in page
        urllib.request.urlopen(f"{base}/stop", data=b"", timeout=10).close()
        # A threshold that does not parse is said in the UI, not ignored.
        _swarm(base, slo="delivery p99 < soon")
        slo_rows = until("the invalid SLO", lambda: _tables(base).get("chat-slo"))
        assert slo_rows[0]["threshold"] == "(invalid)", slo_rows
        assert "soon" in slo_rows[0]["verdict"], slo_rows
    finally:
        locust.send_signal(signal.SIGTERM)
        _, err = locust.communicate(timeout=60)
        (tmp_path / "locust.log").write_text(err)
    assert "SLO FAIL delivery p99 < 1us" in err, err[-3000:]
    assert "Traceback" not in err, err[-3000:]


def _answers(url: str) -> bool:
    """The page lists chatload's tabs once chatload's init is done. (Not polled on
    /stats/requests: Locust caches that answer, for longer when the first ones were
    slow, and a page loaded later would start from a stale state.)"""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return b"chat-generator" in response.read()
    except OSError:
        return False


def _query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    answer = _get(url)
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


@pytest.mark.slow
def test_prometheus_scrapes_the_run(tmp_path: Path) -> None:
    binary = system_program(("prometheus",), "scraping a run needs Debian's prometheus")
    metrics_port, prometheus_port = _free_port(), _free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: chatload\n    static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n"
    )
    prometheus = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{prometheus_port}"
    try:
        run = subprocess.Popen(
            locust_command(
                *headless(20, "20s"),
                "--chat-interval",
                "1",
                "--prometheus-port",
                str(metrics_port),
                "--slo",
                "delivery p99 < 5s",
                "--only-summary",
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            first = until(
                "chat samples in Prometheus",
                lambda: _query(api, 'sum(chatload_samples_total{metric="delivery"}) > 0'),
            )
            later = until(
                "more samples",
                lambda: [
                    r
                    for r in _query(api, 'sum(chatload_samples_total{metric="delivery"})')
                    if float(r["value"][1]) > float(first[0]["value"][1])
                ],
                timeout=30,
            )
            assert later
            latencies = until(
                "latency percentiles",
                lambda: _query(api, 'chatload_latency_seconds{metric="send_ack",quantile="0.99"}'),
            )
            assert all(0 < float(r["value"][1]) < 10 for r in latencies), latencies
            for row in latencies:
                assert row["metric"]["run_id"], row
            assert _query(api, "sum(chatload_breaches_total) > 0") == []
            # A clean run's failures and breaches are series at 0, not absent.
            for series in ("chatload_failures_total", "chatload_breaches_total"):
                [total] = _query(api, f"sum({series})")
                assert float(total["value"][1]) == 0, (series, total)
            slo = _query(api, "chatload_slo_passing")
            assert [r["metric"]["threshold"] for r in slo] == ["delivery p99 < 5s"], slo
            assert float(slo[0]["value"][1]) == 1.0
            assert float(_query(api, "max(chatload_users)")[0]["value"][1]) == 20
            names = set(_get(f"{api}/api/v1/label/__name__/values")["data"])
            _, err = run.communicate(timeout=90)
            assert run.returncode == 0, err[-3000:]
        finally:
            run.kill()
    finally:
        prometheus.terminate()
        prometheus.wait(30)
    served = {name for name in names if name.startswith("chatload_")}
    # Each series the dashboard queries is one the endpoint served, on a clean run.
    queried = set(re.findall(r"chatload_[a-z_]+", DASHBOARD.read_text()))
    assert queried <= set(SERIES), queried - set(SERIES)
    assert queried <= served, queried - served


def test_the_dashboard_is_grafana_json_on_the_served_names() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert exprs and all("chatload_" in expr for expr in exprs)
    assert {v["name"] for v in dashboard["templating"]["list"]} >= {"datasource", "run_id"}
    for expr in exprs:
        for name in re.findall(r"chatload_[a-z_]+", expr):
            assert name in SERIES, name
