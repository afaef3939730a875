"""One reader for every connection of a process.

A greenlet blocked in ``recv`` per connection costs about 8.6 KiB of memory
each (its saved C stack and its page of Python frames), which at tens of
thousands of mostly idle connections is most of what a chat user costs. Here
gevent's hub watches each socket instead (an io watcher: a few hundred bytes),
and when one is readable, queues its connection for one greenlet that reads
every ready connection in turn.

That greenlet yields to the rest of the process after about a millisecond of
work, so a burst of frames on many connections never holds the event loop (and
with it every user's timings) for longer than that.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Final, Protocol

import gevent
from gevent.event import Event

from chatload.loadgen.background import BackgroundJob

__all__ = ["Readable", "Receiver", "cooperatively"]

SLICE_SECONDS: Final = 0.001  # work between two yields to the event loop
_READ: Final = 1


class Readable(Protocol):
    """A connection the receiver reads for: ``on_readable`` takes what arrived,
    without waiting."""

    queued: bool

    def on_readable(self) -> None: ...


class Receiver(BackgroundJob):
    def __init__(self) -> None:
        self._loop = gevent.get_hub().loop
        self._ready: deque[Readable] = deque()
        self._wake = Event()
        self.visits = 0

    def stop(self) -> None:
        super().stop()
        self._ready.clear()

    def watch(self, fileno: int, connection: Readable) -> Any:
        """Read for ``connection`` whenever ``fileno`` is readable; the watcher
        returned is given back to :meth:`unwatch`."""
        watcher = self._loop.io(fileno, _READ)
        watcher.start(self._readable, connection)
        return watcher

    @staticmethod
    def unwatch(watcher: Any) -> None:
        watcher.stop()
        watcher.close()

    def _readable(self, connection: Readable) -> None:
        # In the hub: only queue. The watcher fires at every turn of the loop while
        # the socket stays readable; ``queued`` keeps one entry per connection.
        if not connection.queued:
            connection.queued = True
            self._ready.append(connection)
            self._wake.set()

    def _run(self) -> None:
        ready, wake = self._ready, self._wake
        clock = time.perf_counter
        while True:
            wake.wait()
            wake.clear()
            started = clock()
            while ready:
                connection = ready.popleft()
                connection.queued = False
                connection.on_readable()
                self.visits += 1
                if clock() - started > SLICE_SECONDS:
                    gevent.sleep(0)
                    started = clock()


def cooperatively(items: Any, seconds: float = SLICE_SECONDS) -> Any:
    """Iterate ``items``, yielding to the event loop after each ``seconds`` of the
    caller's work: a pass over every connection must not stall the process."""
    clock = time.perf_counter
    started = clock()
    for item in items:
        yield item
        if clock() - started > seconds:
            gevent.sleep(0)
            started = clock()
