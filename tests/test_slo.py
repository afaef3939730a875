"""Thresholds parsed, judged and reported: pure, no run needed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

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
