"""Deliberate faults and delays, for testing the load tool's checks. Off by default.

``chatload serve --test-fault KIND=RATE`` (repeatable) makes the reference server
break one guarantee now and then, so a test can show chatload names the breach:

- ``drop``: a message's ``chat_updates`` is not sent to the interlocutor;
- ``duplicate``: it is sent to the interlocutor twice;
- ``reorder``: it is held back and sent after the chat's next message;
- ``miscount``: in that share of chats (chosen by id), every ``myUnreadCount``
  is one too many;
- ``history-skip``: a history page of 3 messages or more misses its middle one;
- ``foreign-chat``: ``load_history`` of a chat the user is not in is served.

``--test-delay-ms D`` delays every frame to the users whose id is at least
``--test-delay-from-user``, by D milliseconds, to check that measured latencies
move by D. The delay line is a thread that sleeps precisely (asyncio and uvloop
timers only resolve milliseconds).
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from chatload.errors import ConfigError

__all__ = ["FAULT_KINDS", "DelayLine", "Faults", "parse_faults"]

FAULT_KINDS: Final = ("drop", "duplicate", "reorder", "miscount", "history-skip", "foreign-chat")


class _Peer(Protocol):
    def send(self, frame: bytes) -> None: ...


def parse_faults(specs: list[str]) -> dict[str, float]:
    """``["drop=0.05", ...]`` as ``{"drop": 0.05}``; a :class:`ConfigError` says what is wrong."""
    rates: dict[str, float] = {}
    for spec in specs:
        kind, _, rate = spec.partition("=")
        if kind not in FAULT_KINDS:
            raise ConfigError(
                f"--test-fault {spec!r}: the kind must be one of {', '.join(FAULT_KINDS)}"
            )
        try:
            value = float(rate) if rate else 1.0
        except ValueError:
            raise ConfigError(f"--test-fault {spec!r}: the rate must be a number") from None
        if not 0 < value <= 1:
            raise ConfigError(f"--test-fault {spec!r}: the rate must be within (0, 1]")
        rates[kind] = value
    return rates


@dataclass
class Faults:
    rates: dict[str, float]
    seed: int = 1
    rng: random.Random = field(init=False)
    _held: dict[tuple[int, str], bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _happens(self, kind: str) -> bool:
        rate = self.rates.get(kind)
        return rate is not None and self.rng.random() < rate

    def deliver(self, peer: _Peer, frame: bytes, chat_id: str) -> None:
        """Send a message's ``chat_updates`` to an interlocutor's connection, or not quite."""
        held = self._held.pop((id(peer), chat_id), None)
        if held is not None:
            peer.send(frame)
            peer.send(held)
        elif self._happens("drop"):
            return
        elif self._happens("reorder"):
            self._held[(id(peer), chat_id)] = frame
        else:
            peer.send(frame)
            if self._happens("duplicate"):
                peer.send(frame)

    def miscounts(self, chat_id: str) -> bool:
        rate = self.rates.get("miscount")
        return rate is not None and zlib.crc32(chat_id.encode()) % 1000 < rate * 1000

    def skip_in_history(self, page: list[Any]) -> list[Any]:
        if len(page) >= 3 and self._happens("history-skip"):
            middle = len(page) // 2
            return page[:middle] + page[middle + 1 :]
        return page

    def serves_foreign_chat(self) -> bool:
        return self._happens("foreign-chat")


class DelayLine:
    """Runs callbacks on the event loop ``delay`` seconds after they were queued,
    in queue order, to within about 0.1 ms."""

    def __init__(self, delay: float, call_soon_threadsafe: Callable[..., Any]) -> None:
        self.delay = delay
        self._call = call_soon_threadsafe
        self._queue: deque[tuple[float, Callable[[], None]]] = deque()
        self._ready = threading.Condition()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="chatload-delay", daemon=True)
        self._thread.start()

    def put(self, callback: Callable[[], None]) -> None:
        with self._ready:
            self._queue.append((time.perf_counter() + self.delay, callback))
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while self._running and not self._queue:
                    self._ready.wait()
                if not self._running:
                    return
                due = self._queue[0][0]
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            now = time.perf_counter()
            batch: list[Callable[[], None]] = []
            with self._ready:
                while self._queue and self._queue[0][0] <= now:
                    batch.append(self._queue.popleft()[1])
            if batch:
                self._call(_run_all, batch)

    def close(self) -> None:
        with self._ready:
            self._running = False
            self._ready.notify()
        self._thread.join(2)


def _run_all(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        callback()
