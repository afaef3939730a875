"""A capacity search in the report and in ``chatload compare``."""

from __future__ import annotations

import json
import shutil
from html import escape
from pathlib import Path

import pytest

from chatload.analysis.report import write_report
from chatload.analysis.search_report import load_search, multipliers, search_section
from chatload.analysis.synthetic import SyntheticPlan, write_synthetic_run
from chatload.cli import main
from chatload.errors import ConfigError
from chatload.search import CapacitySearch, LevelResult
from tests.analysis.conftest import copy_run

SLO = "send_ack p99 < 250ms"


def _answer(capacity: int) -> dict[str, object]:
    search = CapacitySearch(start=10, max_users=10_000)
    while (users := search.next_users()) is not None:
        holds = users <= capacity
        rate = 2.0 * users / (1 + 0.01 * (users - 1) + 1e-5 * users * (users - 1))
        search.record(
            LevelResult(
                users,
                30.0,
                rate,
                {SLO: (holds, "80.000 ms" if holds else "912.000 ms")},
                server_cpu_percent=users / capacity * 70,
                server_rss_bytes=200e6,
            )
        )
    assert search.outcome is not None
    return search.outcome.to_json()


def test_the_report_section_shows_the_answer_the_levels_and_a_usl_fit(tmp_path: Path) -> None:
    (tmp_path / "run_capacity.json").write_text(json.dumps(_answer(137)))
    search = load_search(tmp_path / "run")
    assert search is not None
    html = "".join(search_section(search))
    assert f"Capacity: {search['users']:,} users" in html
    assert escape(f"{SLO} broke first (912.000 ms)") in html
    assert html.count("<tr>") == 1 + len(search["levels"])
    assert "USL fit over" in html and "sigma = 0.0100" in html


@pytest.mark.parametrize(
    "users",
    [
        (10, 20, 40, 80, 160, 320, 640, 1280, 960, 800),  # doubling: fit error 8.6 %
        (20, 80, 320, 1280, 800, 560, 680, 740),  # x4 growth: 9.1 %
        (10, 20, 40, 80, 160, 320, 640, 480, 400, 360, 380),  # 6.0 %
    ],
)
def test_levels_against_a_hard_cap_get_no_usl_prediction(
    tmp_path: Path, users: tuple[int, ...]
) -> None:
    # Throughput linear up to a cap of 150 messages/s, flat past it: a shape the USL
    # does not have (issue 26: a fit error of 35.8 % predicted 75 where 149 were seen).
    answer = _answer(300)
    template = answer["levels"][0]  # type: ignore[index]
    answer["levels"] = [
        {**template, "users": n, "messages_per_s": min(0.5 * n, 150.0)} for n in users
    ]
    (tmp_path / "run_capacity.json").write_text(json.dumps(answer))
    search = load_search(tmp_path / "run")
    assert search is not None
    html = "".join(search_section(search))
    assert "The levels do not follow the USL&#x27;s shape (fit error" in html
    assert "messages/s predicted" not in html


def test_a_malformed_answer_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "run_capacity.json").write_text('{"levels": 3}')
    with pytest.raises(ConfigError, match=r"run_capacity\.json: not a capacity search"):
        load_search(tmp_path / "run")
    assert load_search(tmp_path / "other") is None


def test_compare_calls_a_lower_capacity_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = SyntheticPlan(samples=20_000, seconds=120, interval=5, users=50)
    base = write_synthetic_run(tmp_path / "base" / "run", plan)
    runs = {}
    for name, capacity in (("same", 130), ("lower", 100)):
        shutil.copytree(tmp_path / "base", tmp_path / name)
        (tmp_path / name / "run_capacity.json").write_text(json.dumps(_answer(capacity)))
        runs[name] = tmp_path / name / "run"
    (tmp_path / "base" / "run_capacity.json").write_text(json.dumps(_answer(137)))
    code = main(["compare", str(base), str(runs["same"]), "--quiet"])
    verdict = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 0, verdict
    code = main(["compare", str(base), str(runs["lower"]), "--quiet"])
    verdict = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 1 and "capacity users" in verdict, verdict


PEAK = {"hour": 19, "people": 1000, "sessions_per_s": 0.138, "messages_per_s": 0.103}


def _model_answer(capacity: int) -> dict[str, object]:
    """A model search: 0.01x a slot, the model's 0.103 messages/s per 1x."""
    search = CapacitySearch(start=20, max_users=10_000)
    while (users := search.next_users()) is not None:
        holds = users <= capacity
        search.record(
            LevelResult(
                users,
                30.0,
                0.00103 * users,
                {SLO: (holds, "80.000 ms" if holds else "912.000 ms")},
                multiplier=users / 100,
                sessions_per_s=0.00138 * users,
                concurrent_sessions=0.9 * users,
            )
        )
    assert search.outcome is not None
    search.outcome.model_peak = PEAK
    return search.outcome.to_json()


def test_a_model_search_is_shown_in_multiples_of_the_busiest_hour(tmp_path: Path) -> None:
    (tmp_path / "run_capacity.json").write_text(json.dumps(_model_answer(1370)))
    search = load_search(tmp_path / "run")
    assert search is not None
    html = "".join(search_section(search))
    multiplier = search["users"] / 100
    assert f"Capacity: {multiplier:.3g}x the traffic model&#x27;s busiest hour (" in html
    assert "1x is 1,000 people at hour 19" in html
    assert f"broke first (912.000 ms) at {search['first_failing']['users'] / 100:.3g}x" in html
    assert "<th>x busiest hour</th><th>sessions at once</th><th>sessions/s</th>" in html
    assert "<td>1.00</td>" in html  # its messages: the model's at each multiplier
    assert multipliers(search)[25] == 0.2  # 20 slots: Locust ran 25 users, with slack


def test_compare_of_two_model_searches_judges_the_multiplier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = SyntheticPlan(samples=20_000, seconds=120, interval=5, users=50)
    base = write_synthetic_run(tmp_path / "base" / "run", plan)
    shutil.copytree(tmp_path / "base", tmp_path / "lower")
    (tmp_path / "base" / "run_capacity.json").write_text(json.dumps(_model_answer(1370)))
    (tmp_path / "lower" / "run_capacity.json").write_text(json.dumps(_model_answer(1000)))
    code = main(["compare", str(base), str(tmp_path / "lower" / "run"), "--quiet"])
    verdict = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 1 and "capacity multiplier" in verdict, verdict


def test_a_search_undecided_at_its_answer_says_so_on_the_page(
    soak_run: Path, tmp_path: Path
) -> None:
    run = copy_run(soak_run, tmp_path / "run")
    Path(f"{run}_capacity.json").write_text(json.dumps(_answer(137)))
    Path(f"{run}_slo.csv").write_text(
        f"threshold,value,passed,verdict\n{SLO},249.1,,NOT JUDGED\n", encoding="utf-8"
    )
    page = write_report(run, tmp_path / "report").read_text(encoding="utf-8")
    line = "every SLO holds (1 not judged: undecided: too few samples at the answer's level)"
    assert escape(line) in page, page[page.find("class='verdict'") :][:300]
    assert "too short to tell" not in page
