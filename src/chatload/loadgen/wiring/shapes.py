"""Load shapes whose stages are data: ``--shape NAME --stages JSON`` (see
:mod:`chatload.loadgen.wiring.stages` for the two formats).

A locustfile defines them; they run only when ``--shape`` names one, since Locust
would otherwise use the first shape it finds for every run.
"""

from __future__ import annotations

from typing import ClassVar

from locust import LoadTestShape
from locust.env import Environment

from chatload.errors import ConfigError
from chatload.loadgen.engine.options import ChatOptions
from chatload.loadgen.exits import is_headless
from chatload.loadgen.wiring.stages import Stage, parse_stages, peak_users, stage_at

__all__ = ["StagesShape", "StepShape", "choose_shape", "run_peak_users"]


def choose_shape(environment: Environment, options: ChatOptions) -> None:
    """Run the shape ``--shape`` names, with ``--stages``; none without it."""
    shapes = environment.available_shape_classes or {}
    if not options.shape or options.shape == "search":
        environment.shape_class = None  # the search shape is made once the target is known
        return
    shape = shapes.get(options.shape)
    if not isinstance(shape, StagesShape):
        known = ", ".join(sorted(shapes)) or "none"
        raise ConfigError(
            f"--shape {options.shape}: the locustfile's shapes are {known}, "
            "or search (the capacity search)"
        )
    shape.configure(parse_stages(options.shape, options.stages))
    environment.shape_class = shape


def run_peak_users(environment: Environment) -> int | None:
    """The most users this run will have (None for the web UI)."""
    parsed = environment.parsed_options
    shape = environment.shape_class
    stages = shape.stages if isinstance(shape, StagesShape) and shape.stages else []
    return peak_users(
        is_headless(environment),
        int(parsed.num_users or 0) if parsed is not None else None,
        stages,
    )


class StagesShape(LoadTestShape):
    # -u/-r/-t stay meaningful in the web UI when no shape is chosen.
    use_common_options: ClassVar[bool] = True
    stages: list[Stage] | None = None

    def configure(self, stages: list[Stage]) -> None:
        self.stages = stages

    def tick(self) -> tuple[int, float] | None:
        return stage_at(self.stages or (), self.get_run_time())


class StepShape(StagesShape):
    pass
