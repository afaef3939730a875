"""When the end of a run has settled: the rule, fed counts and clocks.

When a run stops, every generator process stops sending and keeps listening.
A slow server is still answering then: a timeout during the run was a failure,
not a verdict, and what was awaited may still come. So the verdicts (``loss``,
``gap``, ``unread``, the comparison of both sides) wait until one of:

- **settled**: nothing is owed any more (every answer, delivery, skipped id
  and awaited count came) and a short grace passed for the last counts;
- **quiet**: the slowest answer of the run has had time to come half as long
  again (``quiet`` seconds since the sending stopped), nothing arrived for a
  second, and no request is still in time: what is still owed is not coming,
  and is judged so;
- **bound**: ``bound`` seconds passed while answers were still arriving: what
  is still owed is *unsettled*, counted, and judged on nothing (when nothing
  arrived for a second by then, it is **quiet** after all).

The caller polls :meth:`Settling.step` with the process's monotonic clock, how
many frames it received so far, what is owed and how many requests wait in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["GRACE_SECONDS", "SILENCE_SECONDS", "Outcome", "Settling", "quiet_window"]

Outcome = Literal["settled", "quiet", "bound"]

GRACE_SECONDS: Final = 0.5  # after the last owed answer, for the counts that follow it
SILENCE_SECONDS: Final = 1.0  # nothing arrived for this long: nothing is on its way
_QUIET_MIN: Final = 1.0
_QUIET_FACTOR: Final = 1.5


def quiet_window(slowest_answer: float, bound: float) -> float:
    """How long after the sending stopped what is owed may count as never coming:
    half as long again as the slowest answer of the run, at least a second, at
    most the bound."""
    return min(bound, max(_QUIET_MIN, _QUIET_FACTOR * slowest_answer))


@dataclass(slots=True)
class Settling:
    started: float
    bound: float
    quiet: float
    _frames: int = -1
    _last_arrival: float = 0.0
    _owed_since: float | None = None  # when nothing was owed any more

    def step(self, now: float, frames: int, owed: int, pending: int) -> Outcome | None:
        """The outcome once settling is over, or None to keep waiting."""
        if frames != self._frames:
            self._frames = frames
            self._last_arrival = now
        if owed == 0 and pending == 0:
            if self._owed_since is None:
                self._owed_since = now
            if now - max(self._owed_since, self._last_arrival) >= GRACE_SECONDS:
                return "settled"
        else:
            self._owed_since = None
        silent = now - self._last_arrival >= SILENCE_SECONDS
        if silent and pending == 0 and now - self.started >= self.quiet:
            return "quiet"
        if now - self.started >= self.bound:
            # Requests still in time in a silent process are not coming either.
            return "quiet" if silent else "bound"
        return None
