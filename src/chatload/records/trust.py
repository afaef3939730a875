"""How far a run's measurements can be trusted, said in one line.

Three things make a measurement the generator's rather than the server's, and a
run says how much of each it had:

- samples taken while a generator process was saturated (its own delay is in
  them); those of the spawn are counted apart, as start-up work;
- timings across processes, which rely on the clock offsets the workers
  estimated (``tracking.clocks``), uncertain by up to the largest uncertainty;
- operations whose outcome is unknown: sends, reads and history requests that
  timed out or were cut by a dropped connection (the server may have applied
  them), and how many answered late.

A :class:`TrustCounter` fills a :class:`Trust` from the merged intervals: the run
live, and a report from its files replayed (``analysis.replay``); both say it with
:meth:`Trust.line`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from chatload.records.health import PHASES, Phase
from chatload.records.intervals import MergedInterval
from chatload.tracking.metrics import (
    DELIVERY,
    HISTORY,
    READ_ACK,
    READ_PROPAGATION,
    SEND_ACK,
    UNREAD_PROPAGATION,
)

__all__ = ["OPERATIONS", "PROPAGATIONS", "Trust", "TrustCounter"]

PROPAGATIONS: Final = (DELIVERY, UNREAD_PROPAGATION, READ_PROPAGATION)
OPERATIONS: Final = (SEND_ACK, READ_ACK, HISTORY)
_UNKNOWN_KINDS: Final = ("timeout", "disconnect")
# Clocks are a problem when their uncertainty is this share of a latency.
_CLOCK_SHARE: Final = 0.1


@dataclass(slots=True)
class Trust:
    samples: int = 0
    saturated: int = 0  # samples of intervals saturated under load
    saturated_spawning: int = 0  # ... while users were spawning
    propagations: int = 0
    cross_process: int = 0
    clock_uncertainty_ms: float = 0.0  # the largest any process estimated
    operations: int = 0
    unknown: int = 0
    late: int = 0
    unsettled: int = 0  # chats still owed answers when settling ran out of time
    traffic_judged: bool = False  # a model run: its traffic was compared with the model
    traffic_differs: list[str] = field(default_factory=list)  # quantities with D > 0.05
    traffic_dropped: int = 0  # sessions the model offered that found no free user
    traffic_unanswered: int = 0  # turns of people offline that found no free user

    def add_metric(
        self,
        metric: str,
        count: int,
        kinds: Mapping[str, int],
        *,
        cross_process: int,
        late: int,
        saturated: str | None,
    ) -> None:
        """One interval's row of one metric; ``saturated``: the phase in which a
        generator process was saturated then (None: it was not)."""
        self.samples += count
        if saturated == "running":
            self.saturated += count
        elif saturated == "spawning":
            self.saturated_spawning += count
        if metric in PROPAGATIONS:
            self.propagations += count
            self.cross_process += cross_process
        if metric in OPERATIONS:
            self.operations += count
            self.unknown += sum(kinds.get(kind, 0) for kind in _UNKNOWN_KINDS)
            self.late += late

    def add_clock(self, uncertainty_ms: float) -> None:
        self.clock_uncertainty_ms = max(self.clock_uncertainty_ms, uncertainty_ms)

    def line(self) -> str:
        spawning = (
            f" ({share_of(self.saturated_spawning, self.samples)} more while users spawned)"
            if self.saturated_spawning
            else ""
        )
        return (
            f"Trust: {share_of(self.saturated, self.samples)} of samples in saturated "
            f"intervals{spawning}; {share_of(self.cross_process, self.propagations)} of "
            f"propagation timings across processes, clock uncertainty up to "
            f"{self.clock_uncertainty_ms:.2f} ms; {share_of(self.unknown, self.operations)} of "
            f"operations of unknown outcome ({self.late} answered late); "
            f"{self.unsettled} chats unsettled at the end.{self._traffic()}"
        )

    def _traffic(self) -> str:
        if not self.traffic_judged:
            return ""
        parts = []
        if self.traffic_differs:
            shown = ", ".join(self.traffic_differs[:4])
            more = len(self.traffic_differs) - 4
            parts.append(
                f"The traffic differs from the model in {shown}"
                + (f" and {more} more" if more > 0 else "")
                + " (D > 0.05)"
            )
        if self.traffic_dropped:
            parts.append(
                f"{self.traffic_dropped} sessions the model offered were dropped (no free user)"
            )
        if self.traffic_unanswered:
            parts.append(
                f"{self.traffic_unanswered} turns went unwritten: their writers were offline"
                " and no user was free to come back for them (their bursts ended early)"
            )
        return (" " + "; ".join(parts) + ".") if parts else " The traffic matched the model."

    def clock_warning(self, delivery_p50_ms: float) -> str | None:
        """When cross-process timings may be off by a large share of the latencies."""
        if not self.cross_process or delivery_p50_ms <= 0:
            return None
        if self.clock_uncertainty_ms < _CLOCK_SHARE * delivery_p50_ms:
            return None
        return (
            f"{share_of(self.cross_process, self.propagations)} of the propagation timings "
            f"crossed processes, and the clock offsets between them are known to "
            f"±{self.clock_uncertainty_ms:.2f} ms, "
            f"{self.clock_uncertainty_ms / delivery_p50_ms:.0%} of the delivery p50: put both "
            "ends of chats in one worker (a group column in the users file) or run the "
            "workers nearer the master"
        )


class TrustCounter:
    """The run's trust and its saturated intervals, interval by interval."""

    def __init__(self) -> None:
        self.trust = Trust()
        self.intervals = 0
        self.saturated_by_process: dict[str, int] = {}  # intervals under load, by process
        # Intervals where some process was saturated, by the hottest phase among them.
        self.saturated_by_phase: dict[Phase, int] = dict.fromkeys(PHASES, 0)

    def add_interval(self, interval: MergedInterval) -> None:
        trust = self.trust
        self.intervals += 1
        hot = interval.hot_phase
        if hot is not None:
            self.saturated_by_phase[hot] += 1
        for process in interval.processes:
            trust.add_clock(process.health.clock_uncertainty_ms)
            trust.unsettled += process.health.unsettled_chats
            if process.saturated and process.phase == "running":
                name = process.process
                self.saturated_by_process[name] = self.saturated_by_process.get(name, 0) + 1
        for name in sorted(interval.metrics):
            metric = interval.metrics[name]
            trust.add_metric(
                name,
                metric.operations,
                metric.kinds,
                cross_process=metric.cross_process,
                late=metric.late,
                saturated=hot,
            )


def share_of(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0%"
