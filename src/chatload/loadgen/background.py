"""A side job of a generator process: one greenlet, started and stopped with it."""

from __future__ import annotations

import gevent

__all__ = ["BackgroundJob"]


class BackgroundJob:
    """Runs ``_run`` in a greenlet of its own between ``start`` and ``stop``."""

    _greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _run(self) -> None:
        raise NotImplementedError
