"""What a person decides, drawn from the model. Pure: the same in a run and in a
simulation, so that a simulated export and a run follow one set of rules.

- **Turns.** After message ``m`` of chat ``c`` by a person of role X, the next message
  is by the same person (``same``), by the other side (``other``), or none: the burst
  ends (``end``). The draw is a hash of ``(c, m)`` into [0, 1), not a random number,
  so both sides of a chat reach the same answer without talking: only the
  designated writer acts, in whatever process it runs, whenever it sees ``m`` (on
  delivery, on its acknowledgement, or in ``initial_data`` at its next session).
- **Weights.** A person's activity weight is a hash of their user id through the
  weight family's quantile: the same person has the same weight in every session
  and every process.
- **Content, sessions, gaps.** Drawn from the role's families with the process's
  random generator.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

from chatload.traffic.model import RoleModel, TrafficModel
from chatload.users_file import Role, parse_role

__all__ = [
    "SessionPlan",
    "Turn",
    "TurnDue",
    "draw_content",
    "plan_session",
    "quiet_chats",
    "turn",
    "turn_gap",
    "weight_of",
]

Turn = Literal["same", "other", "end"]
T = TypeVar("T")
_SCALE: Final = float(1 << 64)


def uniform(*key: object) -> float:
    """A number in [0, 1) that depends only on ``key``."""
    digest = hashlib.blake2b(":".join(map(str, key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def turn(model: TrafficModel, chat_id: str, message_id: int, sender_role: str) -> Turn:
    scalars = model.roles["owner" if sender_role == "owner" else "requester"].scalars
    u = uniform("turn", chat_id, message_id)
    if u < scalars["next_other"]:
        return "other"
    if u < scalars["next_other"] + scalars["next_same"]:
        return "same"
    return "end"


def turn_gap(model: TrafficModel, writer_role: str, decided: Turn, rng: random.Random) -> float:
    """How long after the message the designated writer writes: below the burst gap
    (a longer silence would end the burst: the model's gaps live within one)."""
    role_model = model.roles["owner" if writer_role == "owner" else "requester"]
    family = role_model.family("same_sender_gap_s" if decided == "same" else "reply_gap_s")
    for _ in range(1000):
        gap = family.draw(rng)
        if gap < model.burst_gap_s:
            return gap
    return model.burst_gap_s * rng.random()  # a family with next to nothing below the gap


def quiet_chats(chats: list[tuple[T, float]], now: float, burst_gap_s: float) -> list[T]:
    """The chats a burst may start in: silent for longer than the burst gap (a new
    burst is not started inside a conversation that is going on)."""
    return [chat for chat, last_at in chats if now - last_at > burst_gap_s]


def weight_of(role_model: RoleModel, user_id: int) -> float:
    """A person's activity weight (mean 1 over people), the same everywhere."""
    u = min(max(uniform("weight", user_id), 1e-9), 1 - 1e-9)
    return role_model.family("weight").quantile(u)


# A carried turn's trigger (``traffic.carry_over``): one of the writer's chats, whatever
# was written there last.
CARRIED: Final = -1


@dataclass(frozen=True, slots=True)
class TurnDue:
    """The next message of ``chat_id`` after ``trigger`` is ``user_id``'s, at ``due``
    (wall seconds)."""

    user_id: int
    role: Role
    chat_id: str
    trigger: int
    due: float

    def to_wire(self) -> list[object]:
        return [self.user_id, self.role, self.chat_id, self.trigger, self.due]

    @classmethod
    def from_wire(cls, item: list[Any]) -> TurnDue:
        user_id, role, chat_id, trigger, due = item
        return cls(int(user_id), parse_role(str(role)), str(chat_id), int(trigger), float(due))


@dataclass(frozen=True, slots=True)
class SessionPlan:
    duration: float  # seconds online
    pages: int  # history pages to load at the start (0: none)


def plan_session(role_model: RoleModel, rng: random.Random) -> SessionPlan:
    duration = role_model.family("duration_s").draw(rng)
    pages = 0
    if rng.random() < role_model.scalar("page_back_share"):
        pages = role_model.family("pages").count(rng)
    return SessionPlan(duration, pages)


def draw_content(role_model: RoleModel, rng: random.Random) -> tuple[int, int]:
    """(characters, photos) of one message."""
    length = role_model.family("text_length").count(rng)
    photos = 0
    if rng.random() < role_model.scalar("photo_share"):
        photos = role_model.family("photos").count(rng)
    return length, photos
