"""A generator process's traffic engine at a search's level: a fall takes the turns of
the people who went; a chat first seen is as busy as the steady state's chats."""

from __future__ import annotations

import random
import time

import gevent
import pytest

from chatload.loadgen.engine import traffic
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

    def holds(self, user_id: int) -> bool:
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


class _Busy:
    """A person lent to this process with no session for ``until`` seconds (their
    connect, or their leaving), then free: ``identity`` (or still lent)."""

    def __init__(self, until: float, identity: object | None) -> None:
        self.free_at, self.identity = time.time() + until, identity

    def acquire_this(self, user_id: int, role: str, timeout: float) -> object | None:
        return self.identity if time.time() >= self.free_at else None

    def holds(self, user_id: int) -> bool:
        return time.time() < self.free_at or self.identity is None


class _Session:
    def __init__(self) -> None:
        self.written: list[TurnDue] = []

    def write_now(self, turn: TurnDue) -> None:
        self.written.append(turn)


def _busy_engine(lender: _Busy) -> TrafficEngine:
    return TrafficEngine(
        default_model(), 1.0, lender, random.Random(5), start_wall=0.0, start_hour=19.0
    )  # type: ignore[arg-type]


def test_a_turn_for_someone_still_connecting_waits_for_their_session() -> None:
    engine = _busy_engine(_Busy(60, None))
    session, due = _Session(), TurnDue(3, "owner", "chat", 1, time.time())
    delivering = gevent.spawn(engine._deliver, due)
    gevent.sleep(0.2)
    engine.sessions[3] = session  # their initial_data came
    delivering.get(timeout=5)
    assert session.written == [due]
    assert not engine.batch.counts


def test_a_turn_for_someone_leaving_is_written_in_an_answering_session() -> None:
    identity = object()
    engine = _busy_engine(_Busy(0.2, identity))
    waiting = gevent.spawn(engine.wait_for_session, "owner")
    gevent.sleep(0)
    due = TurnDue(3, "owner", "chat", 1, time.time())
    gevent.spawn(engine._deliver, due).get(timeout=5)
    ticket = waiting.get(timeout=5)
    assert ticket is not None and ticket.identity is identity and ticket.turn == due


def test_a_turn_whose_writer_never_comes_is_counted_not_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(traffic, "_FIND_WRITER_S", 0.2)
    engine = _busy_engine(_Busy(60, None))
    gevent.spawn(engine._deliver, TurnDue(3, "requester", "chat", 1, time.time())).get(timeout=5)
    assert engine.batch.counts == {"requester.answering_dropped": 1}
    engine.receive_turn(TurnDue(3, "requester", "chat", 2, time.time()))  # forwarded here
    gevent.sleep(0.5)
    assert engine.batch.counts == {"requester.answering_dropped": 2}
