"""The plots' choices that a reader relies on."""

from __future__ import annotations

import pytest

from chatload.analysis.plots import _bin_seconds, _duration


@pytest.mark.parametrize(
    ("length", "interval", "bin_seconds", "label"),
    [
        (60, 5, 5, "5 s"),  # a short run: one bar per interval
        (86_400, 1, 600, "10 min"),  # a day at one-second intervals: 144 bars
        (14_400, 30, 120, "2 min"),
        (3_600, 7, 21, "21 s"),  # whole intervals even when no round bin fits
    ],
)
def test_failure_bins_are_round_whole_intervals_and_few(
    length: float, interval: float, bin_seconds: float, label: str
) -> None:
    chosen = _bin_seconds(length, interval)
    assert (chosen, _duration(chosen)) == (bin_seconds, label)
    assert chosen % interval == 0 and length / chosen <= 200
