"""``chatload compare``: regressions fail CI, noise and improvements do not."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib.image
import pytest

from chatload.analysis.compare import ComparePolicy, compare_runs
from chatload.analysis.synthetic import SyntheticPlan, write_synthetic_run
from chatload.cli import main

BASE = SyntheticPlan(samples=100_000, seconds=300, interval=5, users=50, failure_ratio=0.001)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    plans = {
        "base": BASE,
        "rerun": dataclasses.replace(BASE, seed=2),  # the same build measured again
        "slower": dataclasses.replace(BASE, seed=3, slowdown=1.3),
        "faster": dataclasses.replace(BASE, seed=4, slowdown=0.7),
        "failing": dataclasses.replace(BASE, seed=5, failure_ratio=0.02),
        "breaking": dataclasses.replace(BASE, seed=6, breaches=2),
        "small": dataclasses.replace(BASE, seed=7, samples=400, slowdown=1.15),
    }
    return {name: write_synthetic_run(root / name / name, plan) for name, plan in plans.items()}


def _compare(
    runs: dict[str, Path], candidate: str, capsys: pytest.CaptureFixture[str], *options: str
) -> tuple[int, str]:
    code = main(["compare", str(runs["base"]), str(runs[candidate]), "--quiet", *options])
    return code, capsys.readouterr().out.strip().splitlines()[-1]


def test_the_same_build_measured_again_is_not_a_regression(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, verdict = _compare(runs, "rerun", capsys)
    assert (code, verdict.split(":")[0]) == (0, "NO REGRESSION"), verdict


def test_a_slower_build_fails_and_a_faster_one_passes(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, verdict = _compare(runs, "slower", capsys)
    assert code == 1 and verdict.startswith("REGRESSION: "), verdict
    assert "delivery p99 +" in verdict or "delivery p50 +" in verdict, verdict
    code, verdict = _compare(runs, "faster", capsys)
    assert (code, verdict.split(":")[0]) == (0, "NO REGRESSION"), verdict
    # The same slowdown within a wider tolerance.
    code, verdict = _compare(runs, "slower", capsys, "--tolerance", "50%")
    assert code == 0, verdict


def test_more_failures_or_breaches_are_regressions(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, verdict = _compare(runs, "failing", capsys)
    assert code == 1 and "failure_ratio" in verdict, verdict
    assert "p99" not in verdict and "p50" not in verdict, verdict
    code, verdict = _compare(runs, "breaking", capsys)
    assert code == 1 and "invariant breaches" in verdict, verdict


def test_a_change_too_small_to_tell_from_noise_is_not_a_regression(runs: dict[str, Path]) -> None:
    comparison = compare_runs(runs["base"], runs["small"], ComparePolicy(tolerance=0.05))
    # Worse by the tolerance but not significant, or too few samples to bound the
    # quantile at all (a p99 of 50 samples is their largest): neither is judged worse.
    noisy = [
        c
        for c in comparison.changes
        if c.note == "within noise" or c.note.startswith("not judged: too few samples")
    ]
    assert noisy, [(c.metric, c.statistic, c.note) for c in comparison.changes if c.judged]
    assert all(not c.regressed for c in noisy)


def test_the_table_and_the_pictures(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp"
    assert main(["compare", str(runs["base"]), str(runs["slower"]), "-o", str(out), "--quiet"]) == 1
    printed = capsys.readouterr().out
    assert "delivery" in printed and "p99" in printed and str(out / "compare.html") in printed
    html = (out / "compare.html").read_text(encoding="utf-8")
    assert "REGRESSION" in html
    for name in ("compare_percentiles.png", "compare_distributions.png"):
        assert f'src="{name}"' in html
        assert matplotlib.image.imread(out / name).shape[0] > 300


def test_bad_input_to_compare(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(runs["base"]), str(tmp_path / "none"), "--quiet"]) == 2
    assert "no run at" in capsys.readouterr().err
    assert main(["compare", str(runs["base"]), str(runs["rerun"]), "--percentiles", "p42"]) == 2
    assert "--percentiles: unknown p42" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compare", str(runs["base"]), str(runs["rerun"]), "--tolerance", "lots"])
    assert "expected a share like 10%" in capsys.readouterr().err
