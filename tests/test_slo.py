"""Thresholds parsed, judged and reported: pure, no run needed."""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET

import pytest

from chatload.drift import DriftSeries, Subject
from chatload.errors import ConfigError
from chatload.records.hdr import IntervalRecorder, Percentiles
from chatload.slo import (
    MetricFigures,
    RunFigures,
    evaluate,
    junit_xml,
    parse_threshold,
    parse_thresholds,
    run_figures,
    verdict_rows,
)


def _figures(**breaches: int) -> RunFigures:
    delivery = Percentiles(1000, 0.5, 4.0, 8.0, 10.0, 240.0, 300.0, 400.0)
    connect = Percentiles(50, 1.0, 5.0, 9.0, 10.0, 12.0, 12.0, 12.0)
    return RunFigures(
        {
            "delivery": MetricFigures(1000, 4, delivery),
            "connect": MetricFigures(50, 1, connect),
        },
        seconds=10.0,
        breaches=breaches,
    )


@pytest.mark.parametrize(
    ("text", "statistic", "op", "limit"),
    [
        ("delivery p99 < 250ms", "p99", "<", 250.0),
        ("delivery p99<250", "p99", "<", 250.0),
        ("history max <= 2s", "max", "<=", 2000.0),
        ("send_ack p50 < 900us", "p50", "<", 0.9),
        ("delivery failure_ratio < 0.5%", "failure_ratio", "<", 0.005),
        ("delivery failure_ratio < 0.005", "failure_ratio", "<", 0.005),
        ("send_ack rate >= 100/s", "rate", ">=", 100.0),
        ("connect failures == 0", "failures", "==", 0.0),
        ("invariant breaches == 0", "breaches", "==", 0.0),
        ("invariant loss == 0", "loss", "==", 0.0),
    ],
)
def test_thresholds_parse_with_their_units(
    text: str, statistic: str, op: str, limit: float
) -> None:
    threshold = parse_threshold(text)
    assert (threshold.statistic, threshold.op, threshold.limit) == (statistic, op, limit)
    assert threshold.text == text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("delivery p99 is fast", "is not '<metric> <statistic> <op> <value>[unit]'"),
        ("delivery p97 < 250ms", "unknown statistic 'p97'"),
        ("delivery p99 < 250%", "a latency is in us, ms or s"),
        ("invariant lost == 0", "invariant takes one of"),
        ("send_ack rate > 5ms", "a rate is per second"),
        ("connect failures == 0ms", "failures takes no unit"),
    ],
)
def test_bad_thresholds_say_what_is_wrong_in_one_line(text: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_threshold(text)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)


def test_blank_thresholds_are_ignored() -> None:
    assert [t.text for t in parse_thresholds(["", "  ", "connect count >= 1"])] == [
        "connect count >= 1"
    ]


def test_verdicts_both_ways() -> None:
    thresholds = parse_thresholds(
        [
            "delivery p99 < 250ms",  # 240: holds
            "delivery p999 < 250ms",  # 300: breached
            "delivery failure_ratio < 0.5%",  # 0.4 %: holds
            "all failure_ratio < 0.45%",  # 5 / 1050 = 0.476 %: breached
            "delivery rate >= 99/s",  # 996 / 10 s: holds
            "invariant breaches == 0",  # one duplicate: breached
            "invariant loss == 0",  # holds
            "history p99 < 1s",  # nothing measured: breached
        ]
    )
    verdicts = evaluate(thresholds, _figures(duplicate=1))
    assert [v.passed for v in verdicts] == [True, False, True, False, True, False, True, False]
    lines = [v.line() for v in verdicts]
    assert lines[0] == "SLO PASS delivery p99 < 250ms: 240.000 ms"
    assert lines[1] == "SLO FAIL delivery p999 < 250ms: 300.000 ms"
    assert lines[3] == "SLO FAIL all failure_ratio < 0.45%: 0.4762%"
    assert lines[4] == "SLO PASS delivery rate >= 99/s: 99.6/s"
    assert lines[7] == "SLO FAIL history p99 < 1s: nothing was measured"


def test_junit_has_one_case_per_threshold_and_the_failures() -> None:
    verdicts = evaluate(
        parse_thresholds(["delivery p99 < 250ms", "delivery max < 1ms"]),
        _figures(),
    )
    root = ET.fromstring(junit_xml(verdicts))
    assert root.tag == "testsuite"
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    cases = root.findall("testcase")
    assert [case.get("name") for case in cases] == ["delivery p99 < 250ms", "delivery max < 1ms"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "SLO FAIL delivery max < 1ms: 400.000 ms"


def test_late_answers_count_at_their_latency_and_lost_ones_fail_the_tail() -> None:
    recorder = IntervalRecorder(5.0, "local", 0.0)
    for _ in range(97):
        recorder.record("delivery", 0.005)
    for _ in range(3):
        recorder.record("delivery", 10.0, "timeout", measured=False)
    recorder.late("delivery", 12.0)  # one came 12 s after its send; two never
    [metric] = recorder.roll(5.0).metrics.values()
    figures = run_figures({"delivery": metric}, 5.0, {})
    thresholds = parse_thresholds(
        ["delivery p95 < 10ms", "delivery p99 < 20s", "delivery count == 100"]
    )
    verdicts = evaluate(thresholds, figures)
    assert [v.passed for v in verdicts] == [True, False, True]
    assert verdicts[1].line() == (
        "SLO FAIL delivery p99 < 20s: beyond every answer (requests never answered)"
    )


# Drift thresholds: the slope over the running phase (chatload.drift).

MIB = 1 << 20


@pytest.mark.parametrize(
    ("text", "target", "statistic", "limit", "relative"),
    [
        ("delivery p99 drift < 20ms/h", "delivery", "p99", 20.0, False),
        ("delivery p99 drift<20 ms / h", "delivery", "p99", 20.0, False),
        ("delivery p50 drift < 1s/h", "delivery", "p50", 1000.0, False),
        ("send_ack p50 drift < 5%/h", "send_ack", "p50", 5.0, True),
        ("delivery failure_ratio drift < 0.1%/h", "delivery", "failure_ratio", 0.001, False),
        ("generator rss drift < 50MiB/h", "generator", "rss", 50.0 * MIB, False),
        ("generator loop_lag drift <= 5ms/h", "generator", "loop_lag", 5.0, False),
        (
            "server process_resident_memory_bytes drift < 100MiB/h",
            "server",
            "process_resident_memory_bytes",
            100.0 * MIB,
            False,
        ),
        ("server process_open_fds drift < 10/h", "server", "process_open_fds", 10.0, False),
        (
            "server rate(process_cpu_seconds_total) drift < 5%/h",
            "server",
            "rate(process_cpu_seconds_total)",
            5.0,
            True,
        ),
    ],
)
def test_drift_thresholds_parse(
    text: str, target: str, statistic: str, limit: float, relative: bool
) -> None:
    threshold = parse_threshold(text)
    assert threshold.drift
    assert (threshold.target, threshold.statistic, threshold.relative) == (
        target,
        statistic,
        relative,
    )
    assert threshold.limit == pytest.approx(limit)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("delivery p99 drift < 20ms", "drift < <value>[unit]/h"),
        ("delivery p99 drift > 20ms/h", "drift < <value>[unit]/h"),
        ("delivery rate drift < 2/h", "a metric drifts in one of"),
        ("generator cpu drift < 5ms/h", "rss or loop_lag"),
        ("generator rss drift < 5ms/h", "B, KiB, MiB or GiB"),
        ("delivery p99 drift < 5MiB/h", "us, ms or s per hour"),
        ("server process_resident_memory_bytes drift < 5ms/h", "B, KiB, MiB or GiB"),
    ],
)
def test_bad_drift_thresholds_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        parse_threshold(text)


def _drifting(slope_per_interval: float, points: int = 48, noise: float = 0.0) -> RunFigures:
    series = DriftSeries()
    jitter = random.Random(5)
    subject = Subject("metric", "delivery", "p99", unit="ms")
    rss = Subject("generator", "rss", source="worker-1", unit="bytes")
    for i in range(points):
        wall = 1_800_000_000 + i * 5.0
        series.add(subject, wall, 10 + i * slope_per_interval + noise * jitter.random())
        series.add(rss, wall, 80 * MIB + i * slope_per_interval * MIB)
    return RunFigures({}, seconds=points * 5.0, drift=series.trends())


def test_a_drift_fails_only_when_its_interval_is_above_the_limit() -> None:
    # 0.5 ms per 5 s interval is 360 ms/h; 0.02 ms is 14.4; 0.04 ms is 28.8.
    [rising] = evaluate([parse_threshold("delivery p99 drift < 20ms/h")], _drifting(0.5))
    assert not rising.passed and rising.judged
    assert rising.value == pytest.approx(360.0)
    assert rising.line().startswith("SLO FAIL delivery p99 drift < 20ms/h: +360 ms/h")
    [slow] = evaluate([parse_threshold("delivery p99 drift < 20ms/h")], _drifting(0.02))
    assert slow.passed
    # Noisy, the slope may be above the limit without its whole interval being so.
    [unsure] = evaluate(
        [parse_threshold("delivery p99 drift < 20ms/h")], _drifting(0.04, noise=3.0)
    )
    assert unsure.value is not None and unsure.value > 20
    assert unsure.passed and "99% interval" in unsure.line()


def test_a_generator_drift_is_said_to_be_the_generators() -> None:
    [verdict] = evaluate([parse_threshold("generator rss drift < 50MiB/h")], _drifting(0.5))
    assert not verdict.passed
    assert "generator rss (worker-1)" in verdict.line()
    assert "the generator's own, not the server's" in verdict.line()


def test_a_drift_is_not_judged_on_a_short_run_or_a_missing_series() -> None:
    thresholds = [
        parse_threshold("delivery p99 drift < 20ms/h"),
        parse_threshold("server process_resident_memory_bytes drift < 100MiB/h"),
    ]
    short, missing = evaluate(thresholds, _drifting(0.5, points=8))
    assert (short.judged, short.passed) == (False, True)
    assert short.line().startswith("SLO NOT JUDGED delivery p99 drift < 20ms/h: too short")
    assert missing.line().endswith("no such series in this run")
    root = ET.fromstring(junit_xml([short, missing]))
    assert root.get("skipped") == "2" and root.get("failures") == "0"
    assert root.findall("testcase/skipped")
    assert verdict_rows([short])[0][2:] == ["", "NOT JUDGED"]
