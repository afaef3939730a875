"""Message dates: ISO 8601 UTC with milliseconds, ``2025-03-01T13:51:53.285Z``."""

from __future__ import annotations

import time

__all__ = ["format_message_date"]

_cached_second = -1
_cached_prefix = ""


def format_message_date(epoch_seconds: float) -> str:
    """The wire form of a Unix time; the per-second prefix is cached because a
    busy server stamps thousands of messages within each second."""
    global _cached_second, _cached_prefix  # noqa: PLW0603 - a one-entry cache
    whole = int(epoch_seconds)
    if whole != _cached_second:
        _cached_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _cached_second = whole
    millis = int((epoch_seconds - whole) * 1000)
    return f"{_cached_prefix}.{millis:03d}Z"
