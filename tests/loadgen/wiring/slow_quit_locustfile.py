"""Loaded beside locustfiles/chat.py by test_locust_csv: a shutdown long enough for
Locust's CSV writer to be due again, then one more turn of the event loop after
Locust has closed its files, as gevent takes at exit on Python 3.13."""

import atexit
import time

import gevent
from locust import events
from locust.stats import CSV_STATS_INTERVAL_SEC


@events.quit.add_listener
def work_at_quit_then_yield_at_exit(**_: object) -> None:
    deadline = time.perf_counter() + CSV_STATS_INTERVAL_SEC + 0.2
    while time.perf_counter() < deadline:  # busy: a sleep would let the writer run now
        pass
    atexit.register(gevent.sleep, 0.05)
