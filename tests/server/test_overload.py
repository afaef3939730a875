"""The overload test modes: slow on purpose, never wrong."""

from __future__ import annotations

import asyncio

import pytest

from chatload.errors import ConfigError
from chatload.server.app import ServerConfig
from chatload.server.overload import CapacityCap


def test_the_capacity_cap_passes_messages_at_its_rate_in_arrival_order() -> None:
    async def run() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        passed: list[tuple[str, float]] = []
        cap: CapacityCap[str] = CapacityCap(
            50.0,
            loop,
            lambda write: passed.append((write, loop.time())),
            costs=lambda write: write.startswith("m"),
        )
        started = loop.time()
        for write in ("m1", "r1", "m2", "m3", "r2", "m4", "m5"):
            cap.put(write)
        while len(passed) < 7:
            await asyncio.sleep(0.01)
        return [(write, at - started) for write, at in passed]

    passed = asyncio.run(run())
    assert [write for write, _ in passed] == ["m1", "r1", "m2", "m3", "r2", "m4", "m5"]
    times = dict(passed)
    # One message each 20 ms; a read goes with the message before it.
    assert times["m1"] < 0.01 and times["r1"] < 0.01
    assert times["m5"] == pytest.approx(0.08, abs=0.015)
    assert times["r2"] == pytest.approx(times["m3"], abs=0.002)


def test_flush_passes_everything_queued_at_once() -> None:
    async def run() -> list[str]:
        passed: list[str] = []
        cap: CapacityCap[str] = CapacityCap(
            1.0, asyncio.get_running_loop(), passed.append, costs=lambda _: True
        )
        for write in ("a", "b", "c"):
            cap.put(write)
        assert passed == ["a"] and len(cap) == 2
        cap.flush()
        return passed

    assert asyncio.run(run()) == ["a", "b", "c"]


def test_overload_modes_are_checked() -> None:
    with pytest.raises(ConfigError, match="cannot be negative"):
        ServerConfig(db=None, test_capacity=-1)  # type: ignore[arg-type]
