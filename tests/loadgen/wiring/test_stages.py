"""Load stages as data: parsed, followed in time, sized."""

from __future__ import annotations

import pytest

from chatload.errors import ConfigError
from chatload.loadgen.wiring.stages import Stage, parse_stages, peak_users, stage_at
from tests.loadgen.support import run_locust


def test_step_stages_grow_by_the_step() -> None:
    stages = parse_stages("StepShape", '{"start": 50, "step": 25, "steps": 3, "hold": 60}')
    assert stages == [Stage(60, 50, 25), Stage(60, 75, 25), Stage(60, 100, 25)]


def test_a_config_file_gives_the_list_inside_an_object() -> None:
    listed = '[{"duration": 10, "users": 5}]'
    assert (
        parse_stages("StagesShape", f'{{"stages": {listed}}}')
        == parse_stages("StagesShape", listed)
        == [Stage(10, 5, 5)]
    )


def test_stages_are_held_in_turn_then_the_run_ends() -> None:
    stages = parse_stages(
        "StagesShape",
        '[{"duration": 10, "users": 5, "spawn_rate": 5}, {"duration": 2, "users": 50}]',
    )
    ticks = [stage_at(stages, elapsed) for elapsed in (0, 9.9, 10, 11.9, 12)]
    assert ticks == [(5, 5.0), (5, 5.0), (50, 50.0), (50, 50.0), None]


@pytest.mark.parametrize(
    ("shape", "text", "says"),
    [
        ("StagesShape", "[{", "--stages is not JSON"),
        ("StagesShape", "[]", "a non-empty list of stages"),
        ("StagesShape", '{"stage": []}', '{"stages": [stage, ...]}'),
        ("StagesShape", '[{"users": 5}]', "stage 0 needs duration (s) and users"),
        ("StagesShape", '[{"duration": 5, "users": 1}, 7]', "stage 1 must be an object"),
        ("StagesShape", '[{"duration": 0, "users": 1}]', "needs duration > 0"),
        ("StepShape", "[]", '--stages of StepShape is {"start"'),
        ("StepShape", '{"start": 1, "step": 1}', "needs start, step, steps and hold"),
    ],
)
def test_bad_stages_say_what_is_wrong(shape: str, text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=r"^--stages") as caught:
        parse_stages(shape, text)
    assert says in str(caught.value)


def test_a_run_is_sized_to_its_largest_stage() -> None:
    steps = parse_stages("StepShape", '{"start": 50, "step": 50, "steps": 8, "hold": 60}')
    assert peak_users(True, None, steps) == 400
    assert peak_users(True, 30, []) == 30
    assert peak_users(False, 30, steps) is None  # the web UI: not known in advance


def test_an_unknown_shape_or_bad_stages_end_the_run_in_one_line() -> None:
    done = run_locust("--headless", "--shape", "Ramp", "--stages", "[]")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "--shape Ramp: the locustfile's shapes are StagesShape, StepShape" in done.stderr
    done = run_locust("--headless", "--shape", "StepShape", "--stages", '{"start": 1}')
    assert done.returncode == 2, done.stderr[-2000:]
    assert "--stages of StepShape needs start, step, steps and hold" in done.stderr
    assert "Traceback" not in done.stderr
