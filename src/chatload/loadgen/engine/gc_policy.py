"""How a generator process keeps Python's cyclic garbage collector out of its timings.

A full collection walks every object the collector tracks. The chat state of
20,000 connections is millions of objects, and a full collection of them holds
the process for half a second: every user's timing in flight then measures the
generator, not the server (measured: ``chatload bench-scale``, README). So:

- while a run is on, the automatic full collections are off: the young
  generations are collected as usual, and what is garbage dies young (a
  connection storm makes none that lives longer, see below);
- once a spawn is over (no new connection for a second), one full collection,
  then ``gc.freeze()``: everything alive moves out of the collector's sight;
- from then on, every ``REFREEZE_SECONDS`` a young collection, then what came
  since is frozen too, so no collection ever walks more than a fraction of a
  second of the run's objects.

Frozen objects are still freed by reference counting. What the policy costs: a
reference cycle among objects that were frozen alive and died later is freed
only when the run stops (``stop`` unfreezes them). So nothing a generator keeps
for long may form a cycle: chatload's chat state forms none, hdrh's histograms
are made acyclic (``records.hdr``), websocket-client's handshake object is
emptied (``loadgen.connection.transport``); a steady run with churn leaves no cyclic
garbage behind but a few ctypes array types a second, which die young and are
collected before each freeze.
"""

from __future__ import annotations

import gc
import time
from typing import Final

import gevent

__all__ = ["GcPolicy"]

REFREEZE_SECONDS: Final = 0.5
_NO_FULL_COLLECTIONS: Final = 1 << 30  # the third threshold while a run is on


class GcPolicy:
    def __init__(self) -> None:
        self._thresholds = gc.get_threshold()
        self._refreezer: gevent.Greenlet | None = None
        self.frozen_seconds = 0.0  # what the last full collection before a freeze took

    def start(self) -> None:
        """Before any user: what the process holds already (Locust, the libraries)
        is frozen too, so that no later collection walks it."""
        gc.collect()
        gc.freeze()
        first, young, _ = self._thresholds
        gc.set_threshold(first, young, _NO_FULL_COLLECTIONS)

    def freeze_all(self) -> None:
        """A spawn is over: collect everything once, freeze it, keep freezing."""
        started = time.perf_counter()
        gc.collect()
        gc.freeze()
        self.frozen_seconds = time.perf_counter() - started
        if self._refreezer is None:
            self._refreezer = gevent.spawn(self._refreeze)

    @staticmethod
    def _refreeze() -> None:
        while True:
            gevent.sleep(REFREEZE_SECONDS)
            gc.collect(0)  # what died young is not frozen with the living
            gc.freeze()

    def stop(self) -> None:
        if self._refreezer is not None:
            self._refreezer.kill(block=False)
            self._refreezer = None
        gc.unfreeze()
        gc.set_threshold(*self._thresholds)
