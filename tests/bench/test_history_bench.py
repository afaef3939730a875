"""``chatload bench-history`` on a small store: it times, finds the planted steps, and
fails a missed target."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatload.cli import main


def test_the_analysis_is_timed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small = ["--runs", "300", "--series", "20", "--workdir", str(tmp_path)]
    assert main(["bench-history", *small]) == 0
    out = capsys.readouterr().out
    found = re.search(
        r"PASS: analyze 300 runs x 20 series: ([\d.]+) s cold .* ([\d.]+) s warm", out
    )
    assert found, out
    assert "2 change points, 2 planted" in out
    assert len(list((tmp_path / "store" / "runs").glob("*.json"))) == 300
    assert main(["bench-history", *small, "--max-seconds", "0.0001"]) == 1
    assert "FAIL: analyze 300 runs x 20 series" in capsys.readouterr().out
