"""The overload test modes: slow on purpose, never wrong."""

from __future__ import annotations

import asyncio
import time

import pytest

from chatload.errors import ConfigError
from chatload.server.app import ServerConfig
from chatload.server.faults import DelayLine
from chatload.server.overload import CapacityCap, Leak


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


def test_the_creep_delays_each_frame_more_the_later_it_is_sent() -> None:
    async def run() -> list[float]:
        line = DelayLine(0.0, asyncio.get_running_loop(), creep=0.5)  # +0.5 s per second
        delays: list[float] = []
        for pause in (0.0, 0.2, 0.2):
            await asyncio.sleep(pause)
            sent = time.perf_counter()
            done = asyncio.Event()
            line.put(
                lambda sent=sent, done=done: (delays.append(time.perf_counter() - sent), done.set())
            )
            await done.wait()
        return delays

    first, second, third = asyncio.run(run())
    assert first < 0.02
    assert second == pytest.approx(first + 0.5 * (0.2 + first), abs=0.03)
    assert third > second + 0.08


def test_the_leak_holds_its_rate_of_memory() -> None:
    async def run() -> int:
        leak = Leak(1 << 20)
        task = asyncio.create_task(leak.run())
        await asyncio.sleep(0.55)
        task.cancel()
        return leak.size

    assert asyncio.run(run()) == pytest.approx(0.5 * (1 << 20), rel=0.25)


@pytest.mark.parametrize("option", ["test_creep_ms_per_min", "test_leak_kib_per_s"])
def test_degradation_modes_are_checked(option: str) -> None:
    with pytest.raises(ConfigError, match="cannot be negative"):
        ServerConfig(db=None, **{option: -1})  # type: ignore[arg-type]


def test_the_delay_line_tells_of_each_frame_it_let_go_late() -> None:
    async def run() -> list[float]:
        late: list[float] = []
        line = DelayLine(0.02, asyncio.get_running_loop(), on_late=lambda _, s: late.append(s))
        released = asyncio.Event()
        line.put(released.set)
        await released.wait()  # on time: the loop was free
        released.clear()
        line.put(released.set)
        time.sleep(0.06)  # a stall of the server past the frame's due time
        await released.wait()
        return late

    late = asyncio.run(run())
    # The stalled frame is told, by its lateness (the first may be too, if this
    # machine's loop woke a millisecond late: every one told is at least that late).
    assert late and 0.035 <= late[-1] <= 0.3 and min(late) >= DelayLine.LATE_S, late
