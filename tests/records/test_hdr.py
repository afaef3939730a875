from __future__ import annotations

import pytest

from chatload.records.hdr import IntervalRecorder, IntervalSnapshot, new_histogram, percentiles
from chatload.records.health import Health


def test_intervals_are_aligned_on_the_wall_clock() -> None:
    recorder = IntervalRecorder(5.0, "local", 1000.7)
    assert (recorder.start, recorder.end) == (1000.0, 1005.0)
    assert not recorder.due(1004.9) and recorder.due(1005.0)
    recorder.record("send_ack", 0.001234)
    recorder.record("send_ack", 0.002, "timeout")
    snapshot = recorder.roll(1005.2)
    assert (snapshot.start, snapshot.end) == (1000.0, 1005.0)
    assert (recorder.start, recorder.end) == (1005.0, 1010.0)
    metric = snapshot.metrics["send_ack"]
    assert (metric.histogram.get_total_count(), metric.failures) == (2, 1)
    assert metric.kinds == {"timeout": 1}
    partial = recorder.roll(1007.5)  # the end of a run: a partial interval
    assert (partial.start, partial.end, partial.metrics) == (1005.0, 1007.5, {})


def test_microsecond_precision() -> None:
    recorder = IntervalRecorder(1.0, "local", 0.0)
    for micros in (1, 37, 1234, 56_789, 1_234_567):
        recorder.record("delivery", micros / 1_000_000)
    p = percentiles(recorder.roll(1.0).metrics["delivery"].histogram)
    assert p.count == 5
    assert p.min_ms == pytest.approx(0.001)
    assert p.p50_ms == pytest.approx(1.234, rel=1e-3)
    assert p.max_ms == pytest.approx(1234.567, rel=1e-3)
    assert percentiles(new_histogram()).count == 0


def test_snapshots_travel_and_merge() -> None:
    first = IntervalRecorder(5.0, "worker-0", 0.0)
    second = IntervalRecorder(5.0, "worker-1", 0.0)
    first.record("history", 0.010)
    second.record("history", 0.020, "disconnect")
    a = IntervalSnapshot.from_wire(first.roll(5.0, Health(cpu_percent=40.0)).to_wire())
    b = IntervalSnapshot.from_wire(second.roll(5.0).to_wire())
    assert a.health == Health(cpu_percent=40.0) and a.process == "worker-0"
    a.metrics["history"].add(b.metrics["history"])
    merged = a.metrics["history"]
    assert merged.histogram.get_total_count() == 2 and merged.failures == 1
    assert merged.kinds == {"disconnect": 1}
    assert percentiles(merged.histogram).max_ms == pytest.approx(20.0, rel=1e-3)


def test_bad_interval() -> None:
    with pytest.raises(ValueError, match="positive"):
        IntervalRecorder(0, "local", 0.0)


def test_percentiles_follow_locusts_rank_convention() -> None:
    recorder = IntervalRecorder(1.0, "local", 0.0)
    values_ms = [float(v) for v in range(1, 701)]  # 1..700 ms
    for value in values_ms:
        recorder.record("x", value / 1000)
    p = percentiles(recorder.roll(1.0).metrics["x"].histogram)
    # Locust: the value at 0-based rank int(n * share) of the sorted values.
    for got, share in ((p.p50_ms, 0.5), (p.p90_ms, 0.9), (p.p99_ms, 0.99), (p.p999_ms, 0.999)):
        expected = values_ms[min(699, int(700 * share))]
        assert got == pytest.approx(expected, rel=1e-3), share


def test_bulk_recording_matches_hdrh_one_by_one() -> None:
    import random

    from chatload.records.hdr import record_many

    rng = random.Random(4)
    values = [rng.choice((1, 2, 2047, 2048, 2049, 4096, 65_535)) for _ in range(50)]
    values += [int(rng.lognormvariate(7, 2.5)) + 1 for _ in range(5000)]
    values += [3_600_000_000, 5_000_000_000, 0]  # the top, above it, below it: clamped
    one_by_one, bulk = new_histogram(), new_histogram()
    for value in values:
        one_by_one.record_value(min(max(value, 1), 3_600_000_000))
    record_many(bulk, values)
    assert list(bulk.counts) == list(one_by_one.counts)
    assert bulk.get_total_count() == one_by_one.get_total_count()
    assert (bulk.get_min_value(), bulk.get_max_value()) == (
        one_by_one.get_min_value(),
        one_by_one.get_max_value(),
    )


def test_long_intervals_fold_values_as_they_go() -> None:
    recorder = IntervalRecorder(3600.0, "local", 0.0)
    for index in range(200_000):
        recorder.record(
            "send_ack", (index % 1000 + 1) / 1_000_000, "timeout" if index % 100 == 0 else None
        )
    assert len(recorder._values["send_ack"]) < 65_536
    metric = recorder.roll(10.0).metrics["send_ack"]
    assert (metric.histogram.get_total_count(), metric.failures) == (200_000, 2000)


def test_unanswered_requests_are_slower_than_every_answer() -> None:
    histogram = new_histogram()
    for value in range(1, 99):
        histogram.record_value(value * 1000)
    answered = percentiles(histogram)
    assert answered.p99_ms == pytest.approx(98.0, rel=0.001)
    with_lost = percentiles(histogram, unanswered=2)
    assert with_lost.count == 100
    assert with_lost.p50_ms == pytest.approx(51.0, rel=0.001)
    assert with_lost.p50_ms > answered.p50_ms
    assert with_lost.p99_ms == float("inf") and with_lost.max_ms == float("inf")
