"""The run so far, as the Chat tab and the Prometheus endpoint show it.

One :class:`LiveView` on the master (or the only process) reads what the interval
pipeline (``records.pipeline``) already merged: the last interval's and the whole
run's HDR histograms, failures by kind, breaches, each process's health, the
server's last scrape, drift, and the SLO verdicts so far.
Both views read the same figures, so the tab, the scrape and the final report
agree. Nothing here walks users or connections: a look costs O(metrics x
processes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chatload.drift import DRIFT_COLUMNS, SERVER_CPU, SERVER_RSS
from chatload.records.hdr import MetricSnapshot, percentiles
from chatload.records.health import ProcessHealth
from chatload.records.pipeline import IntervalPipeline
from chatload.slo import RunFigures, Threshold, Verdict, evaluate, run_figures
from chatload.tracking.metrics import METRICS

__all__ = ["LiveView", "Quantiles", "figures_so_far"]

QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999))


def figures_so_far(pipeline: IntervalPipeline) -> RunFigures:
    """The run so far as SLO thresholds judge it (the gates and the live views)."""
    run = pipeline.run
    return run_figures(run.metrics, run.seconds, pipeline.live.breaches, pipeline.drift.trends())


@dataclass(frozen=True, slots=True)
class Quantiles:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float

    @classmethod
    def of(cls, metric: MetricSnapshot | None, *, whole_run: bool = False) -> Quantiles | None:
        """An interval's answers, or the whole run's, where what never came is
        slower than every answer (as the summary export and the SLOs count)."""
        if metric is None or metric.histogram.get_total_count() == 0:
            return None
        p = percentiles(metric.histogram, metric.unanswered if whole_run else 0)
        return cls(metric.operations, p.p50_ms, p.p95_ms, p.p99_ms, p.p999_ms)


class LiveView:
    def __init__(
        self,
        pipeline: IntervalPipeline,
        thresholds: Callable[[], tuple[list[Threshold], str | None]],
        users: Callable[[], int],
    ) -> None:
        self.pipeline = pipeline
        self.state = pipeline.live
        self._thresholds = thresholds  # the gate's current ones, and why not, if invalid
        self._users = users

    def users(self) -> int:
        return self._users()

    def metrics(self) -> list[tuple[str, MetricSnapshot | None, MetricSnapshot | None]]:
        """(metric, last interval, whole run), every chat metric with samples."""
        run, last = self.pipeline.run.metrics, self.state.last_interval
        names = [m for m in METRICS if m in run] + sorted(set(run) - set(METRICS))
        return [(name, last.get(name), run.get(name)) for name in names]

    def verdicts(self) -> tuple[list[Verdict], str | None]:
        thresholds, problem = self._thresholds()
        return evaluate(thresholds, figures_so_far(self.pipeline)), problem

    def write_summary(self) -> None:
        """``PREFIX_chat_summary.csv`` of the run so far, for a report of it."""
        self.pipeline.files.write_summary(self.pipeline.run)

    def failure_kinds(self) -> dict[tuple[str, str], int]:
        """Failures so far by (metric, kind)."""
        return dict(self.state.failure_kinds)

    def breach_counts(self) -> dict[str, int]:
        """Breaches so far by kind."""
        return dict(self.state.breaches)

    def health(self) -> list[ProcessHealth]:
        return [self.state.last_health[process] for process in sorted(self.state.last_health)]

    # The Chat tab's tables (rows of strings, Locust's extended tables)

    def metric_rows(self) -> list[dict[str, Any]]:
        rows = []
        for name, last, run in self.metrics():
            now, whole = Quantiles.of(last), Quantiles.of(run, whole_run=True)
            row: dict[str, Any] = {
                "metric": name,
                "count": whole.count if whole else 0,
                "failures": run.failures if run else 0,
            }
            for label, figures in (("last", now), ("run", whole)):
                for quantile, _ in QUANTILES:
                    value = getattr(figures, f"{quantile}_ms") if figures else None
                    row[f"{label}_{quantile}"] = "" if value is None else f"{value:.3f}"
            rows.append(row)
        return rows

    def slo_rows(self) -> list[dict[str, Any]]:
        verdicts, problem = self.verdicts()
        if problem:
            return [{"threshold": "(invalid)", "value": "", "verdict": problem}]
        return [
            {
                "threshold": v.threshold.text,
                "value": v.measured(),
                "verdict": v.word,
            }
            for v in verdicts
        ]

    def breach_rows(self) -> list[dict[str, Any]]:
        counts = [
            {"time": "", "kind": kind, "count": count, "chat": "", "detail": "(total)"}
            for kind, count in sorted(self.state.breaches.items())
        ]
        latest = [
            {"time": row[0], "kind": row[1], "count": 1, "chat": row[2], "detail": row[5]}
            for row in reversed(self.state.recent_breaches)
        ]
        return counts + latest

    def health_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "process": p.process,
                "phase": p.phase,
                "cpu_percent": f"{p.health.cpu_percent:.1f}",
                "loop_lag_p99_ms": f"{p.health.loop_lag_p99_ms:.2f}",
                "loop_lag_max_ms": f"{p.health.loop_lag_max_ms:.2f}",
                "saturated": "yes" if p.saturated else "no",
                "clock_offset_ms": f"{p.health.clock_offset_ms:.2f}",
                "clock_uncertainty_ms": f"{p.health.clock_uncertainty_ms:.2f}",
                "rss_mib": f"{p.health.rss_mib or 0.0:.1f}",
            }
            for p in self.health()
        ] + self.server_rows()

    def server_rows(self) -> list[dict[str, Any]]:
        """The server's own CPU and RSS as last scraped (--server-metrics)."""
        rows = []
        for url, series in sorted(self.state.last_server.items()):
            cpu = series.get(SERVER_CPU)
            rss = series.get(SERVER_RSS)
            rows.append(
                {
                    "process": f"server {url}",
                    "phase": "",
                    "cpu_percent": "" if cpu is None else f"{cpu * 100:.1f}",
                    "rss_mib": "" if rss is None else f"{rss / (1 << 20):.1f}",
                }
            )
        return rows

    def drift_rows(self) -> list[dict[str, Any]]:
        """Each series' drift so far (PREFIX_drift.csv's rows)."""
        return [dict(zip(DRIFT_COLUMNS, row, strict=True)) for row in self.pipeline.drift.rows()]
