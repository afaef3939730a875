"""Load stages as data (``--shape NAME --stages JSON``), with no Locust import.

- ``StagesShape``: ``{"stages": [{"duration": 60, "users": 100, "spawn_rate": 20}, ...]}``
  (or the bare list on the command line), each stage held for its duration in
  seconds (spikes, reconnect storms, anything). A config file needs the object form:
  Locust's config parser reads a value that starts with ``[`` as a list;
- ``StepShape``: ``{"start": 50, "step": 50, "steps": 8, "hold": 60, "spawn_rate": 25}``,
  users grow by ``step`` and each level is held for ``hold`` seconds (capacity runs;
  the report finds the steps again in the exports).

The shape classes that run them are in :mod:`chatload.loadgen.wiring.shapes`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatload.errors import ConfigError

__all__ = ["Stage", "parse_stages", "peak_users", "stage_at"]


@dataclass(frozen=True, slots=True)
class Stage:
    duration: float
    users: int
    spawn_rate: float


def _stage(item: Any, index: int) -> Stage:
    if not isinstance(item, dict):
        raise ConfigError(f"--stages: stage {index} must be an object")
    try:
        stage = Stage(
            float(item["duration"]),
            int(item["users"]),
            float(item.get("spawn_rate", max(1, int(item["users"])))),
        )
    except (KeyError, TypeError, ValueError):
        raise ConfigError(
            f"--stages: stage {index} needs duration (s) and users, and may have spawn_rate"
        ) from None
    if stage.duration <= 0 or stage.users < 0 or stage.spawn_rate <= 0:
        raise ConfigError(f"--stages: stage {index} needs duration > 0, users >= 0, spawn_rate > 0")
    return stage


def parse_stages(shape: str, text: str) -> list[Stage]:
    """The stages of ``shape`` from ``--stages``; a :class:`ConfigError` says what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--stages is not JSON ({exc.msg} at character {exc.pos})") from None
    if shape == "StepShape":
        if not isinstance(data, dict):
            raise ConfigError(
                '--stages of StepShape is {"start", "step", "steps", "hold", "spawn_rate"}'
            )
        try:
            start, step, steps = int(data["start"]), int(data["step"]), int(data["steps"])
            hold, rate = float(data["hold"]), float(data.get("spawn_rate", max(1, step)))
        except (KeyError, TypeError, ValueError):
            raise ConfigError(
                "--stages of StepShape needs start, step, steps and hold (and may have spawn_rate)"
            ) from None
        return [
            _stage({"duration": hold, "users": start + n * step, "spawn_rate": rate}, n)
            for n in range(steps)
        ]
    if isinstance(data, dict) and set(data) == {"stages"}:
        data = data["stages"]
    if not isinstance(data, list) or not data:
        raise ConfigError(
            '--stages of StagesShape is {"stages": [stage, ...]} or a non-empty list of stages'
        )
    return [_stage(item, index) for index, item in enumerate(data)]


def stage_at(stages: Sequence[Stage], elapsed: float) -> tuple[int, float] | None:
    """(users, spawn rate) ``elapsed`` seconds into the run; None once the stages are over."""
    for stage in stages:
        if elapsed < stage.duration:
            return stage.users, stage.spawn_rate
        elapsed -= stage.duration
    return None


def peak_users(headless: bool, num_users: int | None, stages: Sequence[Stage]) -> int | None:
    """The most users a run will have: its largest stage, or ``-u``; None in the web
    UI, where it is not known in advance."""
    if not headless:
        return None
    if stages:
        return max(stage.users for stage in stages)
    return num_users or None
