"""A person's model session at its end: a turn handed over is written before the
person leaves, and the last message's acknowledgement still decides its turn."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import gevent

from chatload.loadgen.engine.traffic import Ticket, TrafficEngine
from chatload.loadgen.people.session import ModelSession
from chatload.protocol.models import Message
from chatload.tracking.view import ChatView
from chatload.traffic.conversation import SessionPlan, TurnDue
from chatload.traffic.default import default_model

ME, OTHER, CHAT = 7, 8, "chat-1"


class _Identity:
    user_id = ME


class _Client:
    """What a session uses of a connection: its chats, its sends, its frames."""

    def __init__(self) -> None:
        self.identity = _Identity()
        self.connected = True
        self.on_messages: Callable[[str, tuple[Message, ...]], None] | None = None
        self.chats = {CHAT: ChatView(CHAT, 1, OTHER, OTHER, last_id=3)}
        self.sent: list[tuple[str, float]] = []
        self.unacked: list[int] = []

    def send_message(self, chat_id: str, text: str, photos: tuple[str, ...]) -> None:
        self.sent.append((chat_id, time.time()))
        self.unacked.append(self.chats[chat_id].last_id + 1)

    def finish_sends(self) -> None:
        """The server's acknowledgements come now (a slow server: after the session's time)."""
        gevent.sleep(0.05)
        for message_id in self.unacked:
            message = Message(message_id, "hi", (), "2026-12-07T00:00:00Z", ME, OTHER)
            self.chats[CHAT].last_id = message_id
            if self.on_messages is not None:
                self.on_messages(CHAT, (message,))
        self.unacked.clear()


class _Writer:
    def text_of(self, length: int) -> str:
        return "x" * length

    def photo_ids(self, count: int) -> tuple[str, ...]:
        return ()


class _Lender:
    def acquire(self, role: str, timeout: float) -> None:
        raise AssertionError("not asked here")

    def acquire_this(self, user_id: int, role: str, timeout: float) -> None:
        return None

    def release(self, identity: object) -> None:
        raise AssertionError("not asked here")

    def holds(self, user_id: int) -> bool:
        return True


def _session(duration: float) -> tuple[ModelSession, TrafficEngine, _Client]:
    engine = TrafficEngine(
        default_model(), 1.0, _Lender(), random.Random(3), start_wall=time.time(), start_hour=3
    )  # type: ignore[arg-type]
    client = _Client()
    ticket = Ticket("owner", SessionPlan(duration, 0))
    session = ModelSession(engine, client, _Writer(), "owner", ticket)  # type: ignore[arg-type]
    return session, engine, client


def test_a_turn_handed_over_is_written_before_the_person_leaves() -> None:
    session, engine, client = _session(0.2)
    running = gevent.spawn(session.run)
    gevent.sleep(0.1)
    due = time.time() + 0.3  # after the session's time is up: handed a lead early
    session.write_now(TurnDue(ME, "owner", CHAT, 3, due))
    session._at(due - 0.05, "burst")  # due after the session's time: not done
    running.get(timeout=5)
    assert len(client.sent) == 1 and client.sent[0][1] >= due - 0.01
    assert ME not in engine.sessions


def test_the_last_messages_acknowledged_at_the_end_are_the_models() -> None:
    session, engine, client = _session(0.1)
    running = gevent.spawn(session.run)
    session.write_now(TurnDue(ME, "owner", CHAT, 3, time.time()))
    running.get(timeout=5)
    # Its acknowledgement came after the session's time: the message is in the
    # proof's rows, its turn decided (a turn owed, or a burst ended: either way known).
    assert len(client.sent) == 1 and [row[1] for row in engine.batch.messages] == [4]
