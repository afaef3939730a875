"""chatload's tabs in Locust's web UI, the way Locust supports extending it.

Locust's React UI renders ``extended_tabs`` from its template arguments, each a
table (``extended_tables``: the columns) whose rows come with every
``/stats/requests`` poll as ``extended_stats``. So the tabs refresh as Locust's own
table does (every 2 s), and in a distributed run they show the master's merged
view. ``extended_csv_files`` adds a link to the Download Data tab: the chatload
HTML report of the run so far, written by a child process (the report draws with
matplotlib, which must not hold the master's event loop) and served here.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from gevent import subprocess

from chatload.loadgen.watching.live import QUANTILES, LiveView

if TYPE_CHECKING:
    from locust.env import Environment

__all__ = ["TABS", "install_tabs"]

log = logging.getLogger("chatload.loadgen")

_QUANTILE_COLUMNS: Final = [
    {"key": f"{span}_{name}", "title": f"{title} {name.replace('p999', 'p99.9')} ms"}
    for span, title in (("last", "interval"), ("run", "run"))
    for name, _ in QUANTILES
]
TABS: Final = {
    "chat": (
        "Chat",
        [
            {"key": "metric", "title": "Metric"},
            {"key": "count", "title": "Samples"},
            {"key": "failures", "title": "Failures"},
            *_QUANTILE_COLUMNS,
        ],
    ),
    "chat-slo": (
        "Chat SLOs",
        [
            {"key": "threshold", "title": "Threshold"},
            {"key": "value", "title": "So far"},
            {"key": "verdict", "title": "Verdict"},
        ],
    ),
    "chat-breaches": (
        "Chat breaches",
        [
            {"key": "time", "title": "Time"},
            {"key": "kind", "title": "Kind"},
            {"key": "count", "title": "Count"},
            {"key": "chat", "title": "Chat"},
            {"key": "detail", "title": "Detail"},
        ],
    ),
    "chat-generator": (
        "Chat generator",
        [
            {"key": "process", "title": "Process"},
            {"key": "phase", "title": "Phase"},
            {"key": "cpu_percent", "title": "CPU %"},
            {"key": "loop_lag_p99_ms", "title": "Loop lag p99 ms"},
            {"key": "loop_lag_max_ms", "title": "Loop lag max ms"},
            {"key": "saturated", "title": "Saturated"},
            {"key": "clock_offset_ms", "title": "Clock offset ms"},
            {"key": "clock_uncertainty_ms", "title": "Clock uncertainty ms"},
            {"key": "rss_mib", "title": "RSS MiB"},
        ],
    ),
    "chat-drift": (
        "Chat drift",
        [
            {"key": "subject", "title": "Series"},
            {"key": "slope_per_h", "title": "Slope per hour"},
            {"key": "ci_low_per_h", "title": "99% low"},
            {"key": "ci_high_per_h", "title": "99% high"},
            {"key": "unit", "title": "Unit"},
            {"key": "projected", "title": "Projected"},
            {"key": "verdict", "title": "Verdict"},
            {"key": "whose", "title": "Whose"},
            {"key": "points", "title": "Points"},
        ],
    ),
}
REPORT_PATH: Final = "/chatload/report/"


def _rows(view: LiveView) -> list[dict[str, Any]]:
    return [
        {"key": "chat", "data": view.metric_rows()},
        {"key": "chat-slo", "data": view.slo_rows()},
        {"key": "chat-breaches", "data": view.breach_rows()},
        {"key": "chat-generator", "data": view.health_rows()},
        {"key": "chat-drift", "data": view.drift_rows()},
    ]


def install_tabs(environment: Environment, view: LiveView) -> None:
    """Add the tabs and the report link to the web UI of ``environment``."""
    web_ui = environment.web_ui
    if web_ui is None:
        return
    from flask import Response, redirect, request, send_from_directory

    web_ui.template_args["extended_tabs"] = [
        {"key": key, "title": title} for key, (title, _) in TABS.items()
    ]
    web_ui.template_args["extended_tables"] = [
        {"key": key, "structure": columns} for key, (_, columns) in TABS.items()
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": REPORT_PATH, "title": "chatload HTML report of the run so far"}
    ]
    app = web_ui.app
    assert app is not None, "Locust's web UI has no Flask app yet"
    report_dir = Path(tempfile.mkdtemp(prefix="chatload-live-report-"))

    def with_chat_tables(response: Any) -> Any:
        if request.path != "/stats/requests" or response.status_code != 200:
            return response
        body = json.loads(response.get_data())
        body["extended_stats"] = _rows(view)
        response.set_data(json.dumps(body))
        return response

    def chat_report() -> Any:
        prefix = getattr(environment.parsed_options, "csv_prefix", None)
        if not prefix:
            return Response(
                "The report is written from the run's CSV files: start Locust with "
                "--csv PREFIX (e.g. --csv results/run).",
                status=409,
                mimetype="text/plain",
            )
        view.write_summary()  # the run so far; the end of the run rewrites it
        done = subprocess.run(
            [sys.executable, "-m", "chatload", "report", prefix, "-o", str(report_dir), "--quiet"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            return Response(lines[-1] if lines else "the report failed", 500, mimetype="text/plain")
        return redirect(REPORT_PATH + "index.html")

    def chat_report_file(name: str) -> Any:
        return send_from_directory(report_dir, name)

    app.after_request(with_chat_tables)
    app.add_url_rule(REPORT_PATH, "chatload_report", chat_report)
    app.add_url_rule(REPORT_PATH + "<path:name>", "chatload_report_file", chat_report_file)


def watch_live(environment: Environment, view: LiveView, prometheus_port: int) -> Any:
    """The Chat tabs of the web UI and, when asked for, the Prometheus endpoint (its
    server, or None)."""
    import time

    from chatload.loadgen.watching.prometheus import serve_metrics

    install_tabs(environment, view)
    if not prometheus_port:
        return None
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    run_id = f"{Path(prefix).name if prefix else 'run'}-{time.strftime('%Y%m%dT%H%M%S')}"
    return serve_metrics(view, prometheus_port, run_id)
