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


def test_a_big_level_ramps_within_10_s_and_never_below_the_spawn_rate() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_LEVELS], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == [[10, 20.0], [5000, 500.0], [5000, 1000.0]]


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
    assert json.loads(done.stdout) == [[400, 40.0], [800, 40.0], [200, 60.0], 600]
