"""Service-level objectives: thresholds on a run's figures, and their verdicts.

A threshold reads ``<metric> <statistic> <op> <value>[unit]``:

- ``delivery p99 < 250ms``, ``unread_propagation p95 < 300ms``, ``history max <= 2s``:
  a latency statistic (``min``, ``p50``, ``p90``, ``p95``, ``p99``, ``p999``, ``max``)
  in ``us``, ``ms`` (the default) or ``s``;
- ``send_ack rate >= 100/s``: successful samples per second over the run;
- ``delivery failure_ratio < 0.5%`` (or a fraction, ``0.005``), ``connect failures == 0``,
  ``history count >= 10``;
- ``all failure_ratio < 1%``: every chat metric together;
- ``invariant breaches == 0``, ``invariant loss == 0``: breaches of the guarantees, all
  of them or of one kind.

Operators: ``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``. A threshold on a metric with no
samples fails: nothing was measured. A late answer counts at its true latency; a
request never answered counts as slower than every answer, so a p99 fails when more
than 1 % never came.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final
from xml.sax.saxutils import escape, quoteattr

from chatload.errors import ConfigError
from chatload.records.hdr import MetricSnapshot, Percentiles, percentiles
from chatload.tracking.invariants import BREACH_KINDS

__all__ = [
    "VERDICT_COLUMNS",
    "MetricFigures",
    "RunFigures",
    "Threshold",
    "Verdict",
    "evaluate",
    "junit_xml",
    "parse_threshold",
    "parse_thresholds",
    "run_figures",
    "verdict_rows",
]

LATENCIES: Final = ("min", "p50", "p90", "p95", "p99", "p999", "max")
COUNTS: Final = ("count", "failures")
_OPERATORS: Final = {
    "<": float.__lt__,
    "<=": float.__le__,
    ">": float.__gt__,
    ">=": float.__ge__,
    "==": float.__eq__,
    "!=": float.__ne__,
}
_PATTERN: Final = re.compile(
    r"^\s*(?P<target>[\w.]+)\s+(?P<statistic>\w+)\s*(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<value>[0-9]*\.?[0-9]+)\s*(?P<unit>us|µs|ms|s|%|/s)?\s*$"
)
_TO_MS: Final = {"us": 0.001, "µs": 0.001, "ms": 1.0, "s": 1000.0, None: 1.0}


@dataclass(frozen=True, slots=True)
class Threshold:
    text: str
    target: str
    statistic: str
    op: str
    limit: float  # ms for latencies, a fraction for ratios, per second for rates

    def holds(self, value: float) -> bool:
        return bool(_OPERATORS[self.op](float(value), self.limit))


def parse_threshold(text: str) -> Threshold:
    """One threshold; a :class:`ConfigError` says what is wrong with it."""
    match = _PATTERN.match(text)
    if match is None:
        raise ConfigError(
            f"--slo {text!r} is not '<metric> <statistic> <op> <value>[unit]', "
            "e.g. 'delivery p99 < 250ms'"
        )
    target, statistic, op = match["target"], match["statistic"], match["op"]
    value, unit = float(match["value"]), match["unit"]
    if target == "invariant":
        if statistic != "breaches" and statistic not in BREACH_KINDS:
            kinds = ", ".join(("breaches", *BREACH_KINDS))
            raise ConfigError(f"--slo {text!r}: invariant takes one of {kinds}")
        return Threshold(text, target, statistic, op, value)
    if statistic in LATENCIES:
        if unit not in _TO_MS:
            raise ConfigError(f"--slo {text!r}: a latency is in us, ms or s")
        return Threshold(text, target, statistic, op, value * _TO_MS[unit])
    if statistic == "failure_ratio":
        if unit not in (None, "%"):
            raise ConfigError(f"--slo {text!r}: a failure ratio is a fraction or a percentage")
        return Threshold(text, target, statistic, op, value / 100 if unit == "%" else value)
    if statistic == "rate":
        if unit not in (None, "/s"):
            raise ConfigError(f"--slo {text!r}: a rate is per second (/s)")
        return Threshold(text, target, statistic, op, value)
    if statistic in COUNTS:
        if unit is not None:
            raise ConfigError(f"--slo {text!r}: {statistic} takes no unit")
        return Threshold(text, target, statistic, op, value)
    known = ", ".join((*LATENCIES, *COUNTS, "failure_ratio", "rate"))
    raise ConfigError(f"--slo {text!r}: unknown statistic {statistic!r} (one of {known})")


def parse_thresholds(texts: Iterable[str]) -> list[Threshold]:
    return [parse_threshold(text) for text in texts if text.strip()]


@dataclass(frozen=True, slots=True)
class MetricFigures:
    count: int
    failures: int
    percentiles: Percentiles


@dataclass(frozen=True, slots=True)
class RunFigures:
    """What thresholds are judged on: each metric's figures, the run's length, the
    breaches by kind."""

    metrics: Mapping[str, MetricFigures]
    seconds: float
    breaches: Mapping[str, int] = field(default_factory=dict)

    def value(self, threshold: Threshold) -> float | None:
        """The figure a threshold is about; None when nothing was measured."""
        statistic = threshold.statistic
        if threshold.target == "invariant":
            total = sum(self.breaches.values())
            return float(total if statistic == "breaches" else self.breaches.get(statistic, 0))
        if threshold.target == "all":
            count = sum(m.count for m in self.metrics.values())
            failures = sum(m.failures for m in self.metrics.values())
            percentiles = None
        else:
            figures = self.metrics.get(threshold.target)
            if figures is None:
                return None
            count, failures, percentiles = figures.count, figures.failures, figures.percentiles
        if not count:
            return None
        if statistic in LATENCIES:
            return None if percentiles is None else float(getattr(percentiles, f"{statistic}_ms"))
        return {
            "count": float(count),
            "failures": float(failures),
            "failure_ratio": failures / count,
            "rate": (count - failures) / self.seconds if self.seconds > 0 else None,
        }.get(statistic)


@dataclass(frozen=True, slots=True)
class Verdict:
    threshold: Threshold
    value: float | None
    passed: bool

    def measured(self) -> str:
        """The value in the threshold's unit, as people read it."""
        if self.value is None:
            return "nothing was measured"
        if self.threshold.statistic == "failure_ratio":
            return f"{self.value:.4%}"
        if self.threshold.statistic in LATENCIES:
            if math.isinf(self.value):
                return "beyond every answer (requests never answered)"
            return f"{self.value:.3f} ms"
        if self.threshold.statistic == "rate":
            return f"{self.value:.1f}/s"
        return f"{self.value:g}"

    def line(self) -> str:
        return f"SLO {'PASS' if self.passed else 'FAIL'} {self.threshold.text}: {self.measured()}"


def evaluate(thresholds: Iterable[Threshold], figures: RunFigures) -> list[Verdict]:
    verdicts = []
    for threshold in thresholds:
        value = figures.value(threshold)
        verdicts.append(Verdict(threshold, value, value is not None and threshold.holds(value)))
    return verdicts


def junit_xml(verdicts: list[Verdict], suite: str = "chatload SLOs") -> str:
    """One JUnit test case per threshold, for CI dashboards."""
    failed = sum(1 for verdict in verdicts if not verdict.passed)
    cases = []
    for verdict in verdicts:
        name = quoteattr(verdict.threshold.text)
        body = (
            ""
            if verdict.passed
            else (
                f"<failure message={quoteattr(verdict.line())}>{escape(verdict.line())}</failure>"
            )
        )
        cases.append(f'  <testcase classname="chatload.slo" name={name}>{body}</testcase>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuite name={quoteattr(suite)} tests="{len(verdicts)}" failures="{failed}" '
        'errors="0" skipped="0">\n' + "\n".join(cases) + "\n</testsuite>\n"
    )


VERDICT_COLUMNS: Final = ("threshold", "value", "passed")


def run_figures(
    run: Mapping[str, MetricSnapshot], seconds: float, breaches: Mapping[str, int]
) -> RunFigures:
    """The run so far (the exporter's whole-run histograms), as thresholds judge it."""
    metrics = {
        name: MetricFigures(m.operations, m.failures, percentiles(m.histogram, m.unanswered))
        for name, m in run.items()
    }
    return RunFigures(metrics, seconds, dict(breaches))


def verdict_rows(verdicts: Iterable[Verdict]) -> list[list[str]]:
    """``PREFIX_slo.csv``'s rows: the threshold, its value (ms for latencies, a
    fraction for ratios) and ``true``/``false``."""
    return [
        [
            v.threshold.text,
            "" if v.value is None else f"{v.value:.6g}",
            "true" if v.passed else "false",
        ]
        for v in verdicts
    ]
