"""A generator process's health in one interval, typed, and when it is saturated.

Every figure is kept at the precision ``PREFIX_generator_health.csv`` writes it
(CPU to 0.1 %, lags and clocks to the microsecond, RSS to 0.1 MiB), so what a run
judges live (saturation, drift) is exactly what a report reads back from the file.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Final, Literal, TypeAlias

__all__ = [
    "PHASES",
    "Health",
    "Phase",
    "ProcessHealth",
    "Saturation",
    "hottest_phase",
    "parse_phase",
]

Phase: TypeAlias = Literal["running", "spawning", "stopping"]
# What a generator process was doing, in the order one interval's phases outrank
# each other: the load's own saturation first, then start-up work, then shutdown.
PHASES: Final[tuple[Phase, ...]] = ("running", "spawning", "stopping")
_MIB: Final = 1 << 20


def _rounded(value: float, digits: int) -> float:
    return round(float(value), digits)


@dataclass(frozen=True, slots=True)
class Health:
    cpu_percent: float = 0.0
    loop_lag_p50_ms: float = 0.0
    loop_lag_p99_ms: float = 0.0
    loop_lag_max_ms: float = 0.0
    clock_offset_ms: float = 0.0
    clock_uncertainty_ms: float = 0.0
    unsettled_chats: int = 0  # chats still owed answers when settling ran out of time
    rss_mib: float | None = None  # None: not measured

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "cpu_percent", _rounded(self.cpu_percent, 1))
        for name in (
            "loop_lag_p50_ms",
            "loop_lag_p99_ms",
            "loop_lag_max_ms",
            "clock_offset_ms",
            "clock_uncertainty_ms",
        ):
            set_(self, name, _rounded(getattr(self, name), 3))
        set_(self, "unsettled_chats", int(self.unsettled_chats))
        if self.rss_mib is not None:
            set_(self, "rss_mib", _rounded(self.rss_mib, 1))

    @classmethod
    def with_rss_bytes(cls, rss_bytes: float | None, **figures: float) -> Health:
        return cls(rss_mib=None if rss_bytes is None else rss_bytes / _MIB, **figures)  # type: ignore[arg-type]

    @property
    def rss_bytes(self) -> float | None:
        return None if self.rss_mib is None else self.rss_mib * _MIB

    def to_wire(self) -> list[Any]:
        return [getattr(self, field.name) for field in fields(self)]

    @classmethod
    def from_wire(cls, item: list[Any]) -> Health:
        cpu, lag_p50, lag_p99, lag_max, offset, uncertainty, unsettled, rss = item
        return cls(
            float(cpu),
            float(lag_p50),
            float(lag_p99),
            float(lag_max),
            float(offset),
            float(uncertainty),
            int(unsettled),
            None if rss is None else float(rss),
        )


@dataclass(frozen=True, slots=True)
class Saturation:
    """When a generator process is too busy for its latencies to be the server's."""

    cpu_percent: float = 90.0
    lag_ms: float = 10.0

    def saturated(self, health: Health) -> bool:
        return health.cpu_percent >= self.cpu_percent or health.loop_lag_p99_ms >= self.lag_ms


@dataclass(frozen=True, slots=True)
class ProcessHealth:
    """One process's health in one merged interval, and its verdict."""

    process: str
    health: Health
    phase: Phase
    saturated: bool


def parse_phase(value: object) -> Phase:
    """``value`` as a phase; ValueError when it is none."""
    for phase in PHASES:
        if value == phase:
            return phase
    raise ValueError(f"not a phase: {value!r}")


def hottest_phase(processes: tuple[ProcessHealth, ...] | list[ProcessHealth]) -> Phase | None:
    """The phase in which some process was saturated, the highest-ranking of them
    (``PHASES``); None when none was."""
    hot = [PHASES.index(p.phase) for p in processes if p.saturated]
    return PHASES[min(hot)] if hot else None
