"""Locust's CSV writer must not outlive the files Locust closes at shutdown."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.loadgen.support import LOCUSTFILE, headless, read_stats, run_locust

SLOW_QUIT = Path(__file__).with_name("slow_quit_locustfile.py")


@pytest.mark.slow
def test_a_shutdown_that_yields_after_the_csv_files_close_stays_clean(tmp_path: Path) -> None:
    result = run_locust(
        "-f",
        f"{LOCUSTFILE},{SLOW_QUIT}",
        *headless(2, "3s"),
        "--csv",
        str(tmp_path / "run"),
        "--only-summary",
    )
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_stats(tmp_path / "run")["connect"]["Request Count"] != "0"
