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
  of them or of one kind;
- drift, the slope over the running phase (``chatload.drift``): ``delivery p99 drift <
  20ms/h``, ``send_ack p50 drift < 5%/h`` (of its median), ``delivery failure_ratio drift
  < 0.1%/h`` (percentage points), ``generator rss drift < 50MiB/h``, ``generator loop_lag
  drift < 5ms/h``, ``server process_resident_memory_bytes drift < 100MiB/h`` (a scraped
  series, ``--server-metrics``). It fails only when the slope's 99 % interval lies wholly
  above the limit, and is *not judged* while the run is too short to tell.

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

from chatload.drift import Subject, Trend
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
_DRIFT: Final = re.compile(
    r"^\s*(?P<target>[\w.]+)\s+(?P<statistic>[\w.:()]+)\s+drift\s*(?P<op><=|<)\s*"
    r"(?P<value>[0-9]*\.?[0-9]+)\s*(?P<unit>us|µs|ms|s|%|B|KiB|MiB|GiB)?\s*/\s*h\s*$"
)
_BYTES: Final = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
GENERATOR_SERIES: Final = {"rss": "rss", "loop_lag": "loop_lag_p99"}


@dataclass(frozen=True, slots=True)
class Threshold:
    text: str
    target: str
    statistic: str
    op: str
    limit: float  # ms for latencies, a fraction for ratios, per second for rates
    # A drift threshold: the limit is per hour, in the subject's unit or, when
    # relative, in percent of its median.
    drift: bool = False
    relative: bool = False

    def holds(self, value: float) -> bool:
        return bool(_OPERATORS[self.op](float(value), self.limit))


def _parse_drift(text: str) -> Threshold | None:
    match = _DRIFT.match(text)
    if match is None:
        if re.search(r"\sdrift\s", text):
            raise ConfigError(
                f"--slo {text!r} is not '<subject> <statistic> drift < <value>[unit]/h', "
                "e.g. 'delivery p99 drift < 20ms/h'"
            )
        return None
    target, statistic, op = match["target"], match["statistic"], match["op"]
    value, unit = float(match["value"]), match["unit"]

    def made(limit: float) -> Threshold:
        return Threshold(text, target, statistic, op, limit, drift=True, relative=unit == "%")

    if target == "generator" and statistic not in GENERATOR_SERIES:
        raise ConfigError(f"--slo {text!r}: the generator drifts in rss or loop_lag")
    if target not in ("generator", "server") and statistic not in (*LATENCIES, "failure_ratio"):
        known = ", ".join((*LATENCIES, "failure_ratio"))
        raise ConfigError(f"--slo {text!r}: a metric drifts in one of {known}")
    if statistic == "failure_ratio" and target not in ("generator", "server"):
        if unit not in (None, "%"):
            raise ConfigError(
                f"--slo {text!r}: a failure ratio drifts in %/h (points) or a fraction"
            )
        return Threshold(
            text, target, statistic, op, value / 100 if unit == "%" else value, drift=True
        )
    if unit == "%":
        return made(value)
    in_bytes = target == "server" or statistic == "rss"
    if in_bytes:
        if unit is not None and unit not in _BYTES:
            raise ConfigError(f"--slo {text!r}: memory drifts in B, KiB, MiB or GiB per hour, or %")
        return made(value * _BYTES.get(unit or "B", 1))
    if unit not in _TO_MS:
        raise ConfigError(f"--slo {text!r}: a latency drifts in us, ms or s per hour, or %")
    return made(value * _TO_MS[unit])


def parse_threshold(text: str) -> Threshold:
    """One threshold; a :class:`ConfigError` says what is wrong with it."""
    drift = _parse_drift(text)
    if drift is not None:
        return drift
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
    drift: Mapping[Subject, Trend | None] = field(default_factory=dict)

    def drift_subjects(self, threshold: Threshold) -> list[Subject]:
        """The subjects a drift threshold is about (a server series: every label set
        and URL; the generator: every process)."""
        target, statistic = threshold.target, threshold.statistic
        if target == "server":
            return [
                s
                for s in self.drift
                if s.kind == "server"
                and (s.name == statistic or s.name.startswith(statistic + "{"))
            ]
        if target == "generator":
            name = GENERATOR_SERIES[statistic]
            return [s for s in self.drift if s.kind == "generator" and s.name == name]
        return [
            s
            for s in self.drift
            if s.kind == "metric" and s.name == target and s.statistic == statistic
        ]

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
    passed: bool  # a threshold not judged does not fail the run
    judged: bool = True
    detail: str = ""  # a drift's interval and subject

    @property
    def word(self) -> str:
        return "NOT JUDGED" if not self.judged else "PASS" if self.passed else "FAIL"

    def measured(self) -> str:
        """The value in the threshold's unit, as people read it."""
        if self.value is None or self.threshold.drift:
            return self.detail or "nothing was measured"
        return self._in_unit(self.value)

    def _in_unit(self, value: float) -> str:
        if self.threshold.statistic == "failure_ratio":
            return f"{value:.4%}"
        if self.threshold.statistic in LATENCIES:
            if math.isinf(value):
                return "beyond every answer (requests never answered)"
            return f"{value:.3f} ms"
        if self.threshold.statistic == "rate":
            return f"{value:.1f}/s"
        return f"{value:g}"

    def line(self) -> str:
        return f"SLO {self.word} {self.threshold.text}: {self.measured()}"


def _drift_unit(threshold: Threshold) -> tuple[str, float]:
    """How a drift threshold's figures are written: unit and scale from the subject's."""
    if threshold.relative:
        return "%", 1.0
    if threshold.target == "server" or threshold.statistic == "rss":
        return "MiB", float(1 << 20)
    if threshold.statistic == "failure_ratio":
        return "pp", 0.01
    return "ms", 1.0


def _judge_drift(threshold: Threshold, figures: RunFigures) -> Verdict:
    """FAIL when some subject's whole interval lies above the limit; the figure shown
    is the subject with the highest lower bound."""
    trends = [
        (s, t) for s in figures.drift_subjects(threshold) if (t := figures.drift[s]) is not None
    ]
    if not trends:
        known = len(figures.drift_subjects(threshold))
        why = (
            "too short to tell (fewer than 10 running intervals or 1 minute)"
            if known
            else "no such series in this run"
        )
        return Verdict(threshold, None, True, judged=False, detail=why)

    def scaled(trend: Trend, per_hour: float) -> float:
        return trend.relative(per_hour) if threshold.relative else per_hour

    subject, trend = max(trends, key=lambda item: scaled(item[1], item[1].low))
    low, slope, high = (scaled(trend, v) for v in (trend.low, trend.slope, trend.high))
    unit, scale = _drift_unit(threshold)
    detail = (
        f"{slope / scale:+.4g} {unit}/h (99% interval {low / scale:+.4g} .. {high / scale:+.4g}; "
        f"{subject.label()}, {trend.points} points)"
    )
    if subject.kind == "generator" and low > threshold.limit:
        detail += ": the generator's own, not the server's"
    return Verdict(threshold, slope, not low > threshold.limit, detail=detail)


def evaluate(thresholds: Iterable[Threshold], figures: RunFigures) -> list[Verdict]:
    verdicts = []
    for threshold in thresholds:
        if threshold.drift:
            verdicts.append(_judge_drift(threshold, figures))
            continue
        value = figures.value(threshold)
        verdicts.append(Verdict(threshold, value, value is not None and threshold.holds(value)))
    return verdicts


def junit_xml(verdicts: list[Verdict], suite: str = "chatload SLOs") -> str:
    """One JUnit test case per threshold, for CI dashboards."""
    failed = sum(1 for verdict in verdicts if not verdict.passed)
    cases = []
    for verdict in verdicts:
        name = quoteattr(verdict.threshold.text)
        line = verdict.line()
        if not verdict.judged:
            body = f"<skipped message={quoteattr(line)}/>"
        elif verdict.passed:
            body = ""
        else:
            body = f"<failure message={quoteattr(line)}>{escape(line)}</failure>"
        cases.append(f'  <testcase classname="chatload.slo" name={name}>{body}</testcase>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuite name={quoteattr(suite)} tests="{len(verdicts)}" failures="{failed}" '
        f'errors="0" skipped="{sum(1 for v in verdicts if not v.judged)}">\n'
        + "\n".join(cases)
        + "\n</testsuite>\n"
    )


VERDICT_COLUMNS: Final = ("threshold", "value", "passed", "verdict")


def run_figures(
    run: Mapping[str, MetricSnapshot],
    seconds: float,
    breaches: Mapping[str, int],
    drift: Mapping[Subject, Trend | None] | None = None,
) -> RunFigures:
    """The run so far (the exporter's whole-run histograms), as thresholds judge it."""
    metrics = {
        name: MetricFigures(m.operations, m.failures, percentiles(m.histogram, m.unanswered))
        for name, m in run.items()
    }
    return RunFigures(metrics, seconds, dict(breaches), dict(drift or {}))


def verdict_rows(verdicts: Iterable[Verdict]) -> list[list[str]]:
    """``PREFIX_slo.csv``'s rows: the threshold, its value (ms for latencies, a
    fraction for ratios, a drift's slope per hour in its subject's unit),
    ``true``/``false`` (empty when not judged) and PASS, FAIL or NOT JUDGED."""
    return [
        [
            v.threshold.text,
            "" if v.value is None else f"{v.value:.6g}",
            ("true" if v.passed else "false") if v.judged else "",
            v.word,
        ]
        for v in verdicts
    ]
