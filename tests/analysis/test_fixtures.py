"""Kept runs, and what chatload makes of them, stay what they were.

- ``tests/fixtures/runs/<name>``: the files of a real smoke, step, search and
  drift run, and the tables of ``chatload report`` on them as the code before
  the interval pipeline wrote them (``report_tables.html``). The report of the
  same files must give the same tables.
- ``tests/fixtures/synthetic``: the CSVs a run writes from a fixed synthetic
  input (``analysis.synthetic``, the plan below). The run's own writers must
  write the same bytes. They are the old writers' bytes but for
  ``run_drift.csv``'s generator loop-lag rows: the drift now takes the lag as the
  health file holds it, to the microsecond, as a report reads it back.

A deliberate change to a table or a file: regenerate with the command in the
failure message and say why in the commit.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from chatload.analysis.report import write_report
from chatload.analysis.synthetic import SyntheticPlan, write_synthetic_run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PLAN = SyntheticPlan(
    samples=4000,
    seconds=120,
    interval=5,
    steps=(10, 20),
    knee_users=15,
    failure_ratio=0.02,
    breaches=2,
    saturated_share=0.2,
    seed=3,
)


def report_tables(html: str) -> str:
    """The tables, verdicts and notes of a report page; not when it was made."""
    html = re.sub(r"report made [^<]*", "report made X", html)
    parts = re.findall(
        r"<table>.*?</table>|<p class='verdict'>.*?</p>|<p class='note'>.*?</p>", html, re.S
    )
    return "\n".join(parts) + "\n"


@pytest.mark.parametrize("name", ["smoke", "step", "search", "drift"])
def test_a_kept_runs_report_gives_the_same_tables(name: str, tmp_path: Path) -> None:
    run = tmp_path / name
    shutil.copytree(FIXTURES / "runs" / name, run)
    page = write_report(run / "run", tmp_path / "report").read_text(encoding="utf-8")
    expected = (run / "report_tables.html").read_text(encoding="utf-8")
    assert report_tables(page) == expected, (
        f"the report of tests/fixtures/runs/{name} changed; if on purpose, write "
        "report_tables(page) to its report_tables.html"
    )


def test_a_fixed_input_writes_the_same_files(tmp_path: Path) -> None:
    write_synthetic_run(tmp_path / "run", PLAN)
    kept = sorted(path.name for path in (FIXTURES / "synthetic").iterdir())
    assert sorted(path.name for path in tmp_path.iterdir()) == kept
    for name in kept:
        written = (tmp_path / name).read_bytes()
        assert written == (FIXTURES / "synthetic" / name).read_bytes(), (
            f"{name} changed; if on purpose: write_synthetic_run(PREFIX, PLAN) into "
            "tests/fixtures/synthetic/run"
        )
