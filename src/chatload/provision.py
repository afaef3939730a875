"""Test data for the reference server: users, events, chats and message history.

Everything is drawn from one seeded random generator and one seeded Faker, so
the same options give the same database and users file, byte for byte.
The history's messages are not written one by one: each chat gets who wrote
them and when they began, and the database's ``messages`` view draws their text
and photos from pools of Faker texts and photo sets (``server.store``), so a
dataset of millions of messages is provisioned in seconds.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from chatload.errors import ConfigError
from chatload.server.store import HISTORY_PHOTOS, HISTORY_TEXTS, create_schema, join_uuids
from chatload.users_file import Identity, Role, write_users

__all__ = ["ProvisionPlan", "ProvisionSummary", "provision"]

_TEXT_LENGTHS: Final = (20, 40, 80, 80, 160, 160, 300, 600, 1200)
_BASE_EPOCH: Final = 1_767_225_600  # 2026-01-01T00:00:00Z: dates depend on the seed only
_DAY: Final = 86_400
_AUTHOR_LETTERS: Final = str.maketrans("10", "or")


@dataclass(frozen=True, slots=True)
class ProvisionPlan:
    owners: int = 10
    requesters: int = 100
    events_per_owner: int = 2
    chats_per_requester: int = 2
    history: int = 20
    seed: int = 1
    locale: str = "ru_RU"
    photo_share: float = 0.15
    # "random": each requester asks to join randomly drawn events; "pairs": requester
    # i asks to join event i only, so every chat is independent of every other;
    # "local": requester i asks to join events of the owners of the same rank, so the
    # first owners and the first requesters of the users file talk to each other.
    layout: str = "random"

    def check(self) -> None:
        if self.owners < 1 or self.requesters < 1:
            raise ConfigError("--owners and --requesters must each be at least 1")
        if self.events_per_owner < 1:
            raise ConfigError("--events-per-owner must be at least 1")
        if self.history < 0:
            raise ConfigError("--history cannot be negative")
        events = self.owners * self.events_per_owner
        if self.layout not in ("random", "pairs", "local"):
            raise ConfigError(f"--layout must be random, pairs or local, got {self.layout!r}")
        if self.layout == "pairs" and (self.requesters != events or self.chats_per_requester != 1):
            raise ConfigError(
                "--layout pairs needs exactly one requester per event "
                f"(--requesters {events}) and --chats-per-requester 1"
            )
        if not 1 <= self.chats_per_requester <= events:
            raise ConfigError(
                f"--chats-per-requester must be within 1..{events} "
                f"(the number of events: owners x events per owner)"
            )


@dataclass(frozen=True, slots=True)
class ProvisionSummary:
    users: int
    events: int
    chats: int
    messages: int


class _Draw:
    """Seeded values: UUIDs, tokens, texts."""

    def __init__(self, seed: int, locale: str) -> None:
        from faker import Faker

        self.rng = random.Random(seed)
        self.fake = Faker(locale)
        self.fake.seed_instance(seed)
        self.texts = [
            self.fake.text(max_nb_chars=length)
            for length in (self.rng.choice(_TEXT_LENGTHS) for _ in range(HISTORY_TEXTS))
        ]

    def photo_sets(self, share: float) -> list[str]:
        """The history's photo pool: a ``share`` of 1 to 3 photos, the rest none."""
        return [
            join_uuids([self.uuid() for _ in range(self.rng.randint(1, 3))])
            if self.rng.random() < share
            else ""
            for _ in range(HISTORY_PHOTOS)
        ]

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def token(self) -> str:
        return self.rng.getrandbits(160).to_bytes(20, "big").hex()

    def title(self) -> str:
        return str(self.fake.sentence(nb_words=3)).rstrip(".")


UserRow = tuple[int, str, str, str, str]
EventRow = tuple[int, int, str, str, str, int, int]
ChatRow = tuple[int, str, int, int, bool, bool, int, int, int, str]


def provision(
    db: Path, users_out: Path, plan: ProvisionPlan, *, force: bool = False
) -> ProvisionSummary:
    """Create ``db`` and ``users_out`` from ``plan``."""
    plan.check()
    if db.exists() and not force:
        raise ConfigError(f"database {db} already exists: pass --force to replace it")
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    draw = _Draw(plan.seed, plan.locale)
    users, identities = _users(plan, draw)
    events = _events(plan, draw)
    chats = _chats(plan, draw, len(events))
    connection = sqlite3.connect(db, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        create_schema(connection)  # executescript commits by itself
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?)", users)
        connection.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", events)
        connection.executemany("INSERT INTO chats VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", chats)
        connection.executemany("INSERT INTO history_texts VALUES (?, ?)", enumerate(draw.texts))
        connection.executemany(
            "INSERT INTO history_photos VALUES (?, ?)", enumerate(draw.photo_sets(plan.photo_share))
        )
        connection.executemany(
            "INSERT INTO history_numbers VALUES (?)", ((n,) for n in range(1, plan.history + 1))
        )
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    write_users(users_out, identities, extra_columns=("name", "group"))
    return ProvisionSummary(len(users), len(events), len(chats), len(chats) * plan.history)


def _users(plan: ProvisionPlan, draw: _Draw) -> tuple[list[UserRow], list[Identity]]:
    users: list[UserRow] = []
    identities: list[Identity] = []
    for user_id in range(1, plan.owners + plan.requesters + 1):
        role: Role = "owner" if user_id <= plan.owners else "requester"
        name = str(draw.fake.name())
        token = draw.token()
        users.append((user_id, name, draw.uuid(), token, role))
        identities.append(
            Identity(user_id, token, role, {"name": name, "group": _group(plan, user_id)})
        )
    return users, identities


def _events(plan: ProvisionPlan, draw: _Draw) -> list[EventRow]:
    rng = draw.rng
    events: list[EventRow] = []
    for owner_id in range(1, plan.owners + 1):
        for _ in range(plan.events_per_owner):
            starts = _BASE_EPOCH + rng.randrange(365 * _DAY)
            location = "ONLINE" if rng.random() < 0.4 else str(draw.fake.city())
            icons = join_uuids([draw.uuid() for _ in range(rng.randint(1, 3))])
            ends = starts + rng.randrange(3600, 3 * _DAY)
            events.append((len(events) + 1, owner_id, draw.title(), icons, location, starts, ends))
    return events


def _owner_rank(plan: ProvisionPlan, rank: int) -> int:
    """``local``: the owner (0-based) whose events the requester of ``rank`` joins."""
    return rank * plan.owners // plan.requesters


def _chosen_events(plan: ProvisionPlan, draw: _Draw, rank: int, events: int) -> list[int]:
    """The events the requester of ``rank`` (0-based) asked to join."""
    if plan.layout == "pairs":
        return [rank + 1]
    if plan.layout == "local":
        # The events of one owner, as many as it has, then the next owner's.
        first = _owner_rank(plan, rank) * plan.events_per_owner
        per_owner = plan.events_per_owner
        return sorted(
            (
                first + (rank + k) % per_owner
                if plan.chats_per_requester <= per_owner
                else (first + k) % events
            )
            + 1
            for k in range(plan.chats_per_requester)
        )
    return sorted(draw.rng.sample(range(1, events + 1), plan.chats_per_requester))


def _group(plan: ProvisionPlan, user_id: int) -> str:
    """The users file's group: an owner and the requesters of its events, when the
    layout keeps them together (``local``, ``pairs``)."""
    if plan.layout == "random":
        return ""
    if user_id <= plan.owners:
        return str(user_id)
    rank = user_id - plan.owners - 1
    owner = rank if plan.layout == "pairs" else _owner_rank(plan, rank)
    return str(owner // plan.events_per_owner + 1 if plan.layout == "pairs" else owner + 1)


def _chats(plan: ProvisionPlan, draw: _Draw, events: int) -> list[ChatRow]:
    """The chats, with who wrote each message of their history; the messages
    themselves are drawn by the database's ``messages`` view (``server.store``)."""
    rng = draw.rng
    chats: list[ChatRow] = []
    for rank in range(plan.requesters):
        requester_id = plan.owners + 1 + rank
        for event_id in _chosen_events(plan, draw, rank, events):
            started_ms = (_BASE_EPOCH - rng.randrange(30 * _DAY)) * 1000
            authors = _authors(rng, plan.history)
            is_request = rng.random() < 0.7
            chats.append(
                (
                    len(chats) + 1,
                    draw.uuid(),
                    event_id,
                    requester_id,
                    is_request,
                    is_request and rng.random() < 0.5,
                    max(0, plan.history - rng.randint(0, 5)),
                    max(0, plan.history - rng.randint(0, 5)),
                    started_ms,
                    authors,
                )
            )
    return chats


def _authors(rng: random.Random, messages: int) -> str:
    """Who wrote each of ``messages``: ``o`` the owner, ``r`` the requester, even odds."""
    if not messages:
        return ""
    return format(rng.getrandbits(messages), f"0{messages}b").translate(_AUTHOR_LETTERS)
