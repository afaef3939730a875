"""One person's session under a traffic model: every decision drawn from the model.

The person is connected (``initial_data`` in hand) for the session's drawn
duration (run seconds: the model is played ``--time-scale`` times faster). In it:

- an answering session writes its turn at once, if the chat is where it was;
- with the model's share, the person pages back a chat (a drawn number of pages);
- each chat with unread messages is read a drawn read delay after the start, and
  a chat the other side writes in while the person is online, a read delay after
  the first such message (one read due per chat; writing in a chat reads it);
- the person starts bursts at their weight times the role's rate, in a chat that
  is quiet (silent longer than the burst gap);
- each message the person sends is acknowledged; its turn names the next writer
  and when (``traffic.conversation``), and the process's engine holds the turn
  until then: the next writer writes at that moment, wherever they are;
- the person leaves when the session's time is up, but not before writing a turn
  already handed to them (doing nothing else meanwhile), nor before their last
  messages are acknowledged (each one's turn is decided then: a message whose turn
  is never decided ends its conversation where the model would not).

Each action scheduled is timed against when it was due: later than ``LATE_S`` is a
late action (a saturated generator shows there first).
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gevent import GreenletExit
from gevent.event import Event

from chatload.errors import ChatloadError
from chatload.loadgen.engine.traffic import LATE_S, Ticket, TrafficEngine
from chatload.protocol.models import Message
from chatload.traffic.conversation import (
    CARRIED,
    TurnDue,
    draw_content,
    turn,
    turn_gap,
    weight_of,
)
from chatload.users_file import ROLES, Role

if TYPE_CHECKING:
    from chatload.loadgen.connection.client import ChatClient
    from chatload.loadgen.engine.content import Writer

__all__ = ["ModelSession"]


@dataclass(order=True)
class _Action:
    due: float
    order: int
    kind: str = field(compare=False)  # read, write, burst
    chat_id: str = field(default="", compare=False)
    trigger: int = field(default=0, compare=False)


class ModelSession:
    def __init__(
        self,
        engine: TrafficEngine,
        client: ChatClient,
        writer: Writer,
        role: Role,
        ticket: Ticket,
    ) -> None:
        self.engine, self.client, self.writer = engine, client, writer
        self.role, self.ticket = role, ticket
        self.me = client.identity.user_id
        self.model = engine.model.role(role)
        self._actions: list[_Action] = []
        self._order = itertools.count()
        self._wake = Event()
        self._reading: dict[str, int] = {}  # chats with a read due: its token
        self._content: dict[str, tuple[int, int]] = {}  # chat: (characters, photos) sent
        self.started = time.time()
        self.stopped = False  # Locust stopped the user mid-session
        self._recorded = False

    # Scheduling

    def _at(self, due: float, kind: str, chat_id: str = "", trigger: int = 0) -> None:
        heapq.heappush(self._actions, _Action(due, next(self._order), kind, chat_id, trigger))
        self._wake.set()

    def _read_later(self, chat_id: str) -> None:
        if chat_id not in self._reading:
            token = self._reading[chat_id] = next(self._order)
            delay = self.model.family("read_delay_s").draw(self.engine.rng)
            self._at(time.time() + delay, "read", chat_id, token)

    def write_now(self, due_turn: TurnDue) -> None:
        """The engine: this person's turn in ``chat_id`` is due now."""
        self._at(due_turn.due, "write", due_turn.chat_id, due_turn.trigger)

    # The session

    def run(self) -> None:
        engine, client = self.engine, self.client
        engine.sessions[self.me] = self
        if self.ticket.resumed:
            engine.under_way[self.role].append(self.me)
        client.on_messages = self._on_messages
        end = self.started + self.ticket.plan.duration
        try:
            if self.ticket.turn is not None:
                self.write_now(self.ticket.turn)
            if self.ticket.plan.pages:
                self._page_back(self.ticket.plan.pages)
            for view in list(client.chats.values()):
                if view.my_unread > 0:
                    self._read_later(view.chat_id)
            self._next_burst()
            while client.connected and not engine.quiet():
                now = time.time()
                if self._actions and self._actions[0].due <= now:
                    action = heapq.heappop(self._actions)
                    if now < end or action.kind == "write":  # past its time: writes only
                        self._do(action, now)
                    continue
                # A turn handed over is written before the person leaves: it came a
                # connect's time early (the engine's lead), and would otherwise be lost.
                if now >= end and not self._writes_owed():
                    break
                until = self._actions[0].due if self._actions else end
                wait = (min(end, until) if now < end else until) - now
                self._wake.clear()
                self._wake.wait(timeout=max(wait, 0.0))
            # The person has left (a turn for them now goes to an answering session,
            # and the session's length is the model's, not the server's last answer),
            # but hears their last messages acknowledged: each one's turn is decided
            # (the next writer told), as the model has every message's.
            self._leave()
            client.finish_sends()
        except GreenletExit:
            self.stopped = True
            raise
        finally:
            client.on_messages = None
            self._leave()

    def _leave(self) -> None:
        if self.engine.sessions.get(self.me) is self:
            del self.engine.sessions[self.me]
        self._record(self.engine)

    def _writes_owed(self) -> bool:
        return any(action.kind == "write" for action in self._actions)

    def record_open(self) -> None:
        """The run stops acting with this session open: to the proof as it stands,
        its length known from below."""
        self._record(self.engine, cut=True)

    def _record(self, engine: TrafficEngine, *, cut: bool = False) -> None:
        """The session, for the proof, once: one carried over began before its level
        (its start and length are not the model's), and one cut short (Locust stopped
        its user as a search's level went down, or the run stopped acting) ended
        before the model ended it (its length is known from below); both still say
        when the person was online to read."""
        if self._recorded:
            return
        self._recorded = True
        engine.batch.sessions.append(
            (
                self.me,
                engine.model_time(self.started),
                engine.model_time(time.time()),
                int(self.ticket.turn is not None),
                ROLES.index(self.role),
                int(self.ticket.resumed),
                int(self.stopped or cut),
            )
        )

    def _next_burst(self) -> None:
        rate = weight_of(self.model, self.me) * self.model.scalar("burst_starts_per_hour") / 3600
        if rate > 0:
            self._at(time.time() + self.engine.rng.expovariate(rate), "burst")

    def _do(self, action: _Action, now: float) -> None:
        batch = self.engine.batch
        batch.count(f"{self.role}.actions")
        if now - action.due > LATE_S:
            batch.count(f"{self.role}.late_actions")
        try:
            if action.kind == "read":
                if self._reading.get(action.chat_id) != action.trigger:
                    return  # the person wrote there since: writing read it
                del self._reading[action.chat_id]
                view = self.client.chats.get(action.chat_id)
                if view is not None and view.my_unread > 0 and view.last_id:
                    self.client.read_messages(action.chat_id, view.last_id)
                    at = self.engine.model_time(now)
                    batch.reads.append((action.chat_id, self.me, view.last_id, at))
            elif action.kind == "write":
                if action.trigger == CARRIED:
                    views = list(self.client.chats.values())
                    if views:
                        self._send(self.engine.rng.choice(views).chat_id)
                    return
                view = self.client.chats.get(action.chat_id)
                if view is not None and view.last_id == action.trigger:
                    self._send(action.chat_id)
            else:
                self._burst(now)
        except ChatloadError:
            return  # reported by the client as a failure; the person goes on

    def _burst(self, now: float) -> None:
        chat_id = self.engine.burst_chat(self.role, list(self.client.chats), now, self.started)
        if chat_id is not None:
            self._send(chat_id)
        self._next_burst()

    def content(self) -> tuple[int, int]:
        """The next message's characters and photos: the model's draw. A persona's
        session may override it (docs/personas.md, "Under a traffic model")."""
        return draw_content(self.model, self.engine.rng)

    def _send(self, chat_id: str) -> None:
        length, photos = self.content()
        self._content[chat_id] = (length, photos)
        text, photo_ids = self.writer.text_of(length), self.writer.photo_ids(photos)
        self.client.send_message(chat_id, text, photo_ids)

    def _page_back(self, pages: int) -> None:
        views = list(self.client.chats.values())
        if not views:
            return
        view = self.engine.rng.choice(views)
        loaded, cut = 0, 0
        before = view.last_id + 1
        for _ in range(pages):
            page = None
            if self.client.connected:
                page = self.client.load_history(view.chat_id, before) if before > 1 else ()
            if not page:
                # The chat's history began before the person stopped, or the page
                # failed, or the connection went: they wanted more than they loaded.
                cut = 1
                break
            loaded += 1
            before = min(message.messageId for message in page)
        started = self.engine.model_time(self.started)
        self.engine.batch.page_backs.append((self.me, started, loaded, cut))

    # Frames (the reader's greenlet: quick)

    def _on_messages(self, chat_id: str, messages: tuple[Message, ...]) -> None:
        if not messages:
            return
        now = time.time()
        self.engine.last_activity[chat_id] = now
        last = messages[-1]
        if any(message.fromUserId == self.me for message in messages):
            self._reading.pop(chat_id, None)  # writing in a chat reads it
        if last.fromUserId != self.me:
            self._read_later(chat_id)
            return
        view = self.client.chats.get(chat_id)
        if view is None:
            return
        owner = view.owner_id
        other = view.interlocutor_id
        length, photos = self._content.pop(chat_id, (len(last.text or ""), 0))
        engine = self.engine
        engine.batch.messages.append(
            (chat_id, last.messageId, self.me, other, engine.model_time(now), length, photos, owner)
        )
        decided = turn(engine.model, chat_id, last.messageId, self.role)
        if decided == "end":
            return
        if decided == "same":
            writer, writer_role = self.me, self.role
        else:
            writer, writer_role = other, _other_role(self.role)
        gap = turn_gap(engine.model, writer_role, decided, engine.rng)
        engine.owe_turn(TurnDue(writer, writer_role, chat_id, last.messageId, now + gap))


def _other_role(role: Role) -> Role:
    return "requester" if role == "owner" else "owner"
