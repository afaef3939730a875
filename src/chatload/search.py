"""The capacity search: which load level to try next, and what the answer is. Pure.

``--shape search`` (:mod:`chatload.loadgen.wiring.search_shape`) runs it: the users
grow geometrically while every SLO holds, four times while every measured figure is
under a quarter of its threshold (``WIDE_MARGIN``), else twice; after the first
failing level, the search bisects between the highest holding and the lowest failing
level down to the resolution (once a level has both held and failed, from just
under it: it is the edge within a hold's noise). Load is taken as monotone, so no
level an earlier verdict implies is judged again (under a holding one: holds; above
a failing one: fails); with ``confirm`` the answer is held once more at the end. A
level where the generator was saturated is no verdict on the server: it is held once
more (a stall of the machine saturates one interval), and saturated again the search
stops there, limited by the generator. A breach of the guarantees ends it as a
failure. Stopped early (a run time, a stop), the answer is the bracket found so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "EMBEDDED_MAX_USERS",
    "CapacitySearch",
    "LevelResult",
    "SearchOutcome",
    "embedded_max_users",
    "locust_users",
]

# Levels whose every figure is under this share of its threshold grow by FAST_GROWTH.
WIDE_MARGIN: Final = 0.25
FAST_GROWTH: Final = 4.0
UNDECIDED: Final = "undecided: too few samples"
# A model search asks Locust for this many times a level's slots (its sessions at
# once, headroom included), so that sessions a slower server keeps open longer
# still find one (``loadgen.wiring.search_shape``).
SLOT_SLACK: Final = 1.25

# The embedded dataset is provisioned in seconds (its history is a view), so it can
# be made for a search towards tens of thousands of users.
EMBEDDED_MAX_USERS: Final = 20_000


def embedded_max_users(server_connections: int, generator_connections: int | None) -> int:
    """The search's highest level on the embedded server when the run does not name
    one: what its dataset is made for, within the connections the server can hold
    and, in a one-process run, those this process can open (None: workers)."""
    highest = min(EMBEDDED_MAX_USERS, server_connections)
    if generator_connections is not None:
        highest = min(highest, generator_connections)
    return max(1, highest)


@dataclass(frozen=True, slots=True)
class LevelResult:
    """What one held level showed."""

    users: int
    seconds: float
    messages_per_s: float  # acknowledged sends per second
    verdicts: dict[str, tuple[bool, str]]  # threshold -> (holds, measured)
    saturated: bool = False  # the generator was: no verdict on the server
    breaches: int = 0
    server_cpu_percent: float | None = None
    server_rss_bytes: float | None = None
    # Thresholds the samples did not decide within the longest hold (they count as
    # holding), and the highest figure's share of its threshold (nan: none known).
    undecided: tuple[str, ...] = ()
    load_share: float = math.nan
    # With a traffic model: the level's multiplier of the model's busiest hour, and
    # the sessions it measured (begun a second, open at once).
    multiplier: float | None = None
    sessions_per_s: float | None = None
    concurrent_sessions: float | None = None

    @property
    def name(self) -> str:
        """How the answer line names the level: its users, or its multiplier."""
        if self.multiplier is None:
            return f"{self.users} users"
        return f"{self.multiplier:.3g}x the model's busiest hour"

    @property
    def holds(self) -> bool:
        return (
            not self.saturated and not self.breaches and all(h for h, _ in self.verdicts.values())
        )

    def first_failing(self) -> tuple[str, str] | None:
        for threshold, (holds, measured) in self.verdicts.items():
            if not holds:
                return threshold, measured
        return None

    @property
    def verdict(self) -> str:
        """holds, fails, or undecided (too few samples: counted as holding)."""
        if not self.holds:
            return "fails"
        return UNDECIDED if self.undecided else "holds"

    def to_json(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "seconds": round(self.seconds, 1),
            "messages_per_s": round(self.messages_per_s, 2),
            "holds": self.holds,
            "verdict": self.verdict,
            "slos": [
                {
                    "slo": threshold,
                    "holds": holds,
                    "measured": measured,
                    "verdict": UNDECIDED
                    if threshold in self.undecided
                    else "holds"
                    if holds
                    else "fails",
                }
                for threshold, (holds, measured) in self.verdicts.items()
            ],
            "generator_saturated": self.saturated,
            "breaches": self.breaches,
            "server_cpu_percent": self.server_cpu_percent,
            "server_rss_bytes": self.server_rss_bytes,
            **_production_units(self),
        }


def _production_units(level: LevelResult | None) -> dict[str, Any]:
    """A model search's level in production units (none of them without a model)."""
    if level is None or level.multiplier is None:
        return {}
    return {
        "locust_users": locust_users(level.users, True),
        "multiplier": round(level.multiplier, 4),
        "concurrent_sessions": _rounded(level.concurrent_sessions),
        "sessions_per_s": _rounded(level.sessions_per_s),
        "messages_per_s": round(level.messages_per_s, 2),
    }


def locust_users(users: int, model: bool) -> int:
    """The users Locust runs for a level of ``users`` (a model search's: with slack)."""
    return math.ceil(users * SLOT_SLACK) if model else users


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass
class SearchOutcome:
    users: int  # the highest level that held (0: none did)
    messages_per_s: float
    limited_by: str  # server, max_users (complete); generator, breach, time (cut short)
    first_failing: LevelResult | None
    levels: list[LevelResult]
    answer: LevelResult | None = None  # the answer's level (its slowest holding)
    # A model search's 1x: the model's busiest hour for the baseline people.
    model_peak: dict[str, Any] | None = None

    @property
    def complete(self) -> bool:
        """The search reached its answer by itself."""
        return self.limited_by in ("server", "max_users")

    @property
    def fails_at(self) -> int | None:
        """The lowest level that failed (None: none did)."""
        failing = [lv.users for lv in self.levels if not lv.holds and not lv.saturated]
        return min(failing, default=None)

    @property
    def in_production_units(self) -> bool:
        return any(level.multiplier is not None for level in self.levels)

    def _head(self) -> str:
        answer = self.answer
        if not self.in_production_units:
            return (
                f"Capacity: {self.users} users, {self.messages_per_s:.1f} messages/s "
                "within every SLO"
            )
        if answer is None or answer.multiplier is None:
            return "Capacity: below the search's first level of the model's busiest hour"
        return (
            f"Capacity: {answer.multiplier:.3g}x the traffic model's busiest hour "
            f"({answer.concurrent_sessions or 0:.0f} sessions at once, "
            f"{self.messages_per_s:.1f} messages/s, {answer.sessions_per_s or 0:.2f} "
            f"sessions/s; {self.users} users) within every SLO"
        )

    def _bracket(self) -> str:
        """Where a search cut short left the capacity: "20, under 40 users"."""
        if not self.in_production_units:
            above = f", under {self.fails_at}" if self.fails_at is not None else ""
            return f"{self.users}{above} users"
        named = {level.users: level.name for level in self.levels}
        below = named.get(self.users, "nothing")
        return below + (f", under {named[self.fails_at]}" if self.fails_at is not None else "")

    def line(self) -> str:
        head = self._head()
        failing = self.first_failing
        if self.limited_by == "time":
            return head + (
                "; the search was cut short (its run time or a stop) before its resolution: "
                f"the capacity is at least {self._bracket()}"
            )
        if self.limited_by == "generator":
            return head + (
                f"; limited by the generator (saturated at {failing.name if failing else '?'}"
                "): add workers to find the server's"
            )
        if self.limited_by == "max_users":
            return head + "; every level up to --search-max-users held: test further"
        if self.limited_by == "breach":
            return head + (
                f"; the search ended at {failing.name if failing else '?'} on a breach "
                "of the guarantees"
            )
        if failing is None:
            return head
        broke = failing.first_failing()
        what = f"{broke[0]} broke first ({broke[1]})" if broke else "a level failed"
        cpu = (
            f"; the server's CPU there: {failing.server_cpu_percent:.0f} %"
            if failing.server_cpu_percent is not None
            else ""
        )
        return head + f"; {what} at {failing.name}{cpu}"

    def to_json(self) -> dict[str, Any]:
        failing = self.first_failing
        broke = failing.first_failing() if failing is not None else None
        return {
            "users": self.users,
            "messages_per_s": round(self.messages_per_s, 2),
            "complete": self.complete,
            "holds_at": self.users or None,
            "fails_at": self.fails_at,
            "limited_by": self.limited_by,
            "first_failing": None
            if failing is None
            else {
                "users": failing.users,
                "slo": broke[0] if broke else None,
                "measured": broke[1] if broke else None,
            },
            **_production_units(self.answer),
            "model_peak": self.model_peak,
            "levels": [level.to_json() for level in self.levels],
        }


@dataclass
class CapacitySearch:
    start: int
    max_users: int
    resolution: float = 0.10
    growth: float = 2.0
    confirm: bool = False  # hold the answer once more at the end
    levels: list[LevelResult] = field(default_factory=list)
    outcome: SearchOutcome | None = None
    _confirming: int | None = None
    _next: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.start <= self.max_users:
            raise ValueError("the search needs 1 <= start <= max users")
        if not 0 < self.resolution < 1:
            raise ValueError("the resolution is a fraction between 0 and 1")

    def _holding(self) -> list[LevelResult]:
        return [level for level in self.levels if level.holds]

    def _bounds(self) -> tuple[LevelResult | None, LevelResult | None]:
        """The highest holding level below the lowest failing one, and that one.
        A level that held and later failed at the same users counts as failing; a
        saturated one is no verdict on the server."""
        failing = [level for level in self.levels if not level.holds and not level.saturated]
        lowest_failing = min(failing, key=lambda level: level.users, default=None)
        ceiling = lowest_failing.users if lowest_failing else math.inf
        holding = [level for level in self._holding() if level.users < ceiling]
        return max(holding, key=lambda level: level.users, default=None), lowest_failing

    def next_users(self) -> int | None:
        """The users of the next level to hold; None when the search is over."""
        if self.outcome is None:
            self._step()
        return None if self.outcome is not None else self._next

    def _step(self) -> None:
        if not self.levels:
            self._next = self.start
            return
        last = self.levels[-1]
        if last.breaches:
            self._finish("breach", last)
            return
        if last.saturated:
            self._saturated(last)
            return
        best, failing = self._bounds()
        if failing is None:
            assert best is not None
            if best.users >= self.max_users:
                self._finish("max_users", None)
            else:
                wide = best.load_share < WIDE_MARGIN  # False when not known (nan)
                factor = max(self.growth, FAST_GROWTH) if wide else self.growth
                grown = max(best.users + 1, math.ceil(best.users * factor))
                self._next = min(self.max_users, grown)
        elif best is None:
            if failing.users <= 1:
                self._finish("server", failing)
            else:
                self._next = max(1, failing.users // 2)
        elif failing.users - best.users > max(1, self.resolution * best.users):
            self._next = self._between(best.users, failing.users)
        elif self.confirm and self._confirming != best.users:
            # Within the resolution: hold the answer once more to confirm it.
            self._confirming = best.users
            self._next = best.users
        else:
            self._finish("server", failing)

    def _saturated(self, last: LevelResult) -> None:
        """One stall of the machine marks an interval saturated as surely as a
        generator that cannot keep up: the level is held once more, then the search
        stops there."""
        before = self.levels[-2] if len(self.levels) > 1 else None
        if before is not None and before.saturated and before.users == last.users:
            self._finish("generator", last)
        else:
            self._next = last.users

    def _between(self, holding: int, failing: int) -> int:
        """The next level between a holding and a failing one: halfway; but once the
        failing one has also held (its confirmation failed: it is the server's edge
        within the noise of a hold), the highest level within the resolution under it,
        where the answer is, rather than halfway into the noise again."""
        if not any(level.holds and level.users == failing for level in self.levels):
            return (holding + failing) // 2
        return max(holding + 1, math.ceil(failing / (1 + self.resolution)))

    def record(self, level: LevelResult) -> None:
        self.levels.append(level)

    def stop_here(self) -> SearchOutcome:
        """The run ended before the search did (a run-time limit, a stop): what is
        known so far."""
        if self.outcome is None:
            self._finish("time", self._bounds()[1])
        assert self.outcome is not None
        return self.outcome

    def _finish(self, limited_by: str, failing: LevelResult | None) -> None:
        best, _ = self._bounds()
        confirmed = [level for level in self._holding() if best and level.users == best.users]
        slowest = min(confirmed, key=lambda level: level.messages_per_s, default=None)
        self.outcome = SearchOutcome(
            best.users if best else 0,
            slowest.messages_per_s if slowest else 0.0,
            limited_by,
            failing,
            list(self.levels),
            answer=slowest,
        )
