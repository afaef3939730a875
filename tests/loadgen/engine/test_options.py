from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from chatload.errors import ConfigError
from chatload.loadgen.engine.options import ChatOptions


def test_from_locust_parsed_options() -> None:
    parsed = argparse.Namespace(
        users_file="users.csv",
        ca_bundle="",
        markers="off",
        owner_weight=2,
        task_rate=None,
        num_users=10,
        host="ws://x/",
    )
    options = ChatOptions.from_parsed(parsed)
    assert options.users_file == Path("users.csv")
    assert options.ca_bundle is None
    assert options.markers is False
    assert options.owner_weight == 2
    assert options.task_rate == 0.0  # None keeps the default
    assert ChatOptions.from_parsed(None) == ChatOptions()


def test_timeouts_follow_the_answer_timeout() -> None:
    timeouts = ChatOptions(answer_timeout=3.0).timeouts
    assert (timeouts.ack, timeouts.delivery, timeouts.unread, timeouts.read, timeouts.history) == (
        3.0,
    ) * 5


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"auth_mode": "basic"}, "--auth-mode must be one of query, bearer, cookie"),
        ({"owner_weight": 0, "requester_weight": 0}, "not both 0"),
        ({"think_min": 3.0, "think_max": 1.0}, "--think-min <= --think-max"),
        ({"task_rate": -1.0}, "--task-rate cannot be negative"),
        ({"text_median": 5000}, "--text-median must be within 1..--text-max"),
        ({"photo_probability": 1.5}, "--photo-probability must be within 0..1"),
        ({"churn_share": -0.1}, "--churn-share must be within 0..1"),
        ({"max_in_flight": 0}, "--max-in-flight must be >= 1"),
        ({"answer_timeout": 0.0}, "timeouts and --churn-interval must be positive"),
        ({"reconnect_base": 5.0, "reconnect_max": 1.0}, "--reconnect-base <= --reconnect-max"),
        ({"photo_fields": "all"}, "--photo-fields must be one of"),
    ],
)
def test_bad_options_say_which(changes: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        ChatOptions(**changes)  # type: ignore[arg-type]
