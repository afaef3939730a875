"""SLO gates of a run, decided by the master (or the only process).

At the end, one line per threshold (``SLO PASS ...`` / ``SLO FAIL ...``) on stderr,
``PREFIX_slo.csv``, optionally JUnit XML, and exit code 1 when any is breached.
With ``--slo-check-interval`` they are also checked during the run; with
``--slo-abort`` a breach ends it there.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Collection
from typing import TYPE_CHECKING

import gevent

from chatload.errors import ConfigError
from chatload.loadgen.engine.options import ChatOptions
from chatload.loadgen.exits import fail_verdict
from chatload.loadgen.watching.live import figures_so_far
from chatload.records.pipeline import IntervalPipeline
from chatload.search import UNDECIDED
from chatload.slo import (
    VERDICT_COLUMNS,
    RunFigures,
    Threshold,
    Verdict,
    evaluate,
    junit_xml,
    parse_thresholds,
    verdict_rows,
)

if TYPE_CHECKING:
    from locust.env import Environment

__all__ = ["SloGate"]

log = logging.getLogger("chatload.loadgen")


class SloGate:
    def __init__(
        self, environment: Environment, pipeline: IntervalPipeline, options: ChatOptions
    ) -> None:
        self.environment = environment
        self.pipeline = pipeline
        self.options = options
        self.thresholds = parse_thresholds(options.slo)
        self.problem: str | None = None  # why the thresholds given at a start are invalid
        self.pending = False  # a test started and was not judged yet
        self.per_level = False  # a capacity search judges its SLOs per level instead
        self._watcher: gevent.Greenlet | None = None

    def start(self, options: ChatOptions) -> None:
        """A test starts with ``options``: the thresholds are the ones it starts with
        (the web UI's form may have changed them); raises :class:`ConfigError`,
        also kept in ``problem`` for the Chat tab, when one is invalid."""
        try:
            self.thresholds = parse_thresholds(options.slo)
        except ConfigError as exc:
            self.thresholds, self.problem = [], str(exc)
            raise
        self.problem = None
        self.pending = True
        self.watch(options)

    def current(self) -> tuple[list[Threshold], str | None]:
        return self.thresholds, self.problem

    def watch(self, options: ChatOptions) -> None:
        """Check during the run, when asked to."""
        self.options = options
        if (
            self.thresholds
            and options.slo_check_interval > 0
            and self._watcher is None
            and not self.per_level
        ):
            self._watcher = gevent.spawn(self._watch)

    def _watch(self) -> None:
        reported: set[str] = set()
        while True:
            gevent.sleep(self.options.slo_check_interval)
            failing = [
                verdict
                for verdict in evaluate(self.thresholds, self._figures())
                if not verdict.passed and verdict.judged and verdict.value is not None
            ]
            for verdict in failing:
                if self.options.slo_abort or verdict.threshold.text not in reported:
                    log.warning("%s (during the run)", verdict.line())
                    reported.add(verdict.threshold.text)
            if failing and self.options.slo_abort:
                self._abort()
                return

    def _abort(self) -> None:
        sys.stderr.write("Error: an SLO was breached during the run (--slo-abort)\n")
        fail_verdict(self.environment, end_now=True)

    def _figures(self) -> RunFigures:
        return figures_so_far(self.pipeline)

    def judge(
        self,
        figures: RunFigures | None = None,
        *,
        undecided: Collection[str] = (),
        fail: bool = True,
    ) -> list[Verdict]:
        """The verdicts of the whole run (in the web UI: at the end of each test), or
        of a capacity search's answer: its level's ``figures``, the thresholds its
        samples left ``undecided`` not judged, and the exit code the search's own."""
        self.pending = False
        if self._watcher is not None:
            self._watcher.kill(block=False)
            self._watcher = None
        if not self.thresholds or (self.per_level and figures is None):
            return []
        verdicts = [
            dataclasses.replace(v, passed=True, judged=False, detail=UNDECIDED)
            if v.threshold.text in undecided
            else v
            for v in evaluate(self.thresholds, figures or self._figures())
        ]
        for verdict in verdicts:
            sys.stderr.write(verdict.line() + "\n")
        self.pipeline.write_table("slo", VERDICT_COLUMNS, verdict_rows(verdicts))
        junit = self.options.slo_junit
        if junit is not None:
            junit.parent.mkdir(parents=True, exist_ok=True)
            junit.write_text(junit_xml(verdicts), encoding="utf-8")
        if fail and not all(verdict.passed for verdict in verdicts):
            fail_verdict(self.environment)
        return verdicts
