"""Reconnect delays: exponential backoff with full jitter.

Full jitter (a uniform draw between 0 and the exponential bound) spreads the
reconnects of thousands of users dropped at once, instead of bringing them back
in synchronized waves.
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Exponential backoff with full jitter: 0.5 s, 1 s, 2 s ... up to 30 s."""

    __slots__ = ("base", "cap", "failures", "next_attempt", "rng")

    def __init__(
        self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
    ) -> None:
        self.base, self.cap = base, cap
        self.rng = rng or random.Random()
        self.failures = 0
        self.next_attempt = 0.0

    def failed(self, now: float) -> float:
        self.failures += 1
        delay = self.rng.uniform(0, min(self.cap, self.base * 2 ** (self.failures - 1)))
        self.next_attempt = now + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.next_attempt = 0.0
