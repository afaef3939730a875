"""Every scenario parses with Locust's own parser and chatload's checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.loadgen.support import LOCUSTFILE, ROOT

SCENARIOS = sorted((ROOT / "scenarios").glob("*.conf"))
EXPECTED = {
    "smoke",
    "steady",
    "step",
    "spike",
    "soak",
    "reconnect_storm",
    "history_heavy",
    "security",
    "connections",
    "capacity",
    "production",
    "nightly",
}

# Parsed in a child: importing the locustfile registers chatload's options with Locust.
_READ = """
import json, runpy, sys
runpy.run_path(sys.argv[1])
from locust.argument_parser import parse_options
from chatload.loadgen.engine.options import ChatOptions
from chatload.loadgen.wiring.shapes import parse_stages
from chatload.slo import parse_thresholds
parsed = parse_options(["-f", sys.argv[1], "--config", sys.argv[2]])
options = ChatOptions.from_parsed(parsed)
thresholds = parse_thresholds(options.slo)
stages = parse_stages(options.shape, options.stages) if options.shape not in ("", "search") else []
print(json.dumps({
    "headless": parsed.headless, "run_time": parsed.run_time, "users": parsed.num_users,
    "slo": [t.text for t in thresholds], "stages": len(stages), "shape": options.shape,
    "seconds": sum(stage.duration for stage in stages), "churn": options.churn_share,
    "probes": options.probes, "csv": parsed.csv_prefix,
    "traffic_model": options.traffic_model, "time_scale": options.time_scale,
}))
"""


def test_every_scenario_the_readme_promises_is_there() -> None:
    assert {path.stem for path in SCENARIOS} == EXPECTED
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in SCENARIOS:
        assert f"scenarios/{path.name}" in readme, path.name


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda path: path.stem)
def test_a_scenario_parses(scenario: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _READ, str(LOCUSTFILE), str(scenario)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    parsed = json.loads(done.stdout.strip().splitlines()[-1])
    assert parsed["headless"] and parsed["csv"] == f"results/{scenario.stem}", parsed
    assert parsed["slo"], "every scenario gates on SLOs"
    ends = parsed["run_time"] or parsed["stages"] or parsed["shape"] == "search"
    assert ends, "every scenario ends by itself"
    first = scenario.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(f"# {scenario.stem.replace('_', ' ')}:") or first.startswith(
        f"# {scenario.stem.replace('_', '-')}:"
    ), first
    if scenario.stem == "smoke":
        assert parsed["run_time"] <= 90
    if scenario.stem == "soak":
        assert parsed["run_time"] >= 3600 and parsed["churn"] > 0
        # whole days of the model, so its daily curve is no drift
        assert parsed["traffic_model"] == "default"
        assert (parsed["run_time"] * parsed["time_scale"]) % 86400 == 0
    if scenario.stem == "capacity":
        assert parsed["shape"] == "search" and not parsed["run_time"]
    if scenario.stem == "step":
        assert parsed["shape"] == "StepShape" and parsed["stages"] >= 4
    if scenario.stem == "security":
        assert parsed["probes"] > 0
    if scenario.stem == "production":
        assert (
            parsed["traffic_model"] == "default"
            and parsed["run_time"] * parsed["time_scale"] == 86400
        )
