"""The power table of docs/history.md is what the detector does."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from chatload.history.changes import change_points
from tests.history.noise import stepped

DOC = Path(__file__).parents[2] / "docs" / "history.md"
STEPS = (0.02, 0.05, 0.10, 0.20)
NOISE = (0.03, 0.10)


def power_table(histories: int = 200) -> str:
    """The share of ``histories`` with a step at run 120 of 200 found within a run."""
    lines = ["| step | CV 3 % | CV 10 % |", "|---|---|---|"]
    for step in STEPS:
        cells = []
        for cv in NOISE:
            rng = np.random.default_rng(int(step * 1000 + cv * 100))
            found = 0
            for _ in range(histories):
                values = stepped(rng, 200, {120: step}, cv=cv)
                found += any(abs(c.index - 120) <= 1 for c in change_points(values, log=True))
            cells.append(f"{found / histories:.0%}")
        lines.append(f"| +{step:.0%} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def test_the_docs_power_table_is_measured() -> None:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"<!-- power table: [^>]+ -->\n(.*?)<!-- end power table -->", text, re.S)
    assert match is not None, "docs/history.md lost its power table"
    assert match[1] == power_table(), "docs/history.md's power table is stale: " + power_table()
