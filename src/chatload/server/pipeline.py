"""Group commit: writes accepted on the event loop become durable in batches.

While one batch commits on the commit thread, the loop keeps accepting writes
into the next one, so throughput is set by the size of batches, not by one
fsync per message. A batch is applied (state, fan-out) on the loop, in
submission order, only after its transaction commits.

A failed commit leaves reserved message ids unused, and ids must stay
contiguous, so the pipeline stops: every write in flight is failed back to its
sender and ``on_fatal`` tells the server to shut down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Generic, TypeVar

__all__ = ["CommitPipeline"]

W = TypeVar("W")


class CommitPipeline(Generic[W]):
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        commit: Callable[[list[W]], None],
        apply: Callable[[list[W]], None],
        fail: Callable[[list[W], BaseException], None],
        on_fatal: Callable[[BaseException], None],
        max_batch: int = 4096,
    ) -> None:
        self._loop = loop
        self._commit = commit
        self._apply = apply
        self._fail = fail
        self._on_fatal = on_fatal
        self._max_batch = max_batch
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chatload-commit")
        self._pending: list[W] = []
        self._busy = False
        self._scheduled = False
        self._idle = asyncio.Event()
        self._idle.set()
        self.failure: BaseException | None = None
        self.batches = 0
        self.writes = 0
        self.commit_seconds = 0.0

    def submit(self, write: W) -> None:
        if self.failure is not None:
            self._fail([write], self.failure)
            return
        self._pending.append(write)
        self._idle.clear()
        if not (self._busy or self._scheduled):
            # Deferred to the end of this loop iteration, so that every frame
            # that arrived in it joins the batch.
            self._scheduled = True
            self._loop.call_soon(self._start)

    def _start(self) -> None:
        self._scheduled = False
        if self._busy or not self._pending:
            return
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        self._busy = True
        future = self._loop.run_in_executor(self._executor, self._timed_commit, batch)
        future.add_done_callback(partial(self._finished, batch))

    def _timed_commit(self, batch: list[W]) -> float:
        started = time.perf_counter()
        self._commit(batch)
        return time.perf_counter() - started

    def _finished(self, batch: list[W], future: asyncio.Future[float]) -> None:
        self._busy = False
        error = future.exception() if not future.cancelled() else asyncio.CancelledError()
        if error is not None:
            lost = batch + self._pending
            self._pending = []
            self.failure = error
            self._fail(lost, error)
            self._idle.set()
            self._on_fatal(error)
            return
        self.batches += 1
        self.writes += len(batch)
        self.commit_seconds += future.result()
        self._apply(batch)
        if self._pending:
            self._start()
        else:
            self._idle.set()

    async def drain(self) -> None:
        """Wait until every submitted write is committed and applied (or failed)."""
        await self._idle.wait()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
