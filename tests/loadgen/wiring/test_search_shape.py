"""The search shape's ramps and drains, in a child process (the shape imports Locust)."""

from __future__ import annotations

import json
import subprocess
import sys

_FIRST_LEVELS = """
import json
from chatload.loadgen.engine.options import ChatOptions
from chatload.loadgen.wiring.search_shape import SearchShape

from chatload.records.pipeline import IntervalPipeline

ticks = []
for start, asked in ((10, 20.0), (5000, 20.0), (5000, 1000.0)):
    options = ChatOptions(search_start_users=start, search_max_users=20000)
    pipeline = IntervalPipeline(None, processes=lambda: 1)
    ticks.append(SearchShape(options, pipeline, [], 20000, spawn_rate=asked).tick())
print(json.dumps(ticks))
"""


def test_a_level_ramps_as_fast_as_a_generator_process_stays_unsaturated() -> None:
    # 100 connections a second a process (a third of a core), or the spawn rate asked
    # when faster; never below it.
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_LEVELS], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == [[10, 100.0], [5000, 100.0], [5000, 1000.0]]


_AFTER_A_FAILING_LEVEL = """
import json
from chatload.loadgen.engine.options import ChatOptions
from chatload.loadgen.wiring.search_shape import SearchShape
from chatload.search import LevelResult

from chatload.records.pipeline import IntervalPipeline

pipeline = IntervalPipeline(None, processes=lambda: 1)
shape = SearchShape(ChatOptions(search_start_users=400), pipeline, [], 2000, spawn_rate=20.0)
steps = [shape.tick()]
steps.append(shape._judged(LevelResult(400, 30, 160.0, {"send_ack p99 < 1s": (True, "9 ms")})))
steps.append(shape._judged(LevelResult(800, 30, 90.0, {"send_ack p99 < 1s": (False, "4 s")})))
steps.append(shape._after_drain)
print(json.dumps(steps))
"""


def test_after_a_failing_level_half_the_last_holding_one_drains_the_backlog() -> None:
    # 800 failed: its backlog would spill into the next level (600) if the search
    # went there at once; it waits at 200 (half of 400, which held) first.
    done = subprocess.run(
        [sys.executable, "-c", _AFTER_A_FAILING_LEVEL], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == [[400, 100.0], [800, 100.0], [200, 100.0], 600]


_EXIT_CODES = """
import json, types
from chatload.loadgen.engine.options import ChatOptions
from chatload.loadgen.wiring.search_shape import SearchShape, write_outcome
from chatload.records.pipeline import IntervalPipeline
from chatload.search import LevelResult

SLO = "send_ack p99 < 1s"

def level(users, holds, breaches=0):
    return LevelResult(users, 30, users / 2, {SLO: (holds, "x")}, breaches=breaches)

def code(levels, *, at_least=0, finish=True, before=None):
    shape = SearchShape(ChatOptions(), IntervalPipeline(None, processes=lambda: 1), [], 2000,
                        spawn_rate=20.0)
    for result in levels:
        shape.search.next_users()
        shape.search.record(result)
    if finish:
        while (users := shape.search.next_users()) is not None:
            shape.search.record(level(users, users <= 100))
    environment = types.SimpleNamespace(process_exit_code=before, runner=None)
    outcome = write_outcome(environment, shape, None, at_least)
    return [outcome.limited_by, environment.process_exit_code]

print(json.dumps({
    "completed, its failing levels timed out": code([level(10, True)]),
    "completed below --capacity-at-least": code([level(10, True)], at_least=500),
    "a breach": code([level(10, True), level(20, True, breaches=2)]),
    "cut short": code([level(10, True), level(20, True)], finish=False),
    "cut short below --capacity-at-least": code([level(10, True)], at_least=50, finish=False),
    "cut short, --capacity-at-least met": code(
        [level(10, True), level(20, True)], at_least=20, finish=False
    ),
    "could not go on": code([level(10, True)], before=2),
}))
"""


def test_the_searchs_exit_codes() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _EXIT_CODES], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == {
        "completed, its failing levels timed out": ["server", 0],
        "completed below --capacity-at-least": ["server", 1],
        "a breach": ["breach", 1],
        "cut short": ["time", 0],
        "cut short below --capacity-at-least": ["time", 1],
        "cut short, --capacity-at-least met": ["time", 0],
        "could not go on": ["server", 2],
    }
