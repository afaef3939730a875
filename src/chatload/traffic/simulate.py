"""A production export made up from a traffic model: its people simulated by the same
rules a run follows (``traffic.conversation``, ``traffic.arrivals``). Pure.

For the fit's tests (known parameters in, the export out) and its benchmark (a
million messages). What the simulation does, a run's people do:

- people of each role arrive by the model's hourly Poisson rates, each taking a
  person of the role who is offline (none free: the arrival is dropped), and stay
  for a drawn duration;
- at a session's start a person pages back one chat when drawn to, and reads each
  chat with unread messages after a read delay;
- while online a person starts bursts at their weight times the role's rate;
- after each message the turn decides the next writer, who writes a gap after the
  message (a reply gap or a same-sender gap of the writer's role). A writer who is
  not online then comes online to write it: an *answering session*, of a drawn
  duration like any other (people come back to answer: notifications). Someone who
  receives a message while online reads the chat a read delay after it (one read
  due per chat at a time; writing in a chat reads it).
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field

import numpy as np

from chatload.traffic.arrivals import ArrivalClock
from chatload.traffic.conversation import (
    draw_content,
    plan_session,
    quiet_chats,
    turn,
    turn_gap,
    weight_of,
)
from chatload.traffic.model import TrafficModel
from chatload.traffic.observe import Export
from chatload.users_file import ROLES, Role

__all__ = ["World", "simulate"]


@dataclass
class World:
    """Who talks to whom: owners, requesters and their chats."""

    roles: dict[int, Role]
    chats: list[tuple[int, int, int]]  # (chat key, owner, requester)

    @classmethod
    def made(cls, owners: int, requesters: int, chats_each: int, seed: int = 0) -> World:
        rng = random.Random(seed)
        roles: dict[int, Role] = {i: "owner" for i in range(1, owners + 1)}
        roles.update({owners + i: "requester" for i in range(1, requesters + 1)})
        chats: list[tuple[int, int, int]] = []
        for requester in range(owners + 1, owners + requesters + 1):
            for owner in rng.sample(range(1, owners + 1), min(chats_each, owners)):
                chats.append((len(chats) + 1, owner, requester))
        return cls(roles, chats)


class _Offline:
    """People of one role not in a session: a random one taken, given back, in O(1)."""

    def __init__(self, people: list[int]) -> None:
        self.people = list(people)
        self.position = {user: i for i, user in enumerate(self.people)}

    def take(self, rng: random.Random) -> int | None:
        if not self.people:
            return None
        index = rng.randrange(len(self.people))
        user, last = self.people[index], self.people[-1]
        self.people[index], self.position[last] = last, index
        self.people.pop()
        del self.position[user]
        return user

    def take_this(self, user: int) -> int | None:
        index = self.position.get(user)
        if index is None:
            return None
        user, last = self.people[index], self.people[-1]
        self.people[index], self.position[last] = last, index
        self.people.pop()
        del self.position[user]
        return user

    def give_back(self, user: int) -> None:
        self.position[user] = len(self.people)
        self.people.append(user)


@dataclass
class _Chat:
    owner: int
    requester: int
    last_id: int = 0
    last_from: int = 0
    last_at: float = -1e18
    read: dict[int, int] = field(default_factory=dict)  # user: last read id


@dataclass
class _Sim:
    model: TrafficModel
    world: World
    rng: random.Random
    clock: float = 0.0
    queue: list[tuple[float, int, str, tuple[int, ...]]] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    session_of: dict[int, int] = field(default_factory=dict)  # online user: session id
    session_end: dict[int, float] = field(default_factory=dict)
    messages: list[tuple[int, int, int, float, int, int]] = field(default_factory=list)
    sessions: list[tuple[int, float, float]] = field(default_factory=list)
    reads: list[tuple[int, int, int, float]] = field(default_factory=list)
    page_backs: list[tuple[int, float, int, int]] = field(default_factory=list)
    # (user, chat): the read due in it (session, its token): one at a time, as a run's
    reading: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    dropped: int = 0
    answering: int = 0  # sessions begun to write a turn
    bursts: list[tuple[float, int, int]] = field(default_factory=list)  # (at, role, sent)

    def at(self, when: float, kind: str, *payload: int) -> None:
        heapq.heappush(self.queue, (when, next(self.counter), kind, payload))


def simulate(
    model: TrafficModel, world: World, *, days: float, seed: int = 0, messages: int = 0
) -> Export:
    """The export of ``days`` of the model's traffic (or until ``messages`` were sent)."""
    sim = _Sim(model, world, random.Random(seed))
    chats = {key: _Chat(owner, requester) for key, owner, requester in world.chats}
    chats_of: dict[int, list[int]] = {user: [] for user in world.roles}
    for key, owner, requester in world.chats:
        chats_of[owner].append(key)
        chats_of[requester].append(key)
    people = {role: [u for u, r in world.roles.items() if r == role] for role in ROLES}
    offline = {role: _Offline(people[role]) for role in ROLES}
    clocks = {r: ArrivalClock(model.role(r), len(people[r])) for r in ROLES}
    for role in ROLES:
        sim.at(clocks[role].next_after(0.0, sim.rng), "arrive", ROLES.index(role))
    end = days * 86400
    session_ids = itertools.count(1)
    while sim.queue:
        when, _, kind, payload = heapq.heappop(sim.queue)
        if when > end or (messages and len(sim.messages) >= messages):
            break
        sim.clock = when
        if kind == "arrive":
            role = ROLES[payload[0]]
            sim.at(clocks[role].next_after(when, sim.rng), "arrive", payload[0])
            ids = next(session_ids)
            _arrive(sim, role, offline=offline[role], chats=chats, chats_of=chats_of, session=ids)
        elif kind == "leave":
            user, session = payload
            if sim.session_of.get(user) == session:
                del sim.session_of[user]
                offline[world.roles[user]].give_back(user)
        elif kind == "burst":
            _burst(sim, payload, chats, chats_of)
        elif kind == "write":
            user, key, trigger = payload
            if chats[key].last_id != trigger:
                continue  # the conversation went on without this turn
            if user not in sim.session_of:
                role = world.roles[user]
                sim.answering += 1
                ids = next(session_ids)
                _arrive(
                    sim,
                    role,
                    offline=offline[role],
                    chats=chats,
                    chats_of=chats_of,
                    session=ids,
                    user=user,
                )
            _send(sim, user, key, chats[key])
        elif kind == "read":
            _read(sim, payload, chats)
    return _export(sim, world, end if not messages else sim.clock)


def _online(sim: _Sim, user: int, session: int) -> bool:
    return sim.session_of.get(user) == session and sim.clock <= sim.session_end[user]


def _arrive(
    sim: _Sim,
    role: Role,
    *,
    offline: _Offline,
    chats: dict[int, _Chat],
    chats_of: dict[int, list[int]],
    session: int,
    user: int | None = None,
) -> int | None:
    """A session begins: of ``user`` (an answering one), else of someone offline."""
    user = offline.take(sim.rng) if user is None else offline.take_this(user)
    if user is None:
        sim.dropped += 1
        return None
    role_model = sim.model.role(role)
    plan = plan_session(role_model, sim.rng)
    now = sim.clock
    sim.session_of[user], sim.session_end[user] = session, now + plan.duration
    sim.sessions.append((user, now, now + plan.duration))
    sim.at(now + plan.duration, "leave", user, session)
    if plan.pages and chats_of[user]:
        sim.page_backs.append((user, now, plan.pages, 0))
    for key in chats_of[user]:
        _look(sim, user, session, key, chats[key])
    rate = weight_of(role_model, user) * role_model.scalar("burst_starts_per_hour") / 3600
    if rate > 0:
        sim.at(now + sim.rng.expovariate(rate), "burst", user, session)
    return user


def _look(sim: _Sim, user: int, session: int, key: int, chat: _Chat) -> None:
    """``user``, online, sees chat ``key``: what is unread is read after a delay."""
    unread = chat.last_id and chat.last_from != user and chat.read.get(user, 0) < chat.last_id
    pending = sim.reading.get((user, key))
    if unread and (pending is None or pending[0] != session):
        token = next(sim.counter)
        sim.reading[user, key] = (session, token)
        delay = sim.model.role(sim.world.roles[user]).family("read_delay_s").draw(sim.rng)
        sim.at(sim.clock + delay, "read", user, session, key, token)


def _next_writer(sim: _Sim, key: int, chat: _Chat) -> None:
    """After a message: its turn names the next writer, who writes a gap later."""
    role = sim.world.roles[chat.last_from]
    decided = turn(sim.model, str(key), chat.last_id, role)
    if decided == "end":
        return
    writer = chat.last_from
    if decided == "other":
        writer = chat.owner if writer == chat.requester else chat.requester
    delay = turn_gap(sim.model, sim.world.roles[writer], decided, sim.rng)
    sim.at(sim.clock + delay, "write", writer, key, chat.last_id)


def _burst(
    sim: _Sim, payload: tuple[int, ...], chats: dict[int, _Chat], chats_of: dict[int, list[int]]
) -> None:
    user, session = payload
    if not _online(sim, user, session):
        return
    quiet = quiet_chats(
        [(key, chats[key].last_at) for key in chats_of[user]], sim.clock, sim.model.burst_gap_s
    )
    role = sim.world.roles[user]
    sim.bursts.append((sim.clock, ROLES.index(role), int(bool(quiet))))
    if quiet:
        key = sim.rng.choice(quiet)
        _send(sim, user, key, chats[key])
    role_model = sim.model.role(role)
    rate = weight_of(role_model, user) * role_model.scalar("burst_starts_per_hour") / 3600
    sim.at(sim.clock + sim.rng.expovariate(rate), "burst", user, session)


def _send(sim: _Sim, user: int, key: int, chat: _Chat) -> None:
    chat.last_id += 1
    chat.last_from = user
    chat.last_at = sim.clock
    chat.read[user] = chat.last_id  # writing in a chat reads it
    sim.reading.pop((user, key), None)
    length, photos = draw_content(sim.model.role(sim.world.roles[user]), sim.rng)
    sim.messages.append((key, chat.last_id, user, sim.clock, length, photos))
    other = chat.owner if user == chat.requester else chat.requester
    session = sim.session_of.get(other)
    if session is not None and _online(sim, other, session):
        _look(sim, other, session, key, chat)
    _next_writer(sim, key, chat)


def _read(sim: _Sim, payload: tuple[int, ...], chats: dict[int, _Chat]) -> None:
    user, session, key, token = payload
    if sim.reading.get((user, key)) != (session, token):
        return  # the person wrote there since, or left
    del sim.reading[user, key]
    chat = chats[key]
    if _online(sim, user, session) and chat.read.get(user, 0) < chat.last_id:
        chat.read[user] = chat.last_id
        sim.reads.append((key, user, chat.last_id, sim.clock))


def _export(sim: _Sim, world: World, end: float) -> Export:
    rows = np.array(sim.messages, dtype=float).reshape(-1, 6)
    sessions = np.array([(u, a, min(b, end)) for u, a, b in sim.sessions if a <= end])
    return Export(
        chat=rows[:, 0].astype(np.int64),
        message_id=rows[:, 1].astype(np.int64),
        sender=rows[:, 2].astype(np.int64),
        created=rows[:, 3],
        text_length=rows[:, 4],
        photos=rows[:, 5],
        owner_of_chat={key: owner for key, owner, _ in world.chats},
        roles=dict(world.roles),
        reads=np.array(sim.reads, dtype=float).reshape(-1, 4),
        sessions=sessions.reshape(-1, 3),
        start=0.0,
        end=end,
        people={r: sum(1 for v in world.roles.values() if v == r) for r in ROLES},
        page_backs=np.array(sim.page_backs, dtype=float).reshape(-1, 4),
        recipient=np.array([_other_side(world, int(k), int(u)) for k, u in rows[:, [0, 2]]]),
        burst_tries=np.array(sim.bursts, dtype=float).reshape(-1, 3),
    )


def _other_side(world: World, key: int, user: int) -> int:
    _, owner, requester = world.chats[key - 1]
    return requester if user == owner else owner
