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
``shutdown()`` beside a SIGTERM handler's. The scheduled kill was seen to lose the
race now and then (a model run in CI), so Locust's ``close_files`` also swaps each
closed file for one in memory: a writer that still wakes writes nowhere.
"""

from __future__ import annotations

import csv
import gc
import io
from typing import Any

import gevent
import locust
from locust.env import Environment
from locust.stats import CSV_STATS_INTERVAL_SEC, StatsCSVFileWriter

from chatload.errors import ConfigError

__all__ = ["check_csv_writer", "let_locust_write_its_csv", "stop_csv_writers"]

# What Locust's main spawns to rewrite the CSV files, and what closes them.
_WRITER_METHODS = ("stats_writer", "close_files")


def check_csv_writer() -> None:
    """The writer is found by the method its greenlet runs: if Locust renamed it,
    stop with one line naming the Locust version rather than race at every exit."""
    missing = [
        name for name in _WRITER_METHODS if not callable(getattr(StatsCSVFileWriter, name, None))
    ]
    if missing:
        raise ConfigError(
            f"Locust {locust.__version__}'s CSV writer has no {', '.join(missing)}, which "
            "chatload ends at exit: install a Locust version pyproject.toml allows"
        )


_FILES = ("requests", "stats_history", "failures", "exceptions")


def _close_then_write_nowhere(writer: StatsCSVFileWriter) -> None:
    """Locust's close, then each closed file's handle and csv writer swapped for ones
    in memory: a writer greenlet that still wakes after the close (the kill above is
    scheduled, and seen to lose the race about once in ten model runs in CI) rewrites
    nothing and raises nothing."""
    _LOCUST_CLOSE_FILES(writer)
    for name in _FILES:
        if hasattr(writer, f"{name}_csv_filehandle"):
            nowhere = io.StringIO()
            setattr(writer, f"{name}_csv_filehandle", nowhere)
            setattr(writer, f"{name}_csv_writer", csv.writer(nowhere))


_LOCUST_CLOSE_FILES = StatsCSVFileWriter.close_files
StatsCSVFileWriter.close_files = _close_then_write_nowhere  # type: ignore[method-assign,assignment]


def stop_csv_writers(**_: Any) -> int:
    """Schedule the end of every greenlet running a ``StatsCSVFileWriter``; return how many."""
    # Locust keeps no reference to the greenlet, so it is found among the live objects.
    # Frozen objects are out of gc.get_objects()' sight: the process is ending anyway.
    gc.unfreeze()
    writers = [
        candidate
        for candidate in gc.get_objects()
        if isinstance(candidate, gevent.Greenlet)
        and getattr(candidate.__dict__.get("_run"), "__name__", None) == _WRITER_METHODS[0]
        and isinstance(
            getattr(candidate.__dict__.get("_run"), "__self__", None), StatsCSVFileWriter
        )
    ]
    for writer in writers:
        writer.kill(block=False)
    return len(writers)


def let_locust_write_its_csv(environment: Environment) -> None:
    """Locust rewrites PREFIX_stats.csv once a second; what is fired while the run
    stops would miss the last rewrite without one more second."""
    parsed = environment.parsed_options
    if parsed is not None and getattr(parsed, "csv_prefix", None):
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)
