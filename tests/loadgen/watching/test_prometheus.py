"""The Prometheus endpoint's series exist from the first scrape, before any sample."""

from __future__ import annotations

from chatload.loadgen.watching.live import LiveView
from chatload.loadgen.watching.prometheus import ChatSeries
from chatload.records.pipeline import IntervalPipeline
from chatload.slo import parse_thresholds
from chatload.tracking.invariants import BREACH_KINDS
from chatload.tracking.metrics import METRICS


def test_a_clean_run_serves_every_counter_at_zero_and_its_slos() -> None:
    exporter = IntervalPipeline(None, processes=lambda: 1)
    thresholds = parse_thresholds(["delivery p99 < 250ms"])
    view = LiveView(exporter, lambda: (thresholds, None), lambda: 0)
    families = {family.name: family for family in ChatSeries(view, "run-1").collect()}
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families.values()
        for sample in family.samples
    }
    names = {name for name, _ in samples}
    assert {"chatload_failures_total", "chatload_breaches_total", "chatload_samples_total"} <= names
    breaches = {
        dict(labels)["kind"] for name, labels in samples if name == "chatload_breaches_total"
    }
    assert breaches == set(BREACH_KINDS)
    failures = [dict(labels) for name, labels in samples if name == "chatload_failures_total"]
    assert {(f["metric"], f["kind"]) for f in failures} >= {("delivery", "timeout")}
    assert {f["metric"] for f in failures} >= set(METRICS)
    assert all(value == 0 for (name, _), value in samples.items() if name.endswith("_total"))
    [slo] = [labels for name, labels in samples if name == "chatload_slo_passing"]
    assert dict(slo)["threshold"] == "delivery p99 < 250ms"
