"""The capacity search against simulated servers: pure, no run needed."""

from __future__ import annotations

import pytest

from chatload.search import EMBEDDED_MAX_USERS, CapacitySearch, LevelResult, embedded_max_users

SLO = "send_ack p99 < 500ms"


def _level(users: int, capacity: int, *, saturated_from: int = 10**9) -> LevelResult:
    holds = users <= capacity
    return LevelResult(
        users,
        30.0,
        messages_per_s=users * 0.5,
        verdicts={SLO: (holds, "120 ms" if holds else "2400 ms")},
        saturated=users >= saturated_from,
        server_cpu_percent=min(100.0, users / capacity * 80),
    )


def _run(search: CapacitySearch, capacity: int, **kwargs: int) -> list[int]:
    tried = []
    while (users := search.next_users()) is not None:
        tried.append(users)
        search.record(_level(users, capacity, **kwargs))
        assert len(tried) < 40, tried
    return tried


@pytest.mark.parametrize("capacity", [7, 60, 137, 999, 4321])
def test_the_search_finds_the_capacity_within_its_resolution(capacity: int) -> None:
    search = CapacitySearch(start=10, max_users=20_000, resolution=0.1)
    tried = _run(search, capacity)
    outcome = search.outcome
    assert outcome is not None
    assert outcome.limited_by == "server"
    assert capacity / 1.1 <= outcome.users <= capacity
    assert tried[-1] == outcome.users  # the answer held once more, to confirm it
    assert outcome.first_failing is not None and outcome.first_failing.users > capacity
    assert outcome.line().startswith(f"Capacity: {outcome.users} users, ")
    assert f"{SLO} broke first (2400 ms) at {outcome.first_failing.users} users" in outcome.line()
    # Geometric growth, then bisection: a few levels, not a sweep.
    assert len(tried) <= 4 + 2 * len(bin(capacity))


def test_growth_is_geometric_until_the_first_failure() -> None:
    search = CapacitySearch(start=10, max_users=20_000)
    assert _run(search, 100)[:5] == [10, 20, 40, 80, 160]


def test_a_level_that_fails_its_confirmation_moves_the_answer_down() -> None:
    search = CapacitySearch(start=10, max_users=1_000)
    flaky = {80}  # held once, fails when held again
    seen: set[int] = set()
    while (users := search.next_users()) is not None:
        again = users in seen
        seen.add(users)
        capacity = 79 if (users in flaky and again) else 84
        search.record(_level(users, capacity))
    assert search.outcome is not None
    assert search.outcome.users < 80


def test_a_saturated_generator_ends_the_search_and_says_so() -> None:
    search = CapacitySearch(start=10, max_users=20_000)
    _run(search, 5_000, saturated_from=300)
    outcome = search.outcome
    assert outcome is not None
    assert outcome.limited_by == "generator"
    assert outcome.users == 160
    assert "limited by the generator (saturated at 320 users): add workers" in outcome.line()


def test_max_users_ends_a_search_that_never_failed() -> None:
    search = CapacitySearch(start=10, max_users=50)
    assert _run(search, 10_000) == [10, 20, 40, 50]
    assert search.outcome is not None and search.outcome.limited_by == "max_users"
    assert search.outcome.users == 50


def test_a_breach_ends_the_search_as_a_failure() -> None:
    search = CapacitySearch(start=10, max_users=1_000)
    search.record(_level(10, 100))
    search.record(LevelResult(20, 30.0, 10.0, {SLO: (True, "1 ms")}, breaches=3))
    assert search.next_users() is None
    assert search.outcome is not None and search.outcome.limited_by == "breach"
    assert search.outcome.users == 10


def test_a_server_that_fails_the_first_level_is_searched_downwards() -> None:
    search = CapacitySearch(start=40, max_users=1_000)
    _run(search, 12)
    assert search.outcome is not None
    assert 11 <= search.outcome.users <= 12
    report = search.outcome.to_json()
    assert report["users"] == search.outcome.users
    assert report["limited_by"] == "server"
    assert report["first_failing"]["slo"] == SLO
    assert [level["users"] for level in report["levels"]][:3] == [40, 20, 10]


def test_the_embedded_dataset_is_made_for_20_000_users_within_the_limits() -> None:
    assert embedded_max_users(1 << 20, None) == EMBEDDED_MAX_USERS == 20_000
    assert embedded_max_users(19_872, None) == 19_872  # the server's open files
    assert embedded_max_users(19_872, 5_000) == 5_000  # this process's ports or files
    assert embedded_max_users(0, 0) == 1
