"""Argument types the ``chatload`` commands share: one line on a bad value."""

from __future__ import annotations

import argparse

__all__ = ["positive_int", "share", "user_counts"]


def share(text: str) -> float:
    """``10%`` or ``0.1``."""
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a share like 10% or 0.1, got {text!r}"
        ) from None


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def user_counts(text: str) -> list[int]:
    """``5000,10000,19000``."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected counts like 5000,10000, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected positive counts, got {text!r}")
    return counts
