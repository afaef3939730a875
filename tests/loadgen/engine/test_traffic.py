"""A generator process's traffic engine at a search's level: a fall takes the turns of
the people who went; a chat first seen is as busy as the steady state's chats."""

from __future__ import annotations

import random

import pytest

from chatload.loadgen.engine.traffic import TrafficEngine
from chatload.traffic.conversation import TurnDue
from chatload.traffic.default import default_model


class _NoLender:
    def acquire(self, role: str, timeout: float) -> None:
        raise AssertionError("not asked here")

    def acquire_this(self, user_id: int, role: str, timeout: float) -> None:
        raise AssertionError("not asked here")

    def release(self, identity: object) -> None:
        raise AssertionError("not asked here")


def _engine() -> TrafficEngine:
    return TrafficEngine(
        default_model(), 1.0, _NoLender(), random.Random(5), start_wall=0.0, start_hour=19.0
    )  # type: ignore[arg-type]


def test_a_fall_keeps_its_share_of_the_turns_owed() -> None:
    engine = _engine()
    for i in range(4000):
        engine.owe_turn(TurnDue(i, "owner", f"chat{i}", 1, 1e12 + i))
    engine.at_level(0.25, 1.0, 0.0)
    kept = len(engine._turns)
    assert abs(kept - 1000) < 4 * (4000 * 0.25 * 0.75) ** 0.5
    assert [item[0] for item in sorted(engine._turns)] == sorted(item[0] for item in engine._turns)
    engine.at_level(1.0, 1.0, 0.0)  # a rise keeps every one
    assert len(engine._turns) == kept


@pytest.mark.parametrize(("busy", "people_per_identity"), [(0.0, 1.0), (0.57, 1.0), (0.57, 0.5)])
def test_a_chat_first_seen_is_busy_as_often_as_the_steady_states(
    busy: float, people_per_identity: float
) -> None:
    engine = _engine()
    engine.at_level(1.0, people_per_identity, busy)
    now, gap = 1e6, engine.model.burst_gap_s
    seen = [engine.last_message_at(f"chat{i}", now) for i in range(4000)]
    busy_now = [at for at in seen if at > now - gap]
    assert abs(len(busy_now) / 4000 - busy) < 0.03
    assert all(now - gap <= at <= now for at in busy_now)
    assert engine.last_message_at("chat7", now + 5) == seen[7]  # remembered, not drawn again


def test_a_chat_of_several_people_is_drawn_each_time() -> None:
    engine = _engine()
    engine.at_level(1.0, 3.0, 0.57)  # three people on each identity: three chats in one
    now, gap = 1e6, engine.model.burst_gap_s
    engine.last_activity["chat1"] = now - 1.0  # someone else's of the three wrote there
    draws = [engine.last_message_at("chat1", now) > now - gap for _ in range(4000)]
    assert abs(sum(draws) / 4000 - 0.57) < 0.03


def test_a_burst_of_one_of_several_people_sends_as_the_models_do() -> None:
    engine = _engine()
    engine.at_level(1.0, 3.0, 0.57, 0.3, 0.6)
    now, chats = 1e6, ["a", "b"]
    for role, sends in (("owner", 0.3), ("requester", 0.6)):
        sent = [engine.burst_chat(role, chats, now, since=now - 60) for _ in range(4000)]
        assert abs(sum(c is not None for c in sent) / 4000 - sends) < 0.03
        assert {c for c in sent if c is not None} == {"a", "b"}
    # A chat with a message in this session is this person's conversation: busy.
    engine.last_activity["a"] = now - 10
    sent = {engine.burst_chat("requester", chats, now, since=now - 60) for _ in range(200)}
    assert sent == {None, "b"}
    # Written in before the session began: another person's of the identity's.
    assert "a" in {engine.burst_chat("requester", chats, now, since=now - 5) for _ in range(200)}
    # One person on each identity: the chats as this process knows them.
    engine.at_level(1.0, 1.0, 0.0, 0.3, 0.6)
    assert engine.burst_chat("requester", chats, now, since=now - 5) == "b"
