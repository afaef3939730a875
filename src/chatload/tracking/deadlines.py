"""Deadlines in a heap: a tick costs what is due, not what exists.

A generator process holds thousands of connections and only a few of them wait
for anything at a given moment. Each connection's tracker says when it next has
something to time out (:meth:`ConnectionState.due
<chatload.tracking.state.ConnectionState.due>`); the process keeps those moments
here and, at each tick, visits only the connections whose moment has come.

Entries are never removed early (as asyncio does with cancelled timers): an
item scheduled again for an earlier moment leaves its later entry behind, and
that entry visits the item once more for nothing. An item must not mind being
visited early.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Generic, TypeVar

__all__ = ["Deadlines"]

T = TypeVar("T")


class Deadlines(Generic[T]):
    __slots__ = ("_heap", "_order")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._order = itertools.count()  # ties in time go first come, first served

    def schedule(self, when: float, item: T) -> None:
        """Visit ``item`` once ``when`` (monotonic seconds) has come."""
        heapq.heappush(self._heap, (when, next(self._order), item))

    def pop_due(self, now: float, limit: int | None = None) -> list[T]:
        """The items whose moment is ``now`` or earlier, earliest first, each once,
        at most ``limit`` entries (the rest stay for the next call)."""
        heap, due, seen = self._heap, [], set()
        taken = 0
        while heap and heap[0][0] <= now and (limit is None or taken < limit):
            item = heapq.heappop(heap)[2]
            taken += 1
            if id(item) not in seen:
                seen.add(id(item))
                due.append(item)
        return due

    def next_time(self) -> float:
        """The earliest moment scheduled (infinity when nothing is)."""
        return self._heap[0][0] if self._heap else math.inf

    def __len__(self) -> int:
        return len(self._heap)
