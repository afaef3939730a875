# SPDX-License-Identifier: MIT
"""Ends Locust's CSV writer before Locust closes the CSV files.

Locust (2.47) closes its CSV files at shutdown while the greenlet that rewrites
them every second is still alive. On Python 3.13 gevent's ``threading._shutdown``
yields to the hub once more after that, and when the writer's second is up by
then it writes to a closed file: ``ValueError: I/O operation on closed file``, a
traceback and a CRITICAL line at the end of a clean run. Locust fires ``quit``
just before it closes the files; ending the writer there ends the race, and the
files keep what the writer last wrote, as they do on Python 3.11.

The kill is scheduled, not waited for: ``quit`` listeners must not yield. A yield
there lets the main greenlet, whose wait on the runner has just ended, run a second
``shutdown()`` beside a SIGTERM handler's. gevent runs scheduled callbacks before
it looks at timers again, so the writer is gone before its next second is due.
"""

from __future__ import annotations

import gc
from typing import Any

import gevent
from locust.stats import StatsCSVFileWriter

__all__ = ["stop_csv_writers"]


def stop_csv_writers(**_: Any) -> int:
    """Schedule the end of every greenlet running a ``StatsCSVFileWriter``; return how many."""
    # Locust keeps no reference to the greenlet, so it is found among the live objects.
    # Frozen objects are out of gc.get_objects()' sight: the process is ending anyway.
    gc.unfreeze()
    writers = [
        candidate
        for candidate in gc.get_objects()
        if isinstance(candidate, gevent.Greenlet)
        and isinstance(
            getattr(candidate.__dict__.get("_run"), "__self__", None), StatsCSVFileWriter
        )
    ]
    for writer in writers:
        writer.kill(block=False)
    return len(writers)
