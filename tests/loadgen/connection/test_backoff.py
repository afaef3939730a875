from __future__ import annotations

import random

from chatload.loadgen.connection.backoff import Backoff


def test_delays_grow_exponentially_with_full_jitter_up_to_the_cap() -> None:
    backoff = Backoff(0.5, 4.0, random.Random(1))
    bounds = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    for bound in bounds:
        delay = backoff.failed(100.0)
        assert 0 <= delay <= bound
        assert backoff.next_attempt == 100.0 + delay
    draws = [Backoff(0.5, 4.0, random.Random(seed)).failed(0) for seed in range(200)]
    assert min(draws) < 0.05 and max(draws) > 0.45, "delays spread over the whole range"


def test_success_resets() -> None:
    backoff = Backoff(0.5, 30.0, random.Random(2))
    for _ in range(6):
        backoff.failed(0)
    backoff.succeeded()
    assert (backoff.failures, backoff.next_attempt) == (0, 0.0)
    assert backoff.failed(0) <= 0.5
